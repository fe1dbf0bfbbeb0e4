//! Bearer tokens: minted once (the caller sees the token one time), stored as a SHA-256
//! hash with a name, scopes and an optional expiry, compared in constant time, revocable.
//!
//! A route is protected by [`protect`] with the scope it needs and the execution
//! environment's [`Tokens`] (the look-up cache); [`Principal`] (the token's name and
//! scopes) is then available to the handler as an extension, or as an extractor argument
//! (`principal: Principal`). A token is 32 random bytes
//! (the thread-local CSPRNG, seeded from the OS) as hex after `dp_`, so a hash lookup
//! reveals nothing and a leaked database does not leak usable tokens.
//!
//! # The look-up cache
//! A hot API must not cost one extra query per request, so [`Tokens`] keeps what a token
//! hash resolved to (the token's row, or "unknown") for `API_TOKEN_CACHE_SECS` (default 30,
//! at most 60; [`TokenCacheSettings`]), keyed by the hash, never the token. Consequences,
//! documented for operators:
//! - a **revocation** takes effect within the TTL (each execution environment re-reads the
//!   row when its entry is older than the TTL; TTL 0 re-reads on every request);
//! - an **expiry** is exact: the cached `expires_at` is compared with the clock on every
//!   request;
//! - `last_used_at` is written when an environment (re)loads a valid token, so at most once
//!   per TTL per environment, never per request; a failed write is logged, the request goes
//!   on.
//!
//! Lambda runs one request at a time per execution environment, so two concurrent misses
//! for one token (two SELECTs) cannot happen there; in a multi-request server they would
//! only cost one extra query.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{FromRequestParts, Request, State},
    http::{header::AUTHORIZATION, request::Parts},
    middleware::{Next, from_fn_with_state},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDateTime, Utc};
use lru::LruCache;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::config::{ConfigError, env_or};

/// What every token starts with (lets secret scanners recognise a leaked one).
pub const TOKEN_PREFIX: &str = "dp_";

/// The variable holding the cache TTL in seconds.
pub const TOKEN_CACHE_SECS_VAR: &str = "API_TOKEN_CACHE_SECS";

/// Most token rows one execution environment keeps. Tokens are minted by hand, a few per
/// client, so this is far above any real count; it only bounds memory.
const KNOWN_CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

/// Most "unknown token" answers kept. A separate, bounded cache: garbage tokens evict only
/// each other (never a valid token's entry) and cannot grow memory (~200 bytes each).
const UNKNOWN_CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

/// The caller a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: u64,
    pub name: String,
    pub scopes: Vec<String>,
}

/// A handler's caller: the principal [`protect`] put in the request. On a route that
/// [`protect`] does not cover there is none, and the request answers 401 (a route wired
/// without protection fails closed).
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized("a bearer token is required"))
    }
}

/// A freshly minted token: `token` is shown once and stored nowhere.
#[derive(Debug, Clone, Serialize)]
pub struct MintedToken {
    pub id: u64,
    pub name: String,
    pub scopes: Vec<String>,
    /// UTC; `None` when the token does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub token: String,
}

