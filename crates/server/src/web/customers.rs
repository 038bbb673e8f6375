//! Customers: the list with its search box and "Add a customer", and one customer's page
//! (details, tier, their tickets and escalations).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::tz::TimeZone;
use ladder_core::{CustomerId, CustomerTier};
use ladder_storage::directory::{self, Customer};
use ladder_storage::{lookup, search};
use serde::Deserialize;

use super::deadline;
use super::fields::Errors;
use super::{render_status, see_other_with, shown, Chrome, CsrfForm, PageError, Viewer};
use crate::flows::directory::{self as directory_flow, AddCustomer};
use crate::state::AppState;

/// Customers listed at once; the search box finds the others.
const LIST: i64 = 200;
/// Tickets and escalations shown on a customer's page.
const HISTORY: i64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

#[derive(Deserialize, Default)]
pub struct NewCustomerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    tier: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    chrome: Chrome,
    q: String,
    customers: Vec<Customer>,
    more: bool,
    form: NewCustomerForm,
    errors: Errors,
    tiers: Vec<&'static str>,
}

/// The organisation's time zone: its default calendar's.
pub async fn zone(state: &AppState, viewer: &Viewer) -> Result<TimeZone, PageError> {
    let mut conn = state.db.conn().await?;
    let policy = crate::flows::policy_in(&mut conn, viewer.caller.tenant_id()).await?;
    Ok(policy
        .calendar(ladder_core::policy::DEFAULT_CALENDAR)
        .or(policy.calendars.first())
        .map(|c| deadline::zone(&c.time_zone))
        .transpose()?
        .unwrap_or(TimeZone::UTC))
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    q: String,
    form: NewCustomerForm,
    errors: Errors,
) -> Result<Response, PageError> {
    let mut conn = state.db.conn().await?;
    let tenant = viewer.caller.tenant_id();
    // The same search as `GET /api/v1/customers?q=` (name, email and phone, by trigrams);
    // without words, everyone by name.
    let words = q.trim();
    let mut customers = if words.is_empty() {
        lookup::customers_matching(&mut conn, tenant, "", LIST + 1).await?
    } else {
        search::customers(&mut conn, tenant, words, LIST + 1).await?
    };
    let more = customers.len() > LIST as usize;
    customers.truncate(LIST as usize);
    let status = if errors.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut chrome = Chrome::load(state, viewer, "customers").await?;
    chrome.query.clone_from(&q);
    let page = CustomersPage {
        chrome,
        q,
        customers,
        more,
        form,
        errors,
        tiers: CustomerTier::names(),
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// `GET /customers[?q=…]`.
pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Response {
    let form = NewCustomerForm {
        tier: CustomerTier::Standard.as_str().to_owned(),
        ..NewCustomerForm::default()
    };
    list_page(
        &state,
        &viewer,
        q.q.trim().to_owned(),
        form,
        Errors::default(),
    )
    .await
    .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// `POST /customers`: adds a customer through the directory flow, then shows their page.
pub async fn create(State(state): State<AppState>, f: CsrfForm<NewCustomerForm>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let name = errors.short("name", &form.name, "Give the customer's name");
    let tier: Option<CustomerTier> = errors.choice("tier", &form.tier, "the customer's tier");
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    if let (Some(name), Some(tier), true) = (name, tier, errors.ok()) {
        let cmd = AddCustomer {
            name,
            email: optional(&form.email),
            phone: optional(&form.phone),
            tier,
        };
        match directory_flow::add_customer(&state.db, &viewer.caller.actor, cmd, state.now()).await
        {
            Ok(c) => {
                return see_other_with(
                    &format!("/customers/{}", c.id.as_str()),
                    &format!("{} added.", c.name),
                )
            }
            Err(e) => {
                if let Err(e) = errors.refused(e, |_| None) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    list_page(&state, &viewer, String::new(), form, errors)
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// One of the customer's tickets, as their page lists it.
struct TicketLine {
    id: String,
    subject: String,
    status: &'static str,
    opened: String,
    escalated: bool,
}

/// One escalation of the customer's tickets.
struct EscalationLine {
    ticket_id: String,
    subject: String,
    category: &'static str,
    state: &'static str,
    rung: i64,
    when: String,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    chrome: Chrome,
    customer: Customer,
    tier: &'static str,
    since: String,
    tickets: Vec<TicketLine>,
    escalations: Vec<EscalationLine>,
}

/// `GET /customers/{id}`.
pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let tenant = viewer.caller.tenant_id();
        let id = CustomerId(id);
        let mut conn = state.db.conn().await?;
        let customer = directory::customer(&mut conn, tenant, &id)
            .await?
            .ok_or(PageError::NotFound)?;
        let tz = zone(&state, &viewer).await?;
        let tickets = lookup::tickets_of_customer(&mut conn, tenant, &id, HISTORY)
            .await?
            .into_iter()
            .map(|t| TicketLine {
                id: t.id.as_str().to_owned(),
                escalated: t.active_escalation_id.is_some(),
                subject: t.subject,
                status: t.status.as_str(),
                opened: deadline::when(t.created_at, &tz),
            })
            .collect();
        let escalations = lookup::escalations_of_customer(&mut conn, tenant, &id, HISTORY)
            .await?
            .into_iter()
            .map(|(e, subject)| EscalationLine {
                ticket_id: e.ticket_id.as_str().to_owned(),
                subject,
                category: e.category.as_str(),
                state: e.state.as_str(),
                rung: e.rung,
                when: deadline::when(e.created_at, &tz),
            })
            .collect();
        let page = CustomerPage {
            chrome: Chrome::load(&state, &viewer, "customers").await?,
            tier: customer.tier.as_str(),
            since: deadline::when(customer.created_at, &tz),
            customer,
            tickets,
            escalations,
        };
        Ok::<_, PageError>(shown(&viewer, render_status(StatusCode::OK, &page)))
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// A tier as people say it: "VIP", "High value", "Standard".
pub fn tier_name(tier: &str) -> String {
    match tier {
        "vip" => "VIP".to_owned(),
        other => super::words(other),
    }
}
