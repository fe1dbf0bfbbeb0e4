//! API tokens against a real database: expiry (exact, even for a cached token), revocation
//! within the look-up cache's TTL (immediate with TTL 0), one SELECT and at most one
//! `last_used_at` write per TTL however many requests, a failed `last_used_at` write that
//! does not fail the request, and the `api-token` tool's mint / list / revoke round trip.

use std::time::Duration;

use axum::{
    Extension, Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode},
    routing::get,
};
use cctv_api::{AppState, CctvSettings};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use clap::Parser;
use common::{
    db,
    http::{
        self, ApiResult,
        auth::{self, Principal, Tokens},
        ok,
    },
};
use platform_tools::api_token::{Cli, ToolError, run};
use serde_json::Value;
use sqlx::{MySqlPool, Row};
use tower::ServiceExt;

use crate::support::TestDb;

const SCOPE: &str = "test:read";

async fn whoami(Extension(principal): Extension<Principal>) -> ApiResult<String> {
    Ok(ok(principal.name))
}

/// The smallest protected API: `GET /whoami` (scope `test:read`) answers the token's name.
/// Its handler reads nothing, so every query the server counts is the middleware's.
fn app(tokens: Tokens) -> Router {
    http::finish(
        auth::protect(Router::new().route("/whoami", get(whoami)), tokens, SCOPE),
        http::DEFAULT_BODY_LIMIT,
    )
}

/// Status, `code` and `errmsg` of one request through `router`.
async fn call(router: &Router, method: &str, uri: &str, token: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(if method == "POST" {
            r#"{"counts":[]}"#
        } else {
            ""
        }))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("an envelope");
    (status, body)
}

async fn whoami_as(router: &Router, token: &str) -> (StatusCode, Value) {
    call(router, "GET", "/whoami", token).await
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The server's per-connection statement counters. `SHOW` is counted as neither a SELECT
/// nor an UPDATE, so reading them does not move them.
async fn counters(pool: &MySqlPool) -> (u64, u64) {
    let rows =
        sqlx::raw_sql("SHOW SESSION STATUS WHERE Variable_name IN ('Com_select', 'Com_update')")
            .fetch_all(pool)
            .await
            .expect("session status");
    let value = |name: &str| -> u64 {
        rows.iter()
            .find(|r| r.get::<String, _>(0).eq_ignore_ascii_case(name))
            .map(|r| r.get::<String, _>(1).parse().expect("a count"))
            .unwrap_or_else(|| panic!("{name} is reported"))
    };
    (value("Com_select"), value("Com_update"))
}

async fn last_used_at(pool: &MySqlPool, name: &str) -> Option<NaiveDateTime> {
    sqlx::query_scalar("SELECT last_used_at FROM api_token WHERE name = ?")
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("token row")
}

#[tokio::test]
async fn an_expired_token_answers_401_expired_token_even_while_cached() {
    let db = TestDb::new().await;
    // The longest TTL: the expiry must still be exact.
    let router = app(Tokens::new(db.pool.clone(), Duration::from_secs(60)));
    let expires_at = Utc::now() + TimeDelta::milliseconds(1500);
    let minted = auth::mint_expiring(&db.pool, "short", &scopes(&[SCOPE]), Some(expires_at))
        .await
        .expect("mint");
    assert_eq!(minted.expires_at, Some(expires_at));
    let (status, body) = whoami_as(&router, &minted.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], "short");

    // The row is cached now; wait past its expiry and ask again.
    let wait = (expires_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100);
    tokio::time::sleep(wait).await;
    let (status, body) = whoami_as(&router, &minted.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], 4010);
    assert_eq!(body["errmsg"], "expired token");

    // A token already expired when first seen (its row changed by hand) answers the same.
    let old = auth::mint(&db.pool, "old", &scopes(&[SCOPE]))
        .await
        .expect("mint");
    sqlx::query("UPDATE api_token SET expires_at = ? WHERE name = 'old'")
        .bind((Utc::now() - TimeDelta::days(1)).naive_utc())
        .execute(&db.pool)
        .await
        .expect("expire by hand");
    let (status, body) = whoami_as(&router, &old.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errmsg"], "expired token");
    // An expired token is not "used": its last use is not recorded.
    assert_eq!(last_used_at(&db.pool, "old").await, None);

    // An expiry in the past cannot be minted.
    let refused = auth::mint_expiring(
        &db.pool,
        "past",
        &scopes(&[SCOPE]),
        Some(Utc::now() - TimeDelta::seconds(1)),
    )
    .await;
    assert!(matches!(
        refused,
        Err(auth::TokenAdminError::ExpiryNotInFuture(_))
    ));
}