/// A token as listed (never the token itself). Times are UTC.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    /// When an execution environment last loaded the token for a request (at most once per
    /// cache TTL per environment, so "used around then").
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl TokenInfo {
    /// `revoked`, `expired` or `active` at `now` (UTC).
    pub fn state(&self, now: NaiveDateTime) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// Token administration errors.
#[derive(Debug, thiserror::Error)]
pub enum TokenAdminError {
    #[error("invalid scope {0:?}: scopes look like `cctv:write`")]
    InvalidScope(String),
    #[error("a token needs a name of 1 to 128 characters")]
    InvalidName,
    #[error("a token named {0:?} exists already")]
    NameTaken(String),
    #[error("the expiry {0} is not in the future")]
    ExpiryNotInFuture(DateTime<Utc>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn valid_scope(scope: &str) -> bool {
    let mut parts = scope.split(':');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Mints a token named `name` with `scopes` that does not expire.
///
/// # Errors
/// A malformed name or scope, a name in use, or the database error.
pub async fn mint(
    pool: &MySqlPool,
    name: &str,
    scopes: &[String],
) -> Result<MintedToken, TokenAdminError> {
    mint_expiring(pool, name, scopes, None).await
}

/// Mints a token named `name` with `scopes`, valid until `expires_at` when given.
///
/// # Errors
/// A malformed name or scope, an expiry not in the future, a name in use, or the database
/// error.
pub async fn mint_expiring(
    pool: &MySqlPool,
    name: &str,
    scopes: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> Result<MintedToken, TokenAdminError> {
    if name.trim().is_empty() || name.chars().count() > 128 {
        return Err(TokenAdminError::InvalidName);
    }
    if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
        return Err(TokenAdminError::InvalidScope(bad.clone()));
    }
    let now = Utc::now();
    if let Some(at) = expires_at.filter(|at| *at <= now) {
        return Err(TokenAdminError::ExpiryNotInFuture(at));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    let inserted = sqlx::query(
        "INSERT INTO api_token (name, token_hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(name)
    .bind(hash_token(&token))
    .bind(scopes.join(" "))
    .bind(now.naive_utc())
    .bind(expires_at.map(|at| at.naive_utc()))
    .execute(pool)
    .await;
    match inserted {
        Ok(done) => Ok(MintedToken {
            id: done.last_insert_id(),
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            expires_at,
            token,
        }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(TokenAdminError::NameTaken(name.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes the token named `name`; false when there is none or it was revoked already.
/// Execution environments that cached the token stop accepting it within their TTL.
///
/// # Errors
/// The database error.
pub async fn revoke(pool: &MySqlPool, name: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE api_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
            .bind(Utc::now().naive_utc())
            .bind(name)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Every token, without secrets.
///
/// # Errors
/// The database error.
pub async fn list(pool: &MySqlPool) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, scopes, created_at, expires_at, last_used_at, revoked_at \
         FROM api_token ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// How long token look-ups are cached (`API_TOKEN_CACHE_SECS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheSettings {
    pub ttl: Duration,
}

impl Default for TokenCacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(Self::DEFAULT_SECS),
        }
    }
}

impl TokenCacheSettings {
    /// The TTL when the variable is unset.
    pub const DEFAULT_SECS: u64 = 30;
    /// The longest TTL: the promise to operators that a revocation works within a minute.
    pub const MAX_SECS: u64 = 60;

    /// Reads `API_TOKEN_CACHE_SECS` (0 turns the cache off).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when it is not a whole number of seconds or is over 60.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_secs(env_or(TOKEN_CACHE_SECS_VAR, Self::DEFAULT_SECS)?)
    }

    /// A TTL of `secs` seconds.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when `secs` is over [`Self::MAX_SECS`].
    pub fn from_secs(secs: u64) -> Result<Self, ConfigError> {
        if secs > Self::MAX_SECS {
            return Err(ConfigError::Invalid {
                name: TOKEN_CACHE_SECS_VAR,
                value: secs.to_string(),
                reason: format!(
                    "at most {} seconds: a revoked token keeps working for up to this long",
                    Self::MAX_SECS
                ),
            });
        }
        Ok(Self {
            ttl: Duration::from_secs(secs),
        })
    }
}

/// A token's row as the middleware needs it.
#[derive(Debug)]
struct StoredToken {
    id: u64,
    name: String,
    scopes: Vec<String>,
    expires_at: Option<NaiveDateTime>,
    revoked: bool,
}

/// What one hash resolved to, and when.
struct Entry<T> {
    loaded: Instant,
    value: T,
}

/// The two bounded caches. A small `Mutex` around `lru` (already linked through the AWS SDK,
/// so no new dependency) rather than `moka`: the expiry rule is ours anyway (exact
/// `expires_at`, TTL per entry), the lock is never held across an await and Lambda serves
/// one request at a time, so a concurrent cache would add code size for nothing.
struct Cache {
    known: LruCache<String, Entry<Arc<StoredToken>>>,
    unknown: LruCache<String, Entry<()>>,
}

/// A cached answer: a token row, or "no such token".
type Resolved = Option<Arc<StoredToken>>;

impl Cache {
    fn new(known: NonZeroUsize, unknown: NonZeroUsize) -> Self {
        Self {
            known: LruCache::new(known),
            unknown: LruCache::new(unknown),
        }
    }

    /// The fresh entry for `hash`, if any (`Some(None)`: known to be unknown).
    fn get(&mut self, hash: &str, ttl: Duration) -> Option<Resolved> {
        if let Some(entry) = self.known.get(hash) {
            if entry.loaded.elapsed() < ttl {
                return Some(Some(Arc::clone(&entry.value)));
            }
            self.known.pop(hash);
        }
        if let Some(entry) = self.unknown.get(hash) {
            if entry.loaded.elapsed() < ttl {
                return Some(None);
            }
            self.unknown.pop(hash);
        }
        None
    }

    fn put(&mut self, hash: String, resolved: Resolved, loaded: Instant) {
        match resolved {
            Some(value) => {
                self.unknown.pop(&hash);
                self.known.put(hash, Entry { loaded, value });
            }
            None => {
                self.known.pop(&hash);
                self.unknown.put(hash, Entry { loaded, value: () });
            }
        }
    }

    fn len(&self) -> usize {
        self.known.len() + self.unknown.len()
    }
}

/// The token look-ups of one execution environment: the pool and the bounded TTL cache.
/// Build it once (at start-up) and clone it into every [`protect`]: clones share the cache.
#[derive(Clone)]
pub struct Tokens {
    inner: Arc<TokensInner>,
}

struct TokensInner {
    pool: MySqlPool,
    ttl: Duration,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Look-ups through `pool`, cached for `ttl` (capped at [`TokenCacheSettings::MAX_SECS`];
    /// zero: every request reads the row).
    pub fn new(pool: MySqlPool, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(TokensInner {
                pool,
                ttl: ttl.min(Duration::from_secs(TokenCacheSettings::MAX_SECS)),
                cache: Mutex::new(Cache::new(KNOWN_CAPACITY, UNKNOWN_CAPACITY)),
            }),
        }
    }

    /// Look-ups with the TTL of `API_TOKEN_CACHE_SECS`.
    ///
    /// # Errors
    /// The variable's [`ConfigError`].
    pub fn from_env(pool: MySqlPool) -> Result<Self, ConfigError> {
        Ok(Self::new(pool, TokenCacheSettings::from_env()?.ttl))
    }

    /// The cache TTL in force.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// How many hashes (valid, revoked, expired or unknown) are cached now.
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the LRU half-updated in a way that
        // matters (at worst an entry is missing), so a poisoned lock is used as is.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The principal of an `Authorization: Bearer …` header value.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for a missing, malformed, unknown, revoked or expired
    /// token; [`ApiError::Internal`] when the database cannot be read.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal, ApiError> {
        let header = header.ok_or(ApiError::Unauthorized("a bearer token is required"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 256)
            .ok_or(ApiError::Unauthorized("malformed bearer token"))?;
        let hash = hash_token(token);
        let cached = if self.inner.ttl.is_zero() {
            None
        } else {
            self.lock().get(&hash, self.inner.ttl)
        };
        let resolved = match cached {
            Some(resolved) => resolved,
            None => self.load(hash).await?,
        };
        let stored = resolved.ok_or(ApiError::Unauthorized("unknown token"))?;
        if stored.revoked {
            return Err(ApiError::Unauthorized("revoked token"));
        }
        // Against the clock on every request, cached or not: an expiry is exact.
        if stored
            .expires_at
            .is_some_and(|at| at <= Utc::now().naive_utc())
        {
            return Err(ApiError::Unauthorized("expired token"));
        }
        Ok(Principal {
            token_id: stored.id,
            name: stored.name.clone(),
            scopes: stored.scopes.clone(),
        })
    }

    /// Reads the row of `hash`, records the use of a valid token and caches the answer.
    async fn load(&self, hash: String) -> Result<Resolved, ApiError> {
        let loaded = Instant::now();
        type Row = (
            u64,
            String,
            String,
            String,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, name, token_hash, scopes, expires_at, revoked_at \
             FROM api_token WHERE token_hash = ?",
        )
        .bind(&hash)
        .fetch_optional(&self.inner.pool)
        .await?;
        let resolved = row
            .filter(|(_, _, stored, ..)| bool::from(stored.as_bytes().ct_eq(hash.as_bytes())))
            .map(|(id, name, _, scopes, expires_at, revoked_at)| {
                Arc::new(StoredToken {
                    id,
                    name,
                    scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                    expires_at,
                    revoked: revoked_at.is_some(),
                })
            });
        if let Some(stored) = &resolved {
            let now = Utc::now().naive_utc();
            if !stored.revoked && stored.expires_at.is_none_or(|at| at > now) {
                self.record_use(stored.id, now).await;
            }
        }
        if !self.inner.ttl.is_zero() {
            self.lock().put(hash, resolved.clone(), loaded);
        }
        Ok(resolved)
    }

    /// Writes `last_used_at`. Bookkeeping only: a failure is logged and the request goes on.
    async fn record_use(&self, token_id: u64, now: NaiveDateTime) {
        let written = sqlx::query("UPDATE api_token SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(token_id)
            .execute(&self.inner.pool)
            .await;
        if let Err(error) = written {
            tracing::warn!(
                token_id,
                error = %crate::error::error_chain(&error),
                "could not record the token's last use; the request goes on"
            );
        }
    }
}

/// What a protected route requires.
#[derive(Clone)]
struct Requirement {
    tokens: Tokens,
    scope: &'static str,
}

async fn check(State(required): State<Requirement>, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match required.tokens.authenticate(header).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    if !principal.scopes.iter().any(|s| s == required.scope) {
        return ApiError::Forbidden(required.scope).into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Protects every route of `router` (added so far) with a token holding `scope`, looked up
/// through `tokens` (a clone of the environment's one [`Tokens`], so all routes share its
/// cache).
pub fn protect<S>(router: Router<S>, tokens: Tokens, scope: &'static str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(from_fn_with_state(Requirement { tokens, scope }, check))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_principal_extractor_reads_what_protect_put_and_fails_closed() {
        let request = axum::http::Request::builder()
            .uri("/x")
            .body(())
            .expect("request");
        let (mut parts, ()) = request.into_parts();
        let missing = Principal::from_request_parts(&mut parts, &()).await;
        assert!(
            matches!(missing, Err(ApiError::Unauthorized(_))),
            "{missing:?}"
        );
        let principal = Principal {
            token_id: 7,
            name: "etl-team".into(),
            scopes: vec!["sync:admin".into()],
        };
        parts.extensions.insert(principal.clone());
        let found = Principal::from_request_parts(&mut parts, &())
            .await
            .expect("present");
        assert_eq!(found, principal);
    }

    #[test]
    fn scopes_are_resource_colon_action() {
        assert!(valid_scope("cctv:write"));
        assert!(valid_scope("ad-admin:read"));
        for bad in [
            "cctv",
            "cctv:",
            ":read",
            "cctv:write:x",
            "CCTV:read",
            "cctv read",
        ] {
            assert!(!valid_scope(bad), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_hex_sha256() {
        assert_eq!(hash_token("dp_x").len(), 64);
        assert_ne!(hash_token("dp_x"), hash_token("dp_y"));
    }

    #[test]
    fn the_cache_ttl_is_at_most_a_minute() {
        assert_eq!(
            TokenCacheSettings::from_secs(60)
                .expect("60 s is allowed")
                .ttl,
            Duration::from_secs(60)
        );
        assert_eq!(
            TokenCacheSettings::from_secs(0)
                .expect("0 turns the cache off")
                .ttl,
            Duration::ZERO
        );
        let refused = TokenCacheSettings::from_secs(61)
            .expect_err("61 s is refused")
            .to_string();
        assert!(refused.contains("API_TOKEN_CACHE_SECS"), "{refused}");
        assert!(refused.contains("at most 60 seconds"), "{refused}");
        assert_eq!(TokenCacheSettings::default().ttl, Duration::from_secs(30));
    }

    fn token(id: u64) -> Resolved {
        Some(Arc::new(StoredToken {
            id,
            name: format!("t{id}"),
            scopes: vec![],
            expires_at: None,
            revoked: false,
        }))
    }

    #[test]
    fn garbage_tokens_cannot_grow_the_cache_or_evict_valid_ones() {
        let cap = NonZeroUsize::new(8).expect("non-zero");
        let mut cache = Cache::new(cap, cap);
        let ttl = Duration::from_secs(30);
        let now = Instant::now();
        cache.put("valid".into(), token(1), now);
        for i in 0..1000 {
            cache.put(format!("garbage-{i}"), None, now);
        }
        assert_eq!(cache.unknown.len(), 8);
        assert_eq!(cache.len(), 9);
        assert!(matches!(cache.get("valid", ttl), Some(Some(t)) if t.id == 1));
        assert!(matches!(cache.get("garbage-999", ttl), Some(None)));
        assert!(cache.get("garbage-0", ttl).is_none(), "evicted, so a miss");
    }

    #[test]
    fn entries_older_than_the_ttl_are_misses_and_dropped() {
        let cap = NonZeroUsize::new(8).expect("non-zero");
        let mut cache = Cache::new(cap, cap);
        let ttl = Duration::from_millis(50);
        let old = Instant::now()
            .checked_sub(Duration::from_millis(60))
            .expect("the monotonic clock is past 60 ms");
        cache.put("old".into(), token(1), old);
        cache.put("gone".into(), None, old);
        cache.put("fresh".into(), token(2), Instant::now());
        assert!(cache.get("old", ttl).is_none());
        assert!(cache.get("gone", ttl).is_none());
        assert!(cache.get("fresh", ttl).is_some());
        assert_eq!(cache.len(), 1);
    }
}
