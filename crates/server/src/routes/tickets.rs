//! Tickets, comments, links, watchers, events and notifications.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use ladder_core::text::{LongText, ShortText};
use ladder_core::{Category, Channel, LinkKind, Priority, TicketStatus};
use ladder_core::{CustomerId, TeamId, TenantId, TicketId, UserId};
use ladder_storage::{audit, outbox, search, tickets};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::tickets::{self as flow, AddComment, ChangeTicket, OpenTicket};
use crate::json::Json;
use crate::routes::views::{all, AuditEvent, Comment, Link, Message, Ticket, TicketView};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketRequest {
    pub subject: ShortText,
    pub description: LongText,
    pub customer_id: String,
    pub channel: Channel,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Defaults to the creator when they work tickets.
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
}

impl From<NewTicketRequest> for OpenTicket {
    fn from(r: NewTicketRequest) -> OpenTicket {
        OpenTicket {
            subject: r.subject,
            description: r.description,
            customer_id: CustomerId(r.customer_id),
            channel: r.channel,
            category: r.category,
            priority: r.priority,
            assignee_id: r.assignee_id.map(UserId),
            team_id: r.team_id.map(TeamId),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTicketRequest {
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    /// A user id, or null to unassign.
    #[serde(default, with = "serde_with_double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, with = "serde_with_double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
}

impl From<PatchTicketRequest> for ChangeTicket {
    fn from(r: PatchTicketRequest) -> ChangeTicket {
        ChangeTicket {
            status: r.status,
            priority: r.priority,
            category: r.category,
            assignee_id: r.assignee_id.map(|a| a.map(UserId)),
            team_id: r.team_id.map(|t| t.map(TeamId)),
        }
    }
}

/// Distinguishes a field left out (`None`) from one set to null (`Some(None)`).
mod serde_with_double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommentRequest {
    pub body: LongText,
    /// `true`: a reply the customer sees; `false`: an internal note for staff.
    pub public: bool,
    /// Set when recording what the customer sent (an inbound email, a logged call): it is
    /// scanned for escalation triggers.
    #[serde(default)]
    pub from_customer: bool,
    /// A phone call with the customer written up by staff. Nothing is sent, but like a
    /// public reply it counts as a response for the SLA clocks.
    #[serde(default)]
    pub logged_call: bool,
}

impl From<NewCommentRequest> for AddComment {
    fn from(r: NewCommentRequest) -> AddComment {
        AddComment {
            body: r.body,
            public: r.public,
            from_customer: r.from_customer,
            logged_call: r.logged_call,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLinkRequest {
    pub to_ticket_id: String,
    pub kind: LinkKind,
}

async fn readable_tenant(state: &AppState, caller: &Caller, id: &TicketId) -> ApiResult<TenantId> {
    let mut conn = state.db.conn().await?;
    let tenant = flow::ticket_tenant(&mut conn, &caller.actor, id).await?;
    tickets::get(&mut conn, &tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok(tenant)
}

/// Opens a ticket. Its text is scanned for escalation triggers, returned in `triggers`.
#[utoipa::path(post, path = "/tickets", operation_id = "create_ticket", tag = "tickets", request_body = NewTicketRequest,
    responses((status = 201, body = TicketView), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewTicketRequest>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let now = state.now();
    let d = flow::create(&state.db, &caller.actor, req.into(), now).await?;
    state.metrics.event("ticket_created");
    if d.active_escalation.is_some() {
        // A trigger in `auto` mode escalated it as it was created.
        state.metrics.event("escalated");
    }
    Ok((StatusCode::CREATED, Json(TicketView::at(d, now)?)))
}

/// A ticket with its status, active escalation, triggers, watchers and links.
#[utoipa::path(get, path = "/tickets/{id}", operation_id = "get_ticket", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
) -> ApiResult<Json<TicketView>> {
    let mut conn = state.db.conn().await?;
    let tenant = flow::ticket_tenant(&mut conn, &caller.actor, &id).await?;
    let t = tickets::get(&mut conn, &tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    let d = flow::detail(&mut conn, &tenant, t).await?;
    Ok(Json(TicketView::at(d, state.now())?))
}

/// Changes status, priority, category, assignee or team.
#[utoipa::path(patch, path = "/tickets/{id}", operation_id = "update_ticket", tag = "tickets", params(("id" = String, Path)), request_body = PatchTicketRequest,
    responses((status = 200, body = TicketView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
    Json(req): Json<PatchTicketRequest>,
) -> ApiResult<Json<TicketView>> {
    let now = state.now();
    let d = flow::patch(&state.db, &caller.actor, &id, req.into(), now).await?;
    Ok(Json(TicketView::at(d, now)?))
}

/// Replies to the customer (`public: true`) or adds an internal note. With files: send
/// `multipart/form-data`, the comment's JSON in a part named `comment` and each file in a
/// part named `file` (with its file name and content type); they are kept with the comment
/// and listed at `/tickets/{id}/attachments`.
#[utoipa::path(post, path = "/tickets/{id}/comments", operation_id = "add_ticket_comment", tag = "tickets", params(("id" = String, Path)),
    request_body(content(
        (NewCommentRequest = "application/json"),
        (crate::routes::inbound::NewCommentUpload = "multipart/form-data"))),
    responses((status = 201, body = CommentCreated), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 413, body = crate::error::Problem, description = "The body, or one of its files, is larger than the server accepts")), security(("bearer" = [])))]
pub async fn comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
    req: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<CommentCreated>)> {
    let (req, files) = crate::routes::inbound::comment_parts(&state, req).await?;
    let (c, stored) = flow::comment_with_files(
        &state.db,
        &caller.actor,
        &id,
        req.into(),
        &files,
        state.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CommentCreated {
            comment: c.into(),
            attachments: stored.into_iter().map(Into::into).collect(),
        }),
    ))
}

/// A comment just added, with the files sent with it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CommentCreated {
    #[serde(flatten)]
    pub comment: Comment,
    pub attachments: Vec<crate::routes::inbound::AttachmentView>,
}

/// The ticket's replies and notes, oldest first.
#[utoipa::path(get, path = "/tickets/{id}/comments", operation_id = "list_ticket_comments", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn comments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
) -> ApiResult<Json<Vec<Comment>>> {
    let tenant = readable_tenant(&state, &caller, &id).await?;
    let mut conn = state.db.conn().await?;
    Ok(Json(all(tickets::comments(&mut conn, &tenant, &id).await?)))
}