#[tokio::test]
async fn a_revoked_token_stops_working_within_the_cache_ttl() {
    let db = TestDb::new().await;
    let ttl = Duration::from_secs(1);
    // Through the CCTV API itself, as deployed, with a one-second TTL.
    let router = cctv_api::router_with_tokens(
        AppState {
            pool: db.pool.clone(),
            settings: CctvSettings::default(),
        },
        Tokens::new(db.pool.clone(), ttl),
    );
    let token = auth::mint(&db.pool, "writer", &scopes(&["cctv:write"]))
        .await
        .expect("mint")
        .token;
    let post = |token: String| {
        let router = router.clone();
        async move { call(&router, "POST", "/cctv/counts", &token).await }
    };
    let (status, body) = post(token.clone()).await;
    assert_ne!(status, StatusCode::UNAUTHORIZED, "{body}");
    let revoked_at = std::time::Instant::now();
    assert!(auth::revoke(&db.pool, "writer").await.expect("revoke"));

    // Within the TTL this environment may still accept it (the documented window)...
    let (status, _) = post(token.clone()).await;
    if revoked_at.elapsed() < ttl {
        assert_ne!(status, StatusCode::UNAUTHORIZED, "served from the cache");
    }
    // ...and once the TTL has passed it is refused.
    tokio::time::sleep(ttl.saturating_sub(revoked_at.elapsed()) + Duration::from_millis(50)).await;
    let (status, body) = post(token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errmsg"], "revoked token");
}

#[tokio::test]
async fn with_ttl_zero_a_revocation_is_immediate() {
    let db = TestDb::new().await;
    let router = app(Tokens::new(db.pool.clone(), Duration::ZERO));
    let token = auth::mint(&db.pool, "reader", &scopes(&[SCOPE]))
        .await
        .expect("mint")
        .token;
    assert_eq!(whoami_as(&router, &token).await.0, StatusCode::OK);
    assert!(auth::revoke(&db.pool, "reader").await.expect("revoke"));
    let (status, body) = whoami_as(&router, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errmsg"], "revoked token");
}

#[tokio::test]
async fn requests_within_one_ttl_cost_one_select_and_one_last_used_write() {
    let db = TestDb::new().await;
    // One connection, so the session counters see every statement the middleware sends.
    let mut one = db.settings.clone();
    one.max_connections = 1;
    let pool = db::connect(&one).await.expect("one-connection pool");
    let ttl = Duration::from_secs(2);
    let router = app(Tokens::new(pool.clone(), ttl));
    let token = auth::mint(&db.pool, "hot", &scopes(&[SCOPE]))
        .await
        .expect("mint")
        .token;

    let (selects, updates) = counters(&pool).await;
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let (status, body) = whoami_as(&router, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(started.elapsed() < ttl, "the 50 requests fit in one TTL");
    let (selects_after, updates_after) = counters(&pool).await;
    assert_eq!(selects_after - selects, 1, "one look-up for 50 requests");
    assert_eq!(updates_after - updates, 1, "one last_used_at write");
    let first_use = last_used_at(&db.pool, "hot")
        .await
        .expect("last use recorded");

    // Garbage tokens: the unknown answer is cached too (one SELECT for 20 requests, no
    // write).
    let garbage = format!("dp_{}", "0".repeat(64));
    for _ in 0..20 {
        let (status, body) = whoami_as(&router, &garbage).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["errmsg"], "unknown token");
    }
    let (selects_garbage, updates_garbage) = counters(&pool).await;
    assert_eq!(selects_garbage - selects_after, 1);
    assert_eq!(updates_garbage, updates_after);

    // After the TTL the row is read again, and the use recorded again.
    tokio::time::sleep(ttl.saturating_sub(started.elapsed()) + Duration::from_millis(100)).await;
    assert_eq!(whoami_as(&router, &token).await.0, StatusCode::OK);
    let (selects_later, updates_later) = counters(&pool).await;
    assert_eq!(selects_later - selects_garbage, 1);
    assert_eq!(updates_later - updates_garbage, 1);
    assert!(last_used_at(&db.pool, "hot").await.expect("recorded") > first_use);
    pool.close().await;
}

#[tokio::test]
async fn a_failed_last_used_write_does_not_fail_the_request() {
    let db = TestDb::new().await;
    let router = app(Tokens::new(db.pool.clone(), Duration::ZERO));
    let token = auth::mint(&db.pool, "reader", &scopes(&[SCOPE]))
        .await
        .expect("mint")
        .token;
    // The look-up does not read last_used_at; without the column only the write fails.
    sqlx::query("ALTER TABLE api_token DROP COLUMN last_used_at")
        .execute(&db.pool)
        .await
        .expect("drop the column");
    let (status, body) = whoami_as(&router, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], "reader");
}

/// Runs the tool's command line; (result, standard output, standard error).
async fn tool(pool: &MySqlPool, args: &[&str]) -> (Result<(), ToolError>, String, String) {
    let cli = Cli::try_parse_from(std::iter::once("api-token").chain(args.iter().copied()))
        .expect("the command line parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = run(pool, cli.command, &mut out, &mut err).await;
    (
        result,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

#[tokio::test]
async fn the_api_token_tool_mints_lists_and_revokes_without_showing_tokens() {
    let db = TestDb::new().await;
    let router = app(Tokens::new(db.pool.clone(), Duration::ZERO));

    let (minted, out, err) = tool(
        &db.pool,
        &[
            "mint",
            "--name",
            "video-team",
            "--scope",
            SCOPE,
            "--scope",
            "cctv:write",
            "--expires-in",
            "90d",
        ],
    )
    .await;
    minted.expect("mint");
    let token = out.trim().to_owned();
    assert!(token.starts_with("dp_") && token.len() == 67, "{out:?}");
    assert!(
        err.contains("video-team") && err.contains("expires "),
        "{err}"
    );
    assert!(!err.contains(&token), "the token only on standard output");
    let (quiet, quiet_out, quiet_err) = tool(
        &db.pool,
        &["mint", "--name", "ci", "--scope", SCOPE, "--quiet"],
    )
    .await;
    quiet.expect("quiet mint");
    assert!(quiet_out.trim().starts_with("dp_") && quiet_err.is_empty());

    // The minted token works, and its expiry is 90 days out.
    let (status, body) = whoami_as(&router, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expires: NaiveDateTime =
        sqlx::query_scalar("SELECT expires_at FROM api_token WHERE name = 'video-team'")
            .fetch_one(&db.pool)
            .await
            .expect("expiry stored");
    let days = (expires - Utc::now().naive_utc()).num_hours() as f64 / 24.0;
    assert!((89.9..=90.0).contains(&days), "{days}");

    // list: both tokens, their state and dates, and no token or hash.
    let (listed, list, _) = tool(&db.pool, &["list"]).await;
    listed.expect("list");
    let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_token")
        .fetch_all(&db.pool)
        .await
        .expect("hashes");
    for secret in [&token[3..], quiet_out.trim(), &quiet_out.trim()[3..]]
        .into_iter()
        .chain(hashes.iter().map(String::as_str))
    {
        assert!(!list.contains(secret), "list shows a secret:\n{list}");
    }
    assert!(
        list.contains("last_used_at") && list.contains("expires_at"),
        "{list}"
    );
    let line = list
        .lines()
        .find(|l| l.contains("video-team"))
        .expect("video-team listed");
    assert!(line.contains("active"), "{line}");
    assert!(
        line.contains(&expires.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "{line}"
    );
    let used = last_used_at(&db.pool, "video-team")
        .await
        .expect("used once");
    assert!(
        line.contains(&used.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "{line}"
    );

    // revoke: refused from then on (TTL 0 here), listed as revoked, a second revoke fails.
    let (revoked, _, _) = tool(&db.pool, &["revoke", "--name", "video-team"]).await;
    revoked.expect("revoke");
    let (status, body) = whoami_as(&router, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errmsg"], "revoked token");
    let (_, list, _) = tool(&db.pool, &["list"]).await;
    assert!(
        list.lines()
            .any(|l| l.contains("video-team") && l.contains("revoked")),
        "{list}"
    );
    let (again, _, _) = tool(&db.pool, &["revoke", "--name", "video-team"]).await;
    assert!(matches!(again, Err(ToolError::NoActiveToken(_))));

    // A taken name is refused.
    let (taken, _, _) = tool(&db.pool, &["mint", "--name", "ci", "--scope", SCOPE]).await;
    assert!(matches!(
        taken,
        Err(ToolError::Admin(auth::TokenAdminError::NameTaken(_)))
    ));
}
