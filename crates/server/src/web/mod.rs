//! The web pages: server-rendered HTML from askama templates (`crates/server/templates/`), a
//! stylesheet and a script of our own served from the binary, sign-in with a session cookie,
//! and a CSRF token on every form that changes anything.
//!
//! Pages are not API operations: their router is merged beside the OpenAPI one in
//! `routes::router` and stays out of the document. Every write goes through the same flows
//! the API calls, so the audit events and rules are the same.

mod approvals;
mod assets;
mod charts;
mod customers;
mod deadline;
mod fields;
mod layout;
mod login;
mod mailbox;
mod new_ticket;
mod people;
mod platform;
mod policy;
mod queues;
mod reports;
mod search;
mod tickets;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use ladder_storage::directory::{self, Tenant};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{cookie, Caller, SESSION_COOKIE};
use crate::error::ApiError;
use crate::flows::FlowError;
use crate::state::AppState;

pub use layout::Chrome;

/// No script or style but our own files, no forms posting elsewhere, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The cookie a redirect leaves a one-time message in, shown by the next page.
const FLASH_COOKIE: &str = "ladder_flash";

/// The largest form a page accepts.
const FORM_LIMIT: usize = 256 * 1024;

/// The API's router with the pages beside it. The pages are not operations of the API, so
/// they are added here rather than through the documented route list of `routes/mod.rs`.
pub fn beside(api: Router<AppState>) -> Router<AppState> {
    api.merge(router())
}

fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(queues::home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/queues/mine", get(queues::mine))
        .route("/queues/watching", get(queues::watching))
        .route("/queues/escalations", get(queues::escalations))
        .route(
            "/tickets/new",
            get(new_ticket::form).post(new_ticket::create),
        )
        .route("/customers", get(customers::list).post(customers::create))
        .route("/customers/{id}", get(customers::page))
        .route("/approvals", get(approvals::list))
        .route("/approvals/{id}", post(approvals::decide))
        .route("/search", get(search::page))
        .route("/reports", get(reports::page))
        .route("/people", get(people::page))
        .route("/people/users", post(people::add_user))
        .route("/people/teams", post(people::add_team))
        .route("/away", get(people::away).post(people::set_away))
        .route("/mailbox", get(mailbox::page).post(mailbox::save))
        .route("/mailbox/token", post(mailbox::new_token))
        .route("/policy", get(policy::page))
        .route("/policy/edit", get(policy::edit).post(policy::save))
        .route("/platform", get(platform::page))
        .route("/tickets/{id}", get(tickets::page))
        .route("/tickets/{id}/reply", post(tickets::reply))
        .route("/tickets/{id}/escalate", post(tickets::escalate))
        .route("/tickets/{id}/acknowledge", post(tickets::acknowledge))
        .route("/tickets/{id}/resolve", post(tickets::resolve))
        .route("/tickets/{id}/de-escalate", post(tickets::de_escalate))
        .route("/tickets/{id}/re-escalate", post(tickets::re_escalate))
        .fallback(not_found)
        // Signed-in pages must not be kept by any cache; the assets say otherwise themselves.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .merge(assets::router())
}

async fn not_found(viewer: Option<Viewer>) -> Response {
    PageError::NotFound.page(viewer.as_ref())
}

/// The signed-in person looking at a page, from the session cookie; a page asked for without
/// one redirects to `/login?next=…`.
pub struct Viewer {
    pub caller: Caller,
    pub tenant: Tenant,
    /// The cookie's token: the CSRF token is derived from it.
    token: String,
    /// A message the previous request left for this page.
    pub flash: Option<String>,
}

impl Viewer {
    /// The token every form of this session carries: HMAC-SHA256 keyed by the session's token.
    /// Only the browser holding the cookie can know it (the database keeps only the token's
    /// hash), and it needs no server key, so every server of a cluster agrees on it.
    pub fn csrf(&self) -> String {
        hex::encode(csrf_mac(&self.token).finalize().into_bytes())
    }

    fn csrf_matches(&self, sent: &str) -> bool {
        match hex::decode(sent) {
            // `verify_slice` compares in constant time.
            Ok(bytes) => csrf_mac(&self.token).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

fn csrf_mac(token: &str) -> Hmac<Sha256> {
    // The key is a hash of the token under a label of its own: the sessions table keeps the
    // token's plain SHA-256, which must not give the key away.
    let mut key = hmac::digest::Key::<Hmac<Sha256>>::default();
    let derived = Sha256::new()
        .chain_update(b"ladder csrf key\0")
        .chain_update(token.as_bytes())
        .finalize();
    key[..derived.len()].copy_from_slice(&derived);
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&key);
    mac.update(b"ladder csrf v1");
    mac
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let here = parts
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            let next = serde_urlencoded::to_string([("next", here)]).unwrap_or_default();
            Redirect::to(&format!("/login?{next}")).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(to_login());
        };
        let caller = match Caller::of_token(state, &token).await {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(PageError::Api(e).page(None)),
        };
        let tenant = match directory::find_tenant(&state.db, caller.tenant_id().as_str()).await {
            Ok(Some(t)) => t,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(PageError::Api(e.into()).page(None)),
        };
        let flash = cookie(&parts.headers, FLASH_COOKIE)
            .and_then(|v| serde_urlencoded::from_str::<Vec<(String, String)>>(v).ok())
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "m").map(|(_, v)| v));
        Ok(Viewer {
            caller,
            tenant,
            token,
            flash,
        })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Viewer as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// A page's form post: the viewer, and the form parsed into `T` once its CSRF token (field