/// The audit trail of one ticket, in order.
#[utoipa::path(get, path = "/tickets/{id}/events", operation_id = "list_ticket_events", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<AuditEvent>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let tenant = readable_tenant(&state, &caller, &id).await?;
    Ok(Json(all(audit::for_ticket(&state.db, &tenant, &id).await?)))
}

/// Notifications written about this ticket (outbox), with their delivery state.
#[utoipa::path(get, path = "/tickets/{id}/notifications", operation_id = "list_ticket_notifications", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<Message>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
) -> ApiResult<Json<Vec<Message>>> {
    if caller.is_platform() {
        return Err(ApiError::not_found("ticket"));
    }
    let tenant = readable_tenant(&state, &caller, &id).await?;
    Ok(Json(
        all(outbox::for_ticket(&state.db, &tenant, &id).await?),
    ))
}

/// Links this ticket to another (related, duplicate, follow-up of).
#[utoipa::path(post, path = "/tickets/{id}/links", operation_id = "add_ticket_link", tag = "tickets", params(("id" = String, Path)), request_body = NewLinkRequest,
    responses((status = 201, body = Link), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
    Json(req): Json<NewLinkRequest>,
) -> ApiResult<(StatusCode, Json<Link>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            flow::link(
                &state.db,
                &caller.actor,
                &id,
                &TicketId(req.to_ticket_id),
                req.kind,
                state.now(),
            )
            .await?
            .into(),
        ),
    ))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WatchRequest {
    /// Defaults to the caller.
    pub user_id: Option<String>,
}

