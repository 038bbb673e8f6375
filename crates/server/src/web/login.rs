//! Signing in and out of the pages: the same sessions as the API's bearer logins, carried by
//! the `ladder_session` cookie.

use askama::Template;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ladder_storage::directory;
use serde::Deserialize;

use super::{assets, render, render_status, safe_next, secure, CsrfForm, PageError, Viewer};
use crate::auth::{new_token, verify_password, SESSION_COOKIE, SESSION_TTL};
use crate::flows;
use crate::state::AppState;
use crate::throttle::ClientAddress;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    assets: &'static str,
    tenant: String,
    email: String,
    next: String,
    /// The field at fault and what to do about it.
    error: Option<(&'static str, String)>,
}

impl LoginPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        match &self.error {
            Some((f, m)) if *f == field => Some(m),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn form(viewer: Option<Viewer>, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if viewer.is_some() {
        return Redirect::to(&next).into_response();
    }
    render(&LoginPage {
        assets: assets::version(),
        tenant: String::new(),
        email: String::new(),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, Response> {
    let mut page = LoginPage {
        assets: assets::version(),
        tenant: f.tenant.trim().to_owned(),
        email: f.email.trim().to_owned(),
        next: safe_next(f.next.as_deref()),
        error: None,
    };
    // No session yet, so no CSRF token: a sign-in posted from another site (which would sign
    // the browser into someone else's account) is told apart by its Origin, which browsers
    // send with every form post.
    if !same_origin(&headers) {
        return Err(PageError::Csrf.page(None));
    }
    let refuse = |mut page: LoginPage, field: &'static str, message: &str| {
        page.error = Some((field, message.to_owned()));
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    if page.tenant.is_empty() {
        return Err(refuse(
            page,
            "tenant",
            "Enter your organisation's short name.",
        ));
    }
    if page.email.is_empty() {
        return Err(refuse(
            page,
            "email",
            "Enter the email address you sign in with.",
        ));
    }
    if f.password.is_empty() {
        return Err(refuse(page, "password", "Enter your password."));
    }
    let db_error = |e: ladder_storage::StorageError| PageError::from(e).page(None);
    let tenant = directory::find_tenant(&state.db, &page.tenant)
        .await
        .map_err(db_error)?;
    // The same throttle as the API's sign-in: the form is no way around it.
    let account = tenant
        .as_ref()
        .map_or(page.tenant.clone(), |t| t.id.as_str().to_owned());
    let throttle = &state.login_throttle;
    if let Err(t) = throttle.check(state.now(), &account, &page.email, address) {
        let minutes = t.retry_after_secs.div_ceil(60);
        let mut res = refuse(
            page,
            "password",
            &format!("Too many failed sign-ins. Try again in {minutes} min."),
        );
        *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(v) = HeaderValue::from_str(&t.retry_after_secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(res);
    }
    let found = match &tenant {
        Some(t) => directory::user_for_login(&state.db, &t.id, &page.email)
            .await
            .map_err(db_error)?,
        None => None,
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    // One answer for an unknown organisation, email or password: which one it was is not
    // given away.
    let password = secrecy::SecretString::from(f.password);
    let (true, Some(user)) = (verify_password(password, hash).await, user) else {
        throttle.failed(state.now(), &account, &page.email, address);
        page.error = None;
        return Err(refuse(
            page,
            "password",
            "Unknown organisation, email or password. Check all three and try again.",
        ));
    };
    throttle.succeeded(&account, &page.email);
    let now = state.now();
    let expires_at = now
        .checked_add(SESSION_TTL)
        .map_err(|e| PageError::Api(crate::error::ApiError::Internal(e.into())).page(None))?;
    let (token, token_hash) = new_token();
    flows::session::open(&state.db, &user, &token_hash, now, expires_at)
        .await
        .map_err(|e| PageError::from(e).page(None))?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure(&state, &headers) {
            "; Secure"
        } else {
            ""
        }
    );
    let mut res = Redirect::to(&page.next).into_response();
    let value = HeaderValue::from_str(&cookie)
        .map_err(|e| PageError::Api(crate::error::ApiError::Internal(e.into())).page(None))?;
    res.headers_mut().insert(header::SET_COOKIE, value);
    Ok(res)
}

#[derive(Deserialize)]
pub struct LogoutForm {}

/// Revokes the session and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    f: CsrfForm<LogoutForm>,
) -> Result<Response, Response> {
    let viewer = f.viewer;
    flows::session::close(&state.db, &viewer.caller.token_hash, state.now())
        .await
        .map_err(|e| PageError::from(e).page(Some(&viewer)))?;
    let mut res = Redirect::to("/login").into_response();
    let cookie = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure(&state, &headers) {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Whether a post came from this site's own page, as far as the browser says: its Fetch
/// Metadata (`Sec-Fetch-Site`, sent whatever the referrer policy) and its `Origin` (sent as
/// `null` under our `no-referrer` policy, so only a named one is compared). Clients that send
/// neither (scripts, old browsers) are let through: the check is against other sites' pages.
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if !matches!(site, "same-origin" | "none") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return true;
    }
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    // The host the browser asked for: `Host`, or what a proxy that rewrote it says it was.
    ["x-forwarded-host", "host"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .any(|host| !host.is_empty() && origin_host.eq_ignore_ascii_case(host.trim()))
}
