//! Email in (owners and admins): the IMAP mailbox the server watches (its settings, when it
//! was last taken and what went wrong), and the inbound token a mail server's pipe posts
//! with, created or replaced here and shown once.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ladder_storage::inbound as store;
use secrecy::SecretString;

use super::customers::zone;
use super::deadline;
use super::fields::Errors;
use super::{render_status, see_other_with, shown, Chrome, CsrfForm, PageError, Viewer};
use crate::inbound::{self, imap::Tls, SetMailbox};
use crate::state::AppState;

type Pairs = Vec<(String, String)>;

fn one<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// How the last take of the mailbox went.
struct Status {
    polled: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    chrome: Chrome,
    /// Whether a mailbox is set (its password then need not be typed again).
    configured: bool,
    status: Option<Status>,
    /// The server can seal passwords (`--secret-key`).
    keyed: bool,
    form: Pairs,
    errors: Errors,
    tls_modes: Vec<(&'static str, &'static str)>,
    /// When the inbound token was set.
    token_set: Option<String>,
    /// A token just made (the only time it is shown), and whether it replaced one.
    new_token: Option<NewToken>,
}

struct NewToken {
    token: String,
    replaced: bool,
}

impl MailboxPage {
    fn value(&self, name: &str) -> &str {
        one(&self.form, name)
    }
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    form: Option<Pairs>,
    errors: Errors,
    new_token: Option<NewToken>,
) -> Result<Response, PageError> {
    viewer
        .caller
        .actor
        .require_manager("see the organisation's mailbox")?;
    let tenant = viewer.caller.tenant_id();
    let tz = zone(state, viewer).await?;
    let mut conn = state.db.conn().await?;
    let mailbox = store::mailbox(&mut conn, tenant).await?;
    let token_set = store::token_set_at(&mut conn, tenant).await?;
    drop(conn);
    let form = form.unwrap_or_else(|| match &mailbox {
        Some(m) => vec![
            ("host".into(), m.host.clone()),
            ("port".into(), m.port.to_string()),
            ("tls".into(), m.tls.clone()),
            ("username".into(), m.username.clone()),
            ("folder".into(), m.folder.clone()),
            (
                "processed_folder".into(),
                m.processed_folder.clone().unwrap_or_default(),
            ),
        ],
        None => vec![
            ("port".into(), "993".into()),
            ("tls".into(), Tls::Tls.as_str().into()),
            ("folder".into(), "INBOX".into()),
        ],
    });
    let status = if errors.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = MailboxPage {
        chrome: Chrome::load(state, viewer, "mailbox").await?,
        configured: mailbox.is_some(),
        status: mailbox.map(|m| Status {
            polled: m.last_polled_at.map(|t| deadline::when(t, &tz)),
            error: m.last_error,
        }),
        keyed: state.inbound.secret_key.is_some(),
        form,
        errors,
        tls_modes: vec![
            (Tls::Tls.as_str(), "TLS (usually port 993)"),
            (Tls::StartTls.as_str(), "STARTTLS (usually port 143)"),
            (Tls::None.as_str(), "None (only on a trusted network)"),
        ],
        token_set: token_set.map(|t| deadline::when(t, &tz)),
        new_token,
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// `GET /mailbox`.
pub async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    show(&state, &viewer, None, Errors::default(), None)
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// `POST /mailbox`: sets the IMAP mailbox through the same flow as `PUT /api/v1/inbound/imap`.
/// An empty password keeps the one set before; an empty processed folder flags messages
/// `\Seen` where they are.
pub async fn save(State(state): State<AppState>, f: CsrfForm<Pairs>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let tls = Tls::parse(one(&form, "tls"));
    if tls.is_none() {
        errors.fail("tls", "Choose how the connection is protected");
    }
    let port: Option<u16> = one(&form, "port").trim().parse().ok().filter(|p| *p > 0);
    if port.is_none() {
        errors.fail("port", "Give a port from 1 to 65535");
    }
    if let (Some(tls), Some(port)) = (tls, port) {
        let password = one(&form, "password");
        let processed = one(&form, "processed_folder").trim();
        let cmd = SetMailbox {
            host: one(&form, "host").trim().to_owned(),
            port,
            tls,
            username: one(&form, "username").trim().to_owned(),
            password: (!password.is_empty()).then(|| SecretString::from(password.to_owned())),
            folder: one(&form, "folder").trim().to_owned(),
            processed_folder: (!processed.is_empty()).then(|| processed.to_owned()),
        };
        match inbound::set_mailbox(
            &state.db,
            &state.inbound,
            &viewer.caller.actor,
            cmd,
            state.now(),
        )
        .await
        {
            Ok(_) => {
                return see_other_with(
                    "/mailbox",
                    "Mailbox saved. New messages in it become tickets.",
                )
            }
            Err(e) => {
                if let Err(e) = errors.refused(e, |_| None) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    // The password is never sent back to the browser.
    let form = form.into_iter().filter(|(k, _)| k != "password").collect();
    show(&state, &viewer, Some(form), errors, None)
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// `POST /mailbox/token`: a new inbound token, replacing the one before, shown on this page
/// only (no redirect: it must not travel in a cookie or a URL).
pub async fn new_token(State(state): State<AppState>, f: CsrfForm<Pairs>) -> Response {
    let viewer = f.viewer;
    let had = match state.db.conn().await {
        Ok(mut conn) => store::token_set_at(&mut conn, viewer.caller.tenant_id()).await,
        Err(e) => Err(e),
    };
    let replaced = match had {
        Ok(at) => at.is_some(),
        Err(e) => return PageError::from(e).page(Some(&viewer)),
    };
    match inbound::new_token(&state.db, &viewer.caller.actor, state.now()).await {
        Ok(token) => show(
            &state,
            &viewer,
            None,
            Errors::default(),
            Some(NewToken { token, replaced }),
        )
        .await
        .map(|mut res| {
            // The page holds a secret: not kept by the browser or anything between.
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            res
        })
        .unwrap_or_else(|e| e.page(Some(&viewer))),
        Err(e) => PageError::from(e).page(Some(&viewer)),
    }
}