/// `csrf`) matched the session's. A post without it, or with another, is refused with 403
/// before anything is read or written.
pub struct CsrfForm<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let viewer =
            <Viewer as FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| PageError::BadForm("the form is too large".into()).page(Some(&viewer)))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            PageError::BadForm(format!("the form does not read: {e}")).page(Some(&viewer))
        })?;
        let sent = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !viewer.csrf_matches(sent) {
            return Err(PageError::Csrf.page(Some(&viewer)));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            PageError::BadForm(format!("the form does not read: {e}")).page(Some(&viewer))
        })?;
        Ok(CsrfForm { viewer, form })
    }
}

/// What a page answers instead of itself, as an HTML page.
#[derive(Debug)]
pub enum PageError {
    NotFound,
    Csrf,
    Forbidden(String),
    BadForm(String),
    Api(ApiError),
}

impl From<FlowError> for PageError {
    fn from(e: FlowError) -> PageError {
        match e {
            FlowError::NotFound(_) => PageError::NotFound,
            FlowError::Forbidden(m) => PageError::Forbidden(m),
            other => PageError::Api(other.into()),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError::Api(e)
    }
}

impl From<ladder_storage::StorageError> for PageError {
    fn from(e: ladder_storage::StorageError) -> PageError {
        PageError::Api(e.into())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> PageError {
        PageError::Api(ApiError::Internal(anyhow::anyhow!("rendering a page: {e}")))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    title: &'a str,
    message: String,
}

/// The error page for someone not signed in.
#[derive(Template)]
#[template(path = "error_plain.html")]
struct PlainErrorPage<'a> {
    assets: &'static str,
    title: &'a str,
    message: String,
}

fn error_page(
    status: StatusCode,
    chrome: Option<&Chrome>,
    title: &str,
    message: String,
) -> Response {
    match chrome {
        Some(chrome) => render_status(
            status,
            &ErrorPage {
                chrome,
                title,
                message,
            },
        ),
        None => render_status(
            status,
            &PlainErrorPage {
                assets: assets::version(),
                title,
                message,
            },
        ),
    }
}

/// "legal_threat" → "Legal threat".
pub fn words(name: &str) -> String {
    let mut s = name.replace('_', " ");
    if let Some(first) = s.get(0..1) {
        let upper = first.to_uppercase();
        s.replace_range(0..1, &upper);
    }
    s
}

impl PageError {
    /// The error as a page, inside the layout when someone is signed in.
    pub fn page(self, viewer: Option<&Viewer>) -> Response {
        let chrome = viewer.map(Chrome::bare);
        let (status, title, message) = match self {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such page, or it belongs to another organisation.".to_owned(),
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from a page of this session, so nothing was changed. \
                 Go back, reload the page and try again."
                    .to_owned(),
            ),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            PageError::BadForm(m) => (StatusCode::BAD_REQUEST, "Bad form", m),
            PageError::Api(e) => {
                // The API's mapping decides the status (and counts corrupt rows); the page
                // shows its detail, except for internal errors, which are logged there.
                let res = e.into_response();
                let status = res.status();
                let corrupt = res.extensions().get::<crate::error::CorruptRow>().cloned();
                let message = if status.is_server_error() {
                    "Something went wrong on our side. It has been logged; try again shortly."
                        .to_owned()
                } else {
                    "The request could not be completed.".to_owned()
                };
                let mut page = error_page(status, chrome.as_ref(), "Something went wrong", message);
                if let Some(c) = corrupt {
                    page.extensions_mut().insert(c);
                }
                return page;
            }
        };
        error_page(status, chrome.as_ref(), title, message)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.page(None)
    }
}

/// A page's result: the page, or an error page.
pub type PageResult = Result<Response, Response>;

/// Renders a template as a 200 page.
pub fn render(t: &impl Template) -> Response {
    render_status(StatusCode::OK, t)
}

pub fn render_status(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A page for the viewer: clears the flash it has shown.
pub fn shown(viewer: &Viewer, res: Response) -> Response {
    let mut res = res;
    if viewer.flash.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{FLASH_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        )) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// A redirect after a post (303, so the browser follows with GET), leaving `message` for the
/// next page.
pub fn see_other_with(to: &str, message: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    let value = serde_urlencoded::to_string([("m", message)]).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Whether the cookie must be `Secure`: configured so, or the request came over TLS through a
/// proxy that says so.
pub fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A local path to go back to after signing in; anything else (another site, `//host`) is
/// replaced by the home page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}