/// Watches the ticket; returns the watcher list.
#[utoipa::path(post, path = "/tickets/{id}/watchers", operation_id = "add_ticket_watcher", tag = "tickets", params(("id" = String, Path)), request_body = WatchRequest,
    responses((status = 200, body = Vec<String>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
    Json(req): Json<WatchRequest>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(
        flow::watch(
            &state.db,
            &caller.actor,
            &id,
            req.user_id.map(UserId),
            state.now(),
        )
        .await?
        .into_iter()
        .map(|u| u.0)
        .collect(),
    ))
}

/// The query of `GET /tickets` as the document shows it; [`ticket_query`] reads it (this
/// struct only describes it, as strictly as `ticket_query` checks it).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListTicketsQuery {
    /// Words to find in subjects, descriptions and messages (a customer's emailed reply
    /// without the earlier messages it quotes), all of them; results come best match first,
    /// ranked among the newest 300 matches that pass the other filters (add words or a
    /// filter to reach further back). Without it, newest first.
    q: Option<String>,
    status: Option<TicketStatus>,
    category: Option<Category>,
    priority: Option<Priority>,
    channel: Option<Channel>,
    #[param(schema_with = id_filter)]
    customer_id: Option<String>,
    #[param(schema_with = assignee_filter)]
    assignee_id: Option<String>,
    #[param(schema_with = id_filter)]
    team_id: Option<String>,
    /// `true`: tickets that were ever escalated; `false`: never.
    escalated: Option<bool>,
    /// Created at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    created_from: Option<String>,
    /// Created before this instant (RFC 3339).
    #[param(format = DateTime)]
    created_before: Option<String>,
    /// Last changed at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    updated_from: Option<String>,
    /// Last changed before this instant (RFC 3339).
    #[param(format = DateTime)]
    updated_before: Option<String>,
    #[param(schema_with = cursor_param)]
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

const LIST_PARAMS: &[&str] = &[
    "q",
    "status",
    "category",
    "priority",
    "channel",
    "customer_id",
    "assignee_id",
    "team_id",
    "escalated",
    "created_from",
    "created_before",
    "updated_from",
    "updated_before",
    "cursor",
    "limit",
];

fn vocabulary<T: std::str::FromStr>(
    q: &BTreeMap<String, String>,
    name: &str,
    names: Vec<&'static str>,
) -> ApiResult<Option<T>> {
    q.get(name)
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                ApiError::field(
                    name,
                    format!("unknown value {v:?}; expected one of {}", names.join(", ")),
                )
            })
        })
        .transpose()
}

fn instant(q: &BTreeMap<String, String>, name: &str) -> ApiResult<Option<Timestamp>> {
    q.get(name)
        .map(|v| {
            v.parse::<Timestamp>().map_err(|_| {
                ApiError::field(
                    name,
                    format!("{v:?} is not an RFC 3339 instant such as 2025-06-02T10:00:00Z"),
                )
            })
        })
        .transpose()
}

/// [`id_param`]'s rule as the document states it: 1 to 100 characters, none of them
/// whitespace or control characters (Rust's `char::is_whitespace` and `char::is_control`,
/// spelled out rather than `\s`, whose members differ between regex dialects).
const ID_PATTERN: &str =
    r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{1,100}$";

// `schema_with` replaces the field's doc comment, so these carry their descriptions.
fn cursor_param() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(search::CURSOR_PATTERN))
        .description(Some("`next_cursor` of the page before, as it was."))
        .build()
}

fn id_filter() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(ID_PATTERN))
        .build()
}

fn assignee_filter() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(ID_PATTERN))
        .description(Some("A user id, or `none` for unassigned tickets."))
        .build()
}

