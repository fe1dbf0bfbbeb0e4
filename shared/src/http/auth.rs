//! Bearer tokens: minted once (the caller sees the token one time), stored as a SHA-256
//! hash with a name and scopes, compared in constant time, revocable.
//!
//! A route is protected by [`protect`] with the scope it needs; [`Principal`] (the token's
//! name and scopes) is then available to the handler as an extension. A token is 32
//! random bytes (the thread-local CSPRNG, seeded from the OS) as hex after `dp_`, so a
//! hash lookup reveals nothing and a leaked database does not leak usable tokens.

use axum::{
    Router,
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::{Next, from_fn_with_state},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;
use subtle::ConstantTimeEq;

use super::ApiError;

/// What every token starts with (lets secret scanners recognise a leaked one).
pub const TOKEN_PREFIX: &str = "dp_";

/// The caller a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: u64,
    pub name: String,
    pub scopes: Vec<String>,
}

/// A freshly minted token: `token` is shown once and stored nowhere.
#[derive(Debug, Clone, Serialize)]
pub struct MintedToken {
    pub id: u64,
    pub name: String,
    pub scopes: Vec<String>,
    pub token: String,
}

/// A token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    pub scopes: String,
    pub created_at: chrono::NaiveDateTime,
    pub revoked_at: Option<chrono::NaiveDateTime>,
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

/// Mints a token named `name` with `scopes`.
///
/// # Errors
/// A malformed name or scope, a name in use, or the database error.
pub async fn mint(
    pool: &MySqlPool,
    name: &str,
    scopes: &[String],
) -> Result<MintedToken, TokenAdminError> {
    if name.trim().is_empty() || name.chars().count() > 128 {
        return Err(TokenAdminError::InvalidName);
    }
    if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
        return Err(TokenAdminError::InvalidScope(bad.clone()));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    let inserted = sqlx::query(
        "INSERT INTO api_token (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(name)
    .bind(hash_token(&token))
    .bind(scopes.join(" "))
    .bind(Utc::now().naive_utc())
    .execute(pool)
    .await;
    match inserted {
        Ok(done) => Ok(MintedToken {
            id: done.last_insert_id(),
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            token,
        }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(TokenAdminError::NameTaken(name.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes the token named `name`; false when there is none or it was revoked already.
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
    sqlx::query_as("SELECT id, name, scopes, created_at, revoked_at FROM api_token ORDER BY id")
        .fetch_all(pool)
        .await
}

/// The principal of an `Authorization: Bearer …` header value.
///
/// # Errors
/// [`ApiError::Unauthorized`] for a missing, malformed, unknown or revoked token.
pub async fn authenticate(pool: &MySqlPool, header: Option<&str>) -> Result<Principal, ApiError> {
    let header = header.ok_or(ApiError::Unauthorized("a bearer token is required"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 256)
        .ok_or(ApiError::Unauthorized("malformed bearer token"))?;
    let hash = hash_token(token);
    let row: Option<(u64, String, String, String, Option<chrono::NaiveDateTime>)> = sqlx::query_as(
        "SELECT id, name, token_hash, scopes, revoked_at FROM api_token WHERE token_hash = ?",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    let Some((token_id, name, stored, scopes, revoked_at)) = row else {
        return Err(ApiError::Unauthorized("unknown token"));
    };
    if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
        return Err(ApiError::Unauthorized("unknown token"));
    }
    if revoked_at.is_some() {
        return Err(ApiError::Unauthorized("revoked token"));
    }
    Ok(Principal {
        token_id,
        name,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
    })
}

/// What a protected route requires.
#[derive(Clone)]
struct Requirement {
    pool: MySqlPool,
    scope: &'static str,
}

async fn check(State(required): State<Requirement>, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match authenticate(&required.pool, header).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    if !principal.scopes.iter().any(|s| s == required.scope) {
        return ApiError::Forbidden(required.scope).into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Protects every route of `router` (added so far) with a token holding `scope`.
pub fn protect<S>(router: Router<S>, pool: MySqlPool, scope: &'static str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(from_fn_with_state(Requirement { pool, scope }, check))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
