//! The public hot routes: `GET /v1/oper/ad_style`, `GET|POST /v1/oper/show`,
//! `GET|POST /v1/oper/click`. No token; answered from the [`crate::catalog`] snapshot.
//!
//! # Counting
//! An accepted hit becomes one [`HitEvent`] sent to the counter queue before the answer: a
//! 2xx means the event is in SQS and will be counted (exactly once, by the worker); when
//! SQS does not take it the answer is 503, never a silent loss. An unknown code, or the
//! code of a disabled, not-yet-live or taken-down ad, answers 404 and is not counted.
//!
//! # Visitors
//! The identity hashed into [`HitEvent::visitor`] (SHA-256 with `AD_VISITOR_SALT`; the raw
//! value is never sent or stored) is, in order:
//! 1. the `uid` parameter, when the client knows its user;
//! 2. the `adv_vid` cookie this API sets (`SameSite=None; Secure; HttpOnly`, a year);
//! 3. the source IP with the user agent. The cookie set on such a first hit holds that same
//!    hash, so a browser keeps its identity when its address changes; a browser that
//!    blocks third-party cookies stays on this rule, which over-counts visitors who share
//!    nothing but change address, and merges visitors behind one NAT with the same agent.
//!
//! A hit from an ignored user agent (`AD_IGNORED_USER_AGENTS`, crawlers by default) is
//! answered as usual (`counted: false`) and sends nothing.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use common::{
    ads::{HitEvent, HitKind, VisitorId},
    http::{ApiError, ApiQuery, ErrorEnvelope, ok},
    sqs::OutgoingMessage,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    catalog::{Device, LiveAd},
};

/// The visitor cookie's name.
pub const VISITOR_COOKIE: &str = "adv_vid";

/// The longest `uid`, `code` and `system` accepted.
const MAX_PARAM: usize = 128;

/// Query of `GET /v1/oper/ad_style`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdStyleQuery {
    /// The client site or app (`ad_style.system`).
    #[param(min_length = 1, max_length = 64)]
    pub system: String,
    /// Only ads shown on this device (`all` ads match every device).
    pub device: Option<Device>,
}

/// One live ad.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdOut {
    pub style_id: u64,
    pub image_name: String,
    pub image_url: String,
    pub link_url: String,
    pub weight: u32,
    pub device: String,
    pub show_code: String,
    pub click_code: String,
}

impl From<&LiveAd> for AdOut {
    fn from(ad: &LiveAd) -> Self {
        Self {
            style_id: ad.style_id,
            image_name: ad.image_name.clone(),
            image_url: ad.image_url.clone(),
            link_url: ad.link_url.clone(),
            weight: ad.weight,
            device: ad.device.clone(),
            show_code: ad.show_code.clone(),
            click_code: ad.click_code.clone(),
        }
    }
}

/// Every live ad of a system, heaviest first, with its codes.
#[utoipa::path(
    get,
    path = "/v1/oper/ad_style",
    tag = "public",
    params(AdStyleQuery),
    responses(
        (status = 200, description = "The live ads; Cache-Control max-age is what is left of the cached list's window", body = common::http::Envelope<Vec<AdOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)
    ),
    security(())
)]
pub async fn get_ad_style(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AdStyleQuery>,
) -> Result<Response, ApiError> {
    let system = query.system.trim();
    if system.is_empty() || system.chars().count() > 64 {
        return Err(ApiError::invalid("system", "1 to 64 characters"));
    }
    let (snapshot, fresh_for) = state.catalog.snapshot().await?;
    let now = chrono::Utc::now().naive_utc();
    let ads: Vec<AdOut> = snapshot
        .of_system(system)
        .iter()
        .filter(|ad| ad.is_live(now) && ad.shown_on(query.device))
        .map(|ad| AdOut::from(ad.as_ref()))
        .collect();
    let mut response = ok(ads).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={}", fresh_for.as_secs())) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}

/// Query of the show and click routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HitQuery {
    /// The ad's show code (show) or click code (click).
    #[param(min_length = 1, max_length = 128)]
    pub code: String,
    /// The client's own id for the visitor, when it has one.
    #[param(min_length = 1, max_length = 128)]
    pub uid: Option<String>,
    /// Click only: `0` answers 204 instead of redirecting to the ad's link.
    #[param(pattern = "^[01]$")]
    pub redirect: Option<String>,
}