/// An id given as a filter: 1 to 100 characters without whitespace or control characters.
fn id_param(q: &BTreeMap<String, String>, name: &str) -> ApiResult<Option<String>> {
    match q.get(name) {
        Some(v)
            if v.is_empty()
                || v.chars().count() > 100
                || v.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Err(ApiError::field(name, "must be an id"))
        }
        v => Ok(v.cloned()),
    }
}

/// Reads the query of `GET /tickets`, naming the parameter that is wrong.
pub fn ticket_query(q: &BTreeMap<String, String>) -> ApiResult<search::TicketQuery> {
    for k in q.keys() {
        if !LIST_PARAMS.contains(&k.as_str()) {
            return Err(ApiError::field(
                k.clone(),
                format!("unknown query parameter; use {}", LIST_PARAMS.join(", ")),
            ));
        }
    }
    let text = q.get("q").map(String::as_str).unwrap_or("");
    if text.len() > 500 {
        return Err(ApiError::field("q", "at most 500 bytes"));
    }
    let words = search::words(text);
    if words.is_empty() && !text.trim().is_empty() {
        return Err(ApiError::field(
            "q",
            "has no word to search for (letters or digits)",
        ));
    }
    if words.len() > search::MAX_WORDS {
        return Err(ApiError::field(
            "q",
            format!("at most {} words", search::MAX_WORDS),
        ));
    }
    let escalated = match q.get("escalated").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::field("escalated", "must be true or false")),
    };
    let limit = match q.get("limit") {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                return Err(ApiError::field(
                    "limit",
                    "must be a whole number from 1 to 200",
                ))
            }
        },
        None => 50,
    };
    let cursor = match q.get("cursor") {
        None => None,
        Some(c) => match search::Cursor::parse(c) {
            Some(cursor @ search::Cursor::Ranked { .. }) if !words.is_empty() => Some(cursor),
            Some(cursor @ search::Cursor::Newest { .. }) if words.is_empty() => Some(cursor),
            Some(_) => {
                return Err(ApiError::field(
                    "cursor",
                    "belongs to a list with other words in q; start again without a cursor",
                ))
            }
            None => {
                return Err(ApiError::field(
                    "cursor",
                    "not a cursor this server issued; pass back next_cursor as it was",
                ))
            }
        },
    };
    let assignee = id_param(q, "assignee_id")?.map(|a| {
        if a == "none" {
            search::Assignee::Nobody
        } else {
            search::Assignee::User(UserId(a))
        }
    });
    Ok(search::TicketQuery {
        words,
        status: vocabulary(q, "status", TicketStatus::names())?,
        category: vocabulary(q, "category", Category::names())?,
        priority: vocabulary(q, "priority", Priority::names())?,
        channel: vocabulary(q, "channel", Channel::names())?,
        customer_id: id_param(q, "customer_id")?.map(CustomerId),
        assignee,
        team_id: id_param(q, "team_id")?.map(TeamId),
        escalated,
        created_from: instant(q, "created_from")?,
        created_before: instant(q, "created_before")?,
        updated_from: instant(q, "updated_from")?,
        updated_before: instant(q, "updated_before")?,
        cursor,
        limit,
    })
}

/// A page of tickets found by `GET /tickets`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TicketList {
    pub items: Vec<Ticket>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Finds tickets: full text over subjects, descriptions and messages (`q`, all words, best
/// match first) and filters, in keyset pages; without `q`, newest first. Staff find their
/// organisation's tickets; platform support, those escalated to the platform.
#[utoipa::path(get, path = "/tickets", operation_id = "list_tickets", tag = "tickets",
    params(ListTicketsQuery),
    responses((status = 200, body = TicketList), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<TicketList>> {
    let query = ticket_query(&q)?;
    let scope = if caller.is_platform() {
        search::Scope::Platform
    } else {
        search::Scope::Tenant(caller.tenant_id())
    };
    let mut conn = state.db.conn().await?;
    let found = search::tickets(&mut conn, scope, &query, state.now()).await?;
    Ok(Json(TicketList {
        items: found.items.into_iter().map(Ticket::from).collect(),
        next_cursor: found.next_cursor,
    }))
}
