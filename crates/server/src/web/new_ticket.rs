//! New ticket: subject, description, the customer (picked, or added on the spot), channel,
//! category and priority; then the ticket's own page.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use ladder_core::{Category, Channel, CustomerId, CustomerTier, Priority};
use ladder_storage::directory::Customer;
use ladder_storage::lookup;
use serde::Deserialize;

use super::fields::Errors;
use super::{render_status, see_other_with, shown, Chrome, CsrfForm, PageError, Viewer};
use crate::flows::directory::{self as directory_flow, AddCustomer};
use crate::flows::tickets::{self as ticket_flow, OpenTicket};
use crate::state::AppState;

/// The most customers the picker lists; past that, open the ticket from the customer's page
/// (found with the search box), which preselects them.
const PICKER: i64 = 500;

/// The form as sent (and as shown again with its errors). Field names are the API's.
#[derive(Deserialize, Default)]
pub struct NewTicketForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    new_customer_name: String,
    #[serde(default)]
    new_customer_email: String,
    #[serde(default)]
    new_customer_phone: String,
    #[serde(default)]
    new_customer_tier: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    priority: String,
}

#[derive(Deserialize, Default)]
pub struct NewTicketQuery {
    #[serde(default)]
    customer: String,
}

#[derive(Template)]
#[template(path = "new_ticket.html")]
struct NewTicketPage {
    chrome: Chrome,
    form: NewTicketForm,
    errors: Errors,
    customers: Vec<Customer>,
    channels: Vec<&'static str>,
    categories: Vec<&'static str>,
    priorities: Vec<&'static str>,
    tiers: Vec<&'static str>,
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    form: NewTicketForm,
    errors: Errors,
) -> Result<Response, PageError> {
    let mut conn = state.db.conn().await?;
    let tenant = viewer.caller.tenant_id();
    let mut customers = lookup::customers_matching(&mut conn, tenant, "", PICKER).await?;
    // A customer chosen elsewhere (their page's "New ticket") is listed even past the picker.
    if !form.customer_id.is_empty() && !customers.iter().any(|c| c.id.as_str() == form.customer_id)
    {
        let id = CustomerId(form.customer_id.clone());
        if let Some(c) = ladder_storage::directory::customer(&mut conn, tenant, &id).await? {
            customers.insert(0, c);
        }
    }
    let status = if errors.ok() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = NewTicketPage {
        chrome: Chrome::load(state, viewer, "new").await?,
        form,
        errors,
        customers,
        channels: Channel::names(),
        categories: Category::names(),
        priorities: Priority::names(),
        tiers: CustomerTier::names(),
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// `GET /tickets/new[?customer=ID]`.
pub async fn form(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<NewTicketQuery>,
) -> Response {
    let form = NewTicketForm {
        customer_id: q.customer,
        channel: Channel::Phone.as_str().to_owned(),
        priority: Priority::Normal.as_str().to_owned(),
        ..NewTicketForm::default()
    };
    match show(&state, &viewer, form, Errors::default()).await {
        Ok(r) => r,
        Err(e) => e.page(Some(&viewer)),
    }
}

/// `POST /tickets/new`: checks every field first, adds the new customer if one was given,
/// opens the ticket through the same flow as the API, and goes to its page.
pub async fn create(State(state): State<AppState>, f: CsrfForm<NewTicketForm>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let subject = errors.short(
        "subject",
        &form.subject,
        "Write a subject: a few words saying what it is about",
    );
    let description = errors.long(
        "description",
        &form.description,
        "Write what the customer said or asked",
    );
    let channel: Option<Channel> =
        errors.choice("channel", &form.channel, "how the customer reached you");
    let category: Option<Option<Category>> =
        errors.optional_choice("category", &form.category, "a category, or none");
    let priority: Option<Option<Priority>> =
        errors.optional_choice("priority", &form.priority, "a priority");
    let existing = form.customer_id.trim().to_owned();
    let new_name = form.new_customer_name.trim();
    let new_customer = match (existing.is_empty(), new_name.is_empty()) {
        (false, false) => {
            errors.fail(
                "customer_id",
                "Choose a customer, or add a new one, not both",
            );
            None
        }
        (true, true) => {
            errors.fail(
                "customer_id",
                "Choose the customer, or add a new customer below",
            );
            None
        }
        (false, true) => None,
        (true, false) => {
            let name = errors.short("new_customer_name", new_name, "Give the customer's name");
            let tier = errors.choice(
                "new_customer_tier",
                if form.new_customer_tier.is_empty() {
                    "standard"
                } else {
                    &form.new_customer_tier
                },
                "the customer's tier",
            );
            let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
            match (name, tier) {
                (Some(name), Some(tier)) => Some(AddCustomer {
                    name,
                    email: optional(&form.new_customer_email),
                    phone: optional(&form.new_customer_phone),
                    tier,
                }),
                _ => None,
            }
        }
    };
    let (Some(subject), Some(description), Some(channel), Some(category), Some(priority)) =
        (subject, description, channel, category, priority)
    else {
        return again(&state, &viewer, form, errors).await;
    };
    if !errors.ok() {
        return again(&state, &viewer, form, errors).await;
    }
    let mut form = form;
    let actor = &viewer.caller.actor;
    let customer_id = match new_customer {
        Some(add) => match directory_flow::add_customer(&state.db, actor, add, state.now()).await {
            Ok(c) => {
                // Should the ticket be refused, the form comes back with this customer
                // chosen, so sending it again does not add them twice.
                form.customer_id = c.id.as_str().to_owned();
                form.new_customer_name.clear();
                form.new_customer_email.clear();
                form.new_customer_phone.clear();
                c.id
            }
            Err(e) => {
                let renamed = errors.refused(e, |f| match f {
                    "name" => Some("new_customer_name"),
                    "email" => Some("new_customer_email"),
                    "phone" => Some("new_customer_phone"),
                    "tier" => Some("new_customer_tier"),
                    _ => None,
                });
                if let Err(e) = renamed {
                    return e.page(Some(&viewer));
                }
                return again(&state, &viewer, form, errors).await;
            }
        },
        None => CustomerId(existing),
    };
    let cmd = OpenTicket {
        subject,
        description,
        customer_id,
        channel,
        category,
        priority,
        assignee_id: None,
        team_id: None,
    };
    match ticket_flow::create(&state.db, actor, cmd, state.now()).await {
        Ok(detail) => see_other_with(
            &format!("/tickets/{}", detail.ticket.id.as_str()),
            "Ticket opened.",
        ),
        Err(e) => match errors.refused(e, |_| None) {
            Ok(()) => again(&state, &viewer, form, errors).await,
            Err(e) => e.page(Some(&viewer)),
        },
    }
}

async fn again(state: &AppState, viewer: &Viewer, form: NewTicketForm, errors: Errors) -> Response {
    match show(state, viewer, form, errors).await {
        Ok(r) => r,
        Err(e) => e.page(Some(viewer)),
    }
}
