//! Approvals: the compensations waiting for the signed-in person's decision, each with
//! Approve and Deny and the reason; and, for the record, those waiting for someone else.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ladder_core::{ApprovalId, TicketId};
use ladder_storage::{directory, escalations, tickets};
use serde::Deserialize;

use super::customers::zone;
use super::deadline;
use super::fields::Errors;
use super::{render_status, see_other_with, shown, words, Chrome, CsrfForm, PageError, Viewer};
use crate::flows::escalation as flow;
use crate::state::AppState;

/// One compensation waiting for a decision.
struct Waiting {
    id: String,
    ticket_id: String,
    subject: String,
    amount: String,
    kind: String,
    summary: String,
    requested_by: String,
    approver: String,
    when: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    chrome: Chrome,
    mine: Vec<Waiting>,
    others: Vec<Waiting>,
    /// Each form's errors, by approval id.
    errors: BTreeMap<String, Errors>,
    /// What each form was sent with, by approval id.
    reasons: BTreeMap<String, String>,
}

impl ApprovalsPage {
    fn error_of(&self, id: &str) -> Option<&str> {
        self.errors
            .get(id)
            .and_then(|e| e.get("reason").or(e.top.as_deref()))
    }

    fn reason_of(&self, id: &str) -> &str {
        self.reasons.get(id).map_or("", String::as_str)
    }
}

/// "EUR 120.00" from 12000 minor units (two decimals: the currencies the policy takes have
/// two; the amount is shown, never computed with).
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{currency} {sign}{}.{:02}", abs / 100, abs % 100)
}

/// Whether `actor` may decide the approval, by the flow's own rule (approvals::decide): the
/// role asked, or anyone whose authority covers the amount; never the person who asked.
pub fn may_decide(
    actor: &crate::flows::Actor,
    policy: &ladder_core::Policy,
    a: &escalations::Approval,
) -> bool {
    (actor.role == a.approver_role || policy.authority_limit(actor.role).covers(a.amount_minor))
        && a.requested_by != actor.user_id
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    errors: BTreeMap<String, Errors>,
    reasons: BTreeMap<String, String>,
) -> Result<Response, PageError> {
    let tenant = viewer.caller.tenant_id();
    let actor = &viewer.caller.actor;
    let mut conn = state.db.conn().await?;
    let pending = escalations::pending_approvals(&mut conn, tenant).await?;
    let policy = crate::flows::policy_in(&mut conn, tenant).await?;
    let tz = zone(state, viewer).await?;
    let users = directory::users(&state.db, tenant).await?;
    let names: HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.name.as_str()))
        .collect();
    let ids: Vec<TicketId> = pending.iter().map(|a| a.ticket_id.clone()).collect();
    let subjects: HashMap<String, String> = tickets::get_many_in_context(&mut conn, &ids)
        .await?
        .into_iter()
        .filter(|(t, _, _, _)| t == tenant)
        .map(|(_, t, _, _)| (t.id.as_str().to_owned(), t.subject))
        .collect();
    let (mut mine, mut others) = (Vec::new(), Vec::new());
    for a in pending {
        let may = may_decide(actor, &policy, &a);
        let compensation = &a.resolution["compensation"];
        let line = Waiting {
            id: a.id.as_str().to_owned(),
            ticket_id: a.ticket_id.as_str().to_owned(),
            subject: subjects
                .get(a.ticket_id.as_str())
                .cloned()
                .unwrap_or_else(|| "(ticket)".to_owned()),
            amount: money(a.amount_minor, &a.currency),
            kind: compensation["kind"]
                .as_str()
                .map(words)
                .unwrap_or_else(|| "Compensation".to_owned()),
            summary: a.resolution["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            requested_by: names
                .get(a.requested_by.as_str())
                .copied()
                .unwrap_or("someone who left")
                .to_owned(),
            approver: words(a.approver_role.as_str()),
            when: deadline::when(a.created_at, &tz),
        };
        if may {
            mine.push(line);
        } else {
            others.push(line);
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ApprovalsPage {
        chrome: Chrome::load(state, viewer, "approvals").await?,
        mine,
        others,
        errors,
        reasons,
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// `GET /approvals`.
pub async fn list(viewer: Viewer, State(state): State<AppState>) -> Response {
    show(&state, &viewer, BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /approvals/{id}`: approve or deny, with the reason, through the approvals flow.
pub async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<DecisionForm>,
) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let approve = match form.decision.as_str() {
        "approve" => Some(true),
        "deny" => Some(false),
        _ => {
            errors.fail("reason", "Press Approve or Deny");
            None
        }
    };
    let reason = errors.long(
        "reason",
        &form.reason,
        "Say why: the person who asked and the audit trail will read it",
    );
    if let (Some(approve), Some(reason)) = (approve, reason) {
        let approval = ApprovalId(id.clone());
        match flow::decide(
            &state.db,
            &viewer.caller.actor,
            &approval,
            approve,
            &reason,
            state.now(),
        )
        .await
        {
            Ok(a) => {
                let done = if approve {
                    format!(
                        "Approved {}: the resolution is in effect.",
                        money(a.amount_minor, &a.currency)
                    )
                } else {
                    format!(
                        "Denied {}: the escalation stays open.",
                        money(a.amount_minor, &a.currency)
                    )
                };
                return see_other_with("/approvals", &done);
            }
            Err(e) => {
                if let Err(e) = errors.refused(e, |_| Some("reason")) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    let errors = BTreeMap::from([(id.clone(), errors)]);
    let reasons = BTreeMap::from([(id, form.reason)]);
    show(&state, &viewer, errors, reasons)
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}