/// What a counted (or ignored) hit answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HitOut {
    /// False for an ignored user agent.
    pub counted: bool,
    /// The event's id (absent when not counted).
    pub event_id: Option<String>,
}

/// Counts an impression.
#[utoipa::path(
    get,
    path = "/v1/oper/show",
    tag = "public",
    params(HitQuery),
    responses(
        (status = 200, description = "Counted (or ignored: counted false)", body = common::http::Envelope<HitOut>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 404, description = "No live ad has this show code", body = ErrorEnvelope),
        (status = 503, description = "The hit could not be queued; retry", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)
    ),
    security(())
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: Option<axum::Extension<lambda_http::request::RequestContext>>,
    ApiQuery(query): ApiQuery<HitQuery>,
) -> Result<Response, ApiError> {
    let (_ad, out, cookie) = hit(&state, &headers, context, &query, HitKind::Show).await?;
    Ok(with_cookie(ok(out).into_response(), cookie))
}

/// `POST /v1/oper/show`: the same as GET.
#[utoipa::path(
    post,
    path = "/v1/oper/show",
    tag = "public",
    params(HitQuery),
    responses(
        (status = 200, description = "Counted (or ignored: counted false)", body = common::http::Envelope<HitOut>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 404, description = "No live ad has this show code", body = ErrorEnvelope),
        (status = 503, description = "The hit could not be queued; retry", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)
    ),
    security(())
)]
pub async fn show_post(
    state: State<AppState>,
    headers: HeaderMap,
    context: Option<axum::Extension<lambda_http::request::RequestContext>>,
    query: ApiQuery<HitQuery>,
) -> Result<Response, ApiError> {
    show(state, headers, context, query).await
}

/// Counts a click; GET redirects to the ad's link (302) unless `redirect=0` (204).
#[utoipa::path(
    get,
    path = "/v1/oper/click",
    tag = "public",
    params(HitQuery),
    responses(
        (status = 302, description = "Counted (or ignored); Location is the ad's link"),
        (status = 204, description = "Counted (or ignored), with redirect=0"),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 404, description = "No live ad has this click code", body = ErrorEnvelope),
        (status = 503, description = "The hit could not be queued; retry", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)
    ),
    security(())
)]
pub async fn click(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: Option<axum::Extension<lambda_http::request::RequestContext>>,
    ApiQuery(query): ApiQuery<HitQuery>,
) -> Result<Response, ApiError> {
    let no_redirect = redirect_off(&query)?;
    let (ad, _out, cookie) = hit(&state, &headers, context, &query, HitKind::Click).await?;
    let response = if no_redirect {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut response = StatusCode::FOUND.into_response();
        let location = HeaderValue::from_str(&ad.link_url)
            .map_err(|_| ApiError::Internal("the ad's link is not a valid header value".into()))?;
        response.headers_mut().insert(header::LOCATION, location);
        response
    };
    Ok(with_cookie(response, cookie))
}

/// `POST /v1/oper/click`: counts a click and answers the envelope (no redirect).
#[utoipa::path(
    post,
    path = "/v1/oper/click",
    tag = "public",
    params(HitQuery),
    responses(
        (status = 200, description = "Counted (or ignored: counted false)", body = common::http::Envelope<HitOut>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 404, description = "No live ad has this click code", body = ErrorEnvelope),
        (status = 503, description = "The hit could not be queued; retry", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)
    ),
    security(())
)]
pub async fn click_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: Option<axum::Extension<lambda_http::request::RequestContext>>,
    ApiQuery(query): ApiQuery<HitQuery>,
) -> Result<Response, ApiError> {
    redirect_off(&query)?;
    let (_ad, out, cookie) = hit(&state, &headers, context, &query, HitKind::Click).await?;
    Ok(with_cookie(ok(out).into_response(), cookie))
}

