//! People and teams (owners and admins): everyone with their role and availability, adding
//! a user, adding a team; and anyone's own availability ("Away until…"), reached from the
//! top bar.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use ladder_core::Role;
use ladder_storage::directory;

use super::customers::zone;
use super::deadline;
use super::fields::Errors;
use super::{render_status, see_other_with, shown, Chrome, CsrfForm, PageError, Viewer};
use crate::flows::directory::{self as directory_flow, AddTeam, AddUser};
use crate::flows::escalation::set_availability;
use crate::state::AppState;

/// A form sent as its fields in order (a team's members repeat `members`).
type Pairs = Vec<(String, String)>;

fn one<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

struct Person {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    away: Option<String>,
    teams: Vec<String>,
    me: bool,
}

struct TeamLine {
    name: String,
    members: Vec<String>,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    chrome: Chrome,
    people: Vec<Person>,
    teams: Vec<TeamLine>,
    roles: Vec<&'static str>,
    user_form: Pairs,
    user_errors: Errors,
    team_form: Pairs,
    team_errors: Errors,
    away: AwayForm,
}

impl PeoplePage {
    fn user_value(&self, name: &str) -> &str {
        one(&self.user_form, name)
    }
    fn team_value(&self, name: &str) -> &str {
        one(&self.team_form, name)
    }
    fn member_checked(&self, id: &str) -> bool {
        self.team_form
            .iter()
            .any(|(k, v)| k == "members" && v == id)
    }
}

/// The availability form: where the person stands, and what they sent.
pub struct AwayForm {
    /// "Available" or "Away until Tue 3 Jun 09:00".
    pub now: String,
    pub away: bool,
    pub value: String,
    pub errors: Errors,
    pub zone: String,
}

async fn away_form(
    state: &AppState,
    viewer: &Viewer,
    value: String,
    errors: Errors,
) -> Result<AwayForm, PageError> {
    let tz = zone(state, viewer).await?;
    let me = directory::user(&state.db, viewer.caller.tenant_id(), &viewer.caller.user.id)
        .await?
        .ok_or(PageError::NotFound)?;
    let now = state.now();
    let (text, away) = match me.away_until.filter(|t| *t > now) {
        Some(t) => (format!("Away until {}", deadline::when(t, &tz)), true),
        None => ("Available".to_owned(), false),
    };
    Ok(AwayForm {
        now: text,
        away,
        value,
        errors,
        zone: tz.iana_name().unwrap_or("UTC").to_owned(),
    })
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    user_form: Pairs,
    user_errors: Errors,
    team_form: Pairs,
    team_errors: Errors,
) -> Result<Response, PageError> {
    viewer.caller.actor.require_manager("manage people")?;
    let tenant = viewer.caller.tenant_id();
    let tz = zone(state, viewer).await?;
    let now = state.now();
    let users = directory::users(&state.db, tenant).await?;
    let teams = directory::teams(&state.db, tenant).await?;
    let names: HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.name.as_str()))
        .collect();
    let mut teams_of: HashMap<&str, Vec<String>> = HashMap::new();
    for t in &teams {
        for m in &t.members {
            teams_of.entry(m.as_str()).or_default().push(t.name.clone());
        }
    }
    let people = users
        .iter()
        .map(|u| Person {
            id: u.id.as_str().to_owned(),
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.as_str(),
            away: u
                .away_until
                .filter(|t| *t > now)
                .map(|t| deadline::when(t, &tz)),
            teams: teams_of.remove(u.id.as_str()).unwrap_or_default(),
            me: u.id == viewer.caller.user.id,
        })
        .collect();
    let teams = teams
        .iter()
        .map(|t| TeamLine {
            name: t.name.clone(),
            members: t
                .members
                .iter()
                .map(|m| {
                    names
                        .get(m.as_str())
                        .copied()
                        .unwrap_or("someone who left")
                        .to_owned()
                })
                .collect(),
        })
        .collect();
    let status = if user_errors.ok() && team_errors.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PeoplePage {
        chrome: Chrome::load(state, viewer, "people").await?,
        people,
        teams,
        roles: assignable_roles(),
        user_form,
        user_errors,
        team_form,
        team_errors,
        away: away_form(state, viewer, String::new(), Errors::default()).await?,
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// The roles an organisation's people can have (platform support belongs to the platform).
fn assignable_roles() -> Vec<&'static str> {
    Role::names()
        .into_iter()
        .filter(|r| *r != Role::PlatformSupport.as_str())
        .collect()
}

/// `GET /people`.
pub async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    let fresh = vec![("role".to_owned(), Role::Agent.as_str().to_owned())];
    show(
        &state,
        &viewer,
        fresh,
        Errors::default(),
        Vec::new(),
        Errors::default(),
    )
    .await
    .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// `POST /people/users`: adds a user through the directory flow.
