//! The signed-in person's live events, as Server-Sent Events (see `crate::stream`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::{self, Audience, Start, KEEP_ALIVE, MAX_STREAMS_PER_USER};

/// My live events, as Server-Sent Events.
///
/// What concerns me: escalations addressed to me (to me, my teams, my role, or
/// owned by me) and those I raised or watch, their acknowledgements, moves up, resolutions
/// and de-escalations, SLA reminders and breaches, and updates of tickets in my queues.
/// Event names: `escalation.created`, `escalation.acknowledged`, `escalation.moved_up`,
/// `escalation.resolved`, `escalation.de_escalated`, `sla.reminder`, `sla.breached`,
/// `approval.requested`, `approval.decided`, `ticket.created`, `ticket.updated`; each `data`
/// is `{type, ticket_id, escalation_id?, at}`. Each `id` is a position in the organisation's
/// audit trail: reconnecting with `Last-Event-ID` sends everything after it, and a `reset`
/// event asks the page to reload when that is too far behind. Platform support receive what
/// is escalated to the platform, and a `reset` when they reconnect.
/// One Server-Sent Event of the stream, field by field, as the document describes each event
/// of a `text/event-stream` (the events themselves are written by `crate::stream`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SseEvent {
    /// The event's name (`escalation.created`, `sla.reminder`…, or `reset`); absent on the
    /// opening event and on an id sent alone.
    event: Option<String>,
    /// A position in the organisation's audit trail (`platform` on platform support's
    /// streams): send it back as `Last-Event-ID`.
    #[schema(pattern = "^([0-9]+|platform)$")]
    id: Option<String>,
    /// `{type, ticket_id, escalation_id?, at}` as JSON.
    data: Option<String>,
    /// How long to wait before reconnecting, in milliseconds.
    retry: Option<u64>,
}

#[utoipa::path(get, path = "/stream", operation_id = "stream_events", tag = "stream",
    params(("Last-Event-ID" = Option<String>, Header, nullable = false, pattern = "^([0-9]{1,18}|platform)$", description = "The id of the last event received, to resume after it")),
    responses(
        (status = 200, description = "A stream of Server-Sent Events", content_type = "text/event-stream", body = SseEvent),
        (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // An event id is a position in the audit trail, decimal digits (at most 18, so it always
    // fits an i64), or a platform stream's `platform`, as the document's pattern says;
    // checked the same for everyone. `None` inside: `platform`, which no position follows.
    let last = match headers.get("last-event-id") {
        None => None,
        Some(v) if v.as_bytes().trim_ascii() == crate::stream::PLATFORM_ID.as_bytes() => Some(None),
        Some(v) => {
            let id = v.to_str().unwrap_or("").trim();
            if id.is_empty() || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::Invalid {
                    status: StatusCode::BAD_REQUEST,
                    field: Some("Last-Event-ID".into()),
                    detail: format!(
                        "{:?} is not the id of an event this stream sent",
                        String::from_utf8_lossy(v.as_bytes())
                    ),
                });
            }
            Some(Some(id.parse::<i64>().map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("an 18-digit event id did not parse: {e}"))
            })?))
        }
    };
    let (audience, start) = if caller.is_platform() {
        let start = match last {
            None => Start::Now,
            Some(_) => Start::Reset,
        };
        (Audience::Platform, start)
    } else {
        let start = match last {
            None => Start::Now,
            Some(Some(seq)) => Start::After(seq),
            // A platform stream's id resumes nothing here: the page reloads.
            Some(None) => Start::Reset,
        };
        let audience = Audience::Staff {
            tenant: caller.tenant_id().clone(),
            user: caller.user.id.clone(),
            role: caller.role(),
            keys: caller.queue_keys(),
        };
        (audience, start)
    };
    let admission = state.feed.admit(&caller.user.id).ok_or_else(|| {
        ApiError::TooManyRequests {
            detail: format!(
                "at most {MAX_STREAMS_PER_USER} live streams per person are open at once; close one"
            ),
            // A closed stream frees its place at once; a second is enough to try again.
            retry_after_secs: 1,
        }
    })?;
    let opened = stream::open(state.clone(), audience, start, admission).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(opened.run(tx));
    let events =
        tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies that buffer responses (nginx) would hold the events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