fn redirect_off(query: &HitQuery) -> Result<bool, ApiError> {
    match query.redirect.as_deref() {
        None | Some("1") => Ok(false),
        Some("0") => Ok(true),
        Some(_) => Err(ApiError::invalid("redirect", "must be 0 or 1")),
    }
}

/// Looks the code up, works out the visitor, and queues the event.
async fn hit(
    state: &AppState,
    headers: &HeaderMap,
    context: Option<axum::Extension<lambda_http::request::RequestContext>>,
    query: &HitQuery,
    kind: HitKind,
) -> Result<(std::sync::Arc<LiveAd>, HitOut, Option<VisitorId>), ApiError> {
    if query.code.is_empty() || query.code.len() > MAX_PARAM {
        return Err(ApiError::invalid("code", "1 to 128 characters"));
    }
    if let Some(uid) = &query.uid
        && (uid.is_empty() || uid.chars().count() > MAX_PARAM)
    {
        return Err(ApiError::invalid("uid", "1 to 128 characters"));
    }
    let (snapshot, _) = state.catalog.snapshot().await?;
    let ad = match kind {
        HitKind::Show => snapshot.by_show_code(&query.code),
        HitKind::Click => snapshot.by_click_code(&query.code),
    }
    .filter(|ad| ad.is_live(chrono::Utc::now().naive_utc()))
    .cloned()
    .ok_or_else(|| ApiError::NotFound(format!("no live ad has this {} code", kind_name(kind))))?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (visitor, set_cookie) = visitor(state, headers, context.as_deref(), query, user_agent);
    if state.settings.is_ignored_agent(user_agent) {
        return Ok((
            ad,
            HitOut {
                counted: false,
                event_id: None,
            },
            set_cookie,
        ));
    }
    let event = HitEvent::new(kind, ad.style_id, visitor);
    let body = serde_json::to_string(&event).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if let Err(error) = state
        .producer
        .send_all(vec![OutgoingMessage::new(body)])
        .await
    {
        tracing::error!(error = %error, "the counter queue refused a hit");
        return Err(ApiError::Unavailable(
            "the hit could not be recorded; retry".into(),
        ));
    }
    Ok((
        ad,
        HitOut {
            counted: true,
            event_id: Some(event.id.to_string()),
        },
        set_cookie,
    ))
}

fn kind_name(kind: HitKind) -> &'static str {
    match kind {
        HitKind::Show => "show",
        HitKind::Click => "click",
    }
}

/// The visitor's hashed identity, and the cookie value to set when the hit had none.
fn visitor(
    state: &AppState,
    headers: &HeaderMap,
    context: Option<&lambda_http::request::RequestContext>,
    query: &HitQuery,
    user_agent: &str,
) -> (VisitorId, Option<VisitorId>) {
    if let Some(uid) = &query.uid {
        return (hash_identity(state, "uid", &[uid]), None);
    }
    if let Some(id) = cookie(headers, VISITOR_COOKIE).and_then(VisitorId::from_hex) {
        return (id, None);
    }
    let ip = source_ip(headers, context);
    let id = hash_identity(state, "net", &[&ip, user_agent]);
    (id, Some(id))
}

fn hash_identity(state: &AppState, tag: &str, parts: &[&str]) -> VisitorId {
    let mut hasher = Sha256::new();
    hasher.update(state.settings.visitor_salt.expose_secret().as_bytes());
    hasher.update([0]);
    hasher.update(tag.as_bytes());
    for part in parts {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    VisitorId(u64::from_be_bytes(first))
}

/// API Gateway's source IP; without one (a local run), the first `X-Forwarded-For` address.
fn source_ip(
    headers: &HeaderMap,
    context: Option<&lambda_http::request::RequestContext>,
) -> String {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) = context
        && let Some(ip) = &context.http.source_ip
    {
        return ip.clone();
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

fn with_cookie(mut response: Response, visitor: Option<VisitorId>) -> Response {
    if let Some(visitor) = visitor
        && let Ok(value) = HeaderValue::from_str(&format!(
            "{VISITOR_COOKIE}={}; Max-Age=31536000; Path=/v1/oper; Secure; HttpOnly; SameSite=None",
            visitor.to_hex()
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