pub async fn add_user(State(state): State<AppState>, f: CsrfForm<Pairs>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let name = errors.short("name", one(&form, "name"), "Give the person's name");
    let role: Option<Role> = errors.choice("role", one(&form, "role"), "a role");
    if one(&form, "email").trim().is_empty() {
        errors.fail("email", "Give the address they sign in with");
    }
    if one(&form, "password").is_empty() {
        errors.fail(
            "password",
            "Give them a first password (at least 8 characters)",
        );
    }
    if let (Some(name), Some(role), true) = (name, role, errors.ok()) {
        let cmd = AddUser {
            email: one(&form, "email").trim().to_owned(),
            name,
            role,
            password: one(&form, "password").to_owned(),
        };
        match directory_flow::add_user(&state.db, &viewer.caller.actor, cmd, state.now()).await {
            Ok(u) => return see_other_with("/people", &format!("{} can sign in now.", u.name)),
            Err(e) => {
                if let Err(e) = errors.refused(e, |_| None) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    // The password is never sent back to the browser.
    let form = form.into_iter().filter(|(k, _)| k != "password").collect();
    show(&state, &viewer, form, errors, Vec::new(), Errors::default())
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// `POST /people/teams`: adds a team with its members through the directory flow.
pub async fn add_team(State(state): State<AppState>, f: CsrfForm<Pairs>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let name = errors.short("name", one(&form, "name"), "Give the team a name");
    let members: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "members")
        .map(|(_, v)| v.clone())
        .collect();
    if let (Some(name), true) = (name, errors.ok()) {
        let cmd = AddTeam { name, members };
        match directory_flow::add_team(&state.db, &viewer.caller.actor, cmd, state.now()).await {
            Ok(t) => return see_other_with("/people", &format!("Team {} added.", t.name)),
            Err(e) => {
                if let Err(e) = errors.refused(e, |_| None) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    let fresh = vec![("role".to_owned(), Role::Agent.as_str().to_owned())];
    show(&state, &viewer, fresh, Errors::default(), form, errors)
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

#[derive(Template)]
#[template(path = "away.html")]
struct AwayPage {
    chrome: Chrome,
    away: AwayForm,
}

async fn show_away(
    state: &AppState,
    viewer: &Viewer,
    value: String,
    errors: Errors,
) -> Result<Response, PageError> {
    let status = if errors.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AwayPage {
        chrome: Chrome::load(state, viewer, "away").await?,
        away: away_form(state, viewer, value, errors).await?,
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// `GET /away`: the signed-in person's availability.
pub async fn away(viewer: Viewer, State(state): State<AppState>) -> Response {
    show_away(&state, &viewer, String::new(), Errors::default())
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// A `datetime-local` value ("2025-06-03T09:00") in the organisation's time zone.
fn local_instant(value: &str, tz: &TimeZone) -> Option<Timestamp> {
    let civil: DateTime = value.trim().parse().ok()?;
    civil.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

/// `POST /away`: away until the time given, or available again (`available=1`), through the
/// availability flow (which routes waiting escalations around someone going away).
pub async fn set_away(State(state): State<AppState>, f: CsrfForm<Pairs>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let mut errors = Errors::default();
    let now = state.now();
    let tz = match zone(&state, &viewer).await {
        Ok(tz) => tz,
        Err(e) => return e.page(Some(&viewer)),
    };
    let until = if one(&form, "available") == "1" {
        Some(None)
    } else {
        match local_instant(one(&form, "away_until"), &tz) {
            Some(t) if t > now => Some(Some(t)),
            Some(_) => {
                errors.fail("away_until", "Choose a time in the future");
                None
            }
            None => {
                errors.fail("away_until", "Choose the date and time you are back");
                None
            }
        }
    };
    if let Some(until) = until {
        let me = viewer.caller.user.id.clone();
        match set_availability(&state.db, &viewer.caller.actor, &me, until, now).await {
            Ok(_) => {
                let done = match until {
                    Some(t) => format!(
                        "You are away until {}. Escalations for you go to the next rung meanwhile.",
                        deadline::when(t, &tz)
                    ),
                    None => "You are available.".to_owned(),
                };
                let back = match one(&form, "back") {
                    "/people" => "/people",
                    _ => "/away",
                };
                return see_other_with(back, &done);
            }
            Err(e) => {
                if let Err(e) = errors.refused(e, |_| Some("away_until")) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    show_away(&state, &viewer, one(&form, "away_until").to_owned(), errors)
        .await
        .unwrap_or_else(|e| e.page(Some(&viewer)))
}
