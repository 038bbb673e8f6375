//! The policy: the rules as a table in order (when → chain → SLA), the calendars and the
//! trigger modes; "Try a ticket" (the simulator) with the chain and its due times; and
//! "Edit as file", the TOML in a textarea whose problems are shown beside the lines at fault
//! (nothing is saved until there are none).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use ladder_core::policy::{Facts, Match, Simulation};
use ladder_core::{Category, Channel, CustomerTier, Policy, Priority, Target, TriggerKind};
use ladder_storage::directory;
use serde::Deserialize;

use super::customers::zone;
use super::deadline;
use super::fields::{sentence, Errors};
use super::{render_status, see_other_with, shown, words, Chrome, CsrfForm, PageError, Viewer};
use crate::flows::policy as policy_flow;
use crate::flows::FlowError;
use crate::state::AppState;

/// One rule as the table shows it.
struct RuleLine {
    name: String,
    when: Vec<String>,
    chain: Vec<String>,
    sla: String,
    calendar: String,
    extra: Vec<String>,
}

struct CalendarLine {
    name: String,
    zone: String,
    hours: Vec<String>,
    holidays: String,
}

struct TriggerLine {
    kind: String,
    mode: &'static str,
    category: String,
}

/// What "Try a ticket" was asked, as its GET form sends it (`triggers` repeats).
type Pairs = Vec<(String, String)>;

fn one<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A dry run as shown: each line a step with its due time.
struct Tried {
    rule: String,
    calendar: String,
    steps: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    chrome: Chrome,
    version: u32,
    manager: bool,
    rules: Vec<RuleLine>,
    calendars: Vec<CalendarLine>,
    triggers: Vec<TriggerLine>,
    reply_locks: String,
    limits: Vec<(String, String)>,
    try_form: Pairs,
    try_errors: Errors,
    tried: Option<Tried>,
    categories: Vec<&'static str>,
    priorities: Vec<&'static str>,
    tiers: Vec<&'static str>,
    channels: Vec<&'static str>,
    trigger_kinds: Vec<&'static str>,
}

impl PolicyPage {
    fn tried_value(&self, name: &str) -> &str {
        one(&self.try_form, name)
    }
    fn trigger_checked(&self, kind: &str) -> bool {
        self.try_form
            .iter()
            .any(|(k, v)| k == "triggers" && v == kind)
    }
}

/// Names for the targets a chain names: people and teams of the organisation.
struct Names {
    users: HashMap<String, String>,
    teams: HashMap<String, String>,
}

impl Names {
    async fn load(state: &AppState, viewer: &Viewer) -> Result<Names, PageError> {
        let tenant = viewer.caller.tenant_id();
        let users = directory::users(&state.db, tenant).await?;
        let teams = directory::teams(&state.db, tenant).await?;
        Ok(Names {
            users: users
                .into_iter()
                .map(|u| (u.id.as_str().to_owned(), u.name))
                .collect(),
            teams: teams
                .into_iter()
                .map(|t| (t.id.as_str().to_owned(), t.name))
                .collect(),
        })
    }

    fn target(&self, t: &Target) -> String {
        match t {
            Target::Owner => "Owner".to_owned(),
            Target::User { id } => self
                .users
                .get(id.as_str())
                .cloned()
                .unwrap_or_else(|| format!("unknown person {}", id.as_str())),
            Target::Team { id } => match self.teams.get(id.as_str()) {
                Some(name) => format!("Team {name}"),
                None => format!("unknown team {}", id.as_str()),
            },
            Target::Role { role } => format!("Every {}", words(role.as_str()).to_lowercase()),
            Target::Platform => "Platform support".to_owned(),
        }
    }
}

/// A duration as the policy file writes it (`1h`, `30m`, `3bd`, `eod`), in words where the
/// file's shorthand is not obvious.
fn human(d: &impl std::fmt::Display) -> String {
    let s = d.to_string();
    match s.as_str() {
        "eod" => "by end of day".to_owned(),
        "1bd" => "1 business day".to_owned(),
        _ => match s.strip_suffix("bd") {
            Some(n) => format!("{n} business days"),
            None => s,
        },
    }
}

fn conditions(m: &Match) -> Vec<String> {
    fn list<T: AsRef<str>>(label: &str, xs: &[T]) -> Option<String> {
        (!xs.is_empty()).then(|| {
            let names: Vec<String> = xs
                .iter()
                .map(|x| words(x.as_ref()).to_lowercase())
                .collect();
            format!("{label} {}", names.join(" or "))
        })
    }
    let out: Vec<String> = [
        list("category", &m.categories),
        list("priority", &m.priorities),
        list("tier", &m.tiers),
        list("trigger", &m.triggers),
        list("channel", &m.channels),
    ]
    .into_iter()
    .flatten()
    .collect();
    if out.is_empty() {
        vec!["every ticket".to_owned()]
    } else {
        out
    }
}

fn rule_lines(policy: &Policy, names: &Names) -> Vec<RuleLine> {
    policy
        .rules
        .iter()
        .map(|r| {
            let mut extra = Vec::new();
            if let Some(d) = &r.first_response_within {
                extra.push(format!(
                    "escalates by itself without a first response within {}",
                    human(d)
                ));
            }
            if r.reescalate_on_breach {
                extra.push("moves up on a breach".to_owned());
            }
            extra.push(format!(
                "reminds at {}% of a deadline, then every {}",
                r.remind_at_percent,
                human(&r.remind_every)
            ));
            RuleLine {
                name: r.name.clone(),
                when: conditions(&r.when),
                chain: r
                    .chain
                    .iter()
                    .map(|rung| {
                        format!(
                            "{} ({})",
                            names.target(&rung.target),
                            human(&rung.ack_within)
                        )
                    })
                    .collect(),
                sla: format!(
                    "acknowledge within {} · update every {} · resolve {}",
                    human(&r.sla.acknowledge),
                    human(&r.sla.update_every),
                    match human(&r.sla.resolve) {
                        eod if eod.starts_with("by ") => eod,
                        other => format!("within {other}"),
                    }
                ),
                calendar: r.calendar.clone(),
                extra,
            }
        })
        .collect()
}

fn calendar_lines(policy: &Policy) -> Vec<CalendarLine> {
    policy
        .calendars
        .iter()
        .map(|c| {
            // The week's hours serialise as {"mon": ["09:00-17:00"], …}, only open days.
            let week = serde_json::to_value(&c.hours).unwrap_or_default();
            let hours = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .filter_map(|day| {
                    let spans: Vec<&str> = week[*day]
                        .as_array()?
                        .iter()
                        .filter_map(|s| s.as_str())
                        .collect();
                    (!spans.is_empty()).then(|| format!("{} {}", words(day), spans.join(", ")))
                })
                .collect();
            CalendarLine {
                name: c.name.clone(),
                zone: c.time_zone.clone(),
                hours,
                holidays: c
                    .holidays
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect()
}

/// A `datetime-local` value in the organisation's time zone.
fn local_instant(value: &str, tz: &TimeZone) -> Option<Timestamp> {
    let civil: DateTime = value.trim().parse().ok()?;
    civil.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

/// Runs "Try a ticket" when its form was sent (`try=1`).
fn try_ticket(
    policy: &Policy,
    form: &Pairs,
    names: &Names,
    tz: &TimeZone,
    now: Timestamp,
    errors: &mut Errors,
) -> Option<Tried> {
    if one(form, "try") != "1" {
        return None;
    }
    let category: Option<Category> = errors.choice("category", one(form, "category"), "a category");
    let priority: Option<Priority> = errors.choice("priority", one(form, "priority"), "a priority");
    let tier: Option<CustomerTier> = errors.choice("tier", one(form, "tier"), "a customer tier");
    let channel: Option<Channel> = errors.choice("channel", one(form, "channel"), "a channel");
    let mut triggers = Vec::new();
    for (_, v) in form.iter().filter(|(k, _)| k == "triggers") {
        match v.parse::<TriggerKind>() {
            Ok(t) => triggers.push(t),
            Err(_) => errors.fail("triggers", "Choose triggers from the list"),
        }
    }
    let at = match one(form, "at").trim() {
        "" => Some(now),
        v => {
            let t = local_instant(v, tz);
            if t.is_none() {
                errors.fail("at", "Give a date and time, or leave it empty for now");
            }
            t
        }
    };
    let (Some(category), Some(priority), Some(tier), Some(channel), Some(at)) =
        (category, priority, tier, channel, at)
    else {
        return None;
    };
    let facts = Facts {
        category,
        priority,
        tier,
        triggers,
        channel,
    };
    let Some(sim) = policy.simulate(&facts, at) else {
        errors.top = Some("No rule of the policy applies to this ticket.".to_owned());
        return None;
    };
    Some(shown_simulation(&sim, names, tz, at))
}

fn shown_simulation(sim: &Simulation, names: &Names, tz: &TimeZone, at: Timestamp) -> Tried {
    let due = |t: Timestamp| {
        format!(
            "{} ({} after)",
            deadline::when(t, tz),
            deadline::span(t.duration_since(at))
        )
    };
    let mut steps = vec![("Escalated".to_owned(), deadline::when(at, tz))];
    for (i, rung) in sim.chain.iter().enumerate() {
        steps.push((
            format!(
                "Rung {}: {} must acknowledge by",
                i + 1,
                names.target(&rung.target)
            ),
            due(rung.ack_due),
        ));
    }
    steps.push((
        "Reminder to acknowledge".to_owned(),
        due(sim.acknowledge_reminder),
    ));
    steps.push((
        "Acknowledgement due (SLA)".to_owned(),
        due(sim.acknowledge_due),
    ));
    steps.push((
        "First update to the customer due".to_owned(),
        due(sim.first_update_due),
    ));
    steps.push(("Resolution due".to_owned(), due(sim.resolve_due)));
    if let Some(t) = sim.first_response_due {
        steps.push((
            "Not escalated: escalates by itself without a first response at".to_owned(),
            due(t),
        ));
    }
    Tried {
        rule: format!("{} (rule {} of the policy)", sim.rule, sim.rule_index + 1),
        calendar: sim.calendar.clone(),
        steps,
    }
}

/// `GET /policy[?try=1&category=…]`.
pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(form): Query<Pairs>,
) -> Response {
    let run = async {
        viewer.caller.actor.require_staff("read the policy")?;
        let tenant = viewer.caller.tenant_id();
        let mut conn = state.db.conn().await?;
        let policy = crate::flows::policy_in(&mut conn, tenant).await?;
        let names = Names::load(&state, &viewer).await?;
        let tz = zone(&state, &viewer).await?;
        let mut try_errors = Errors::default();
        let tried = try_ticket(&policy, &form, &names, &tz, state.now(), &mut try_errors);
        let try_form = if form.is_empty() {
            vec![
                ("category".to_owned(), "legal".to_owned()),
                ("priority".to_owned(), "normal".to_owned()),
                ("tier".to_owned(), "standard".to_owned()),
                ("channel".to_owned(), "phone".to_owned()),
            ]
        } else {
            form
        };
        let triggers = TriggerKind::names()
            .into_iter()
            .filter_map(|name| name.parse::<TriggerKind>().ok())
            .map(|k| {
                let setting = policy.triggers.get(&k);
                TriggerLine {
                    kind: words(k.as_str()),
                    mode: policy.trigger_mode(k).as_str(),
                    category: match setting.and_then(|s| s.category) {
                        Some(c) => words(c.as_str()),
                        None => format!("{} (default)", words(policy.trigger_category(k).as_str())),
                    },
                }
            })
            .collect();
        let limits = policy
            .authority_limits
            .iter()
            .map(|(role, limit)| {
                let amount = match limit {
                    ladder_core::policy::AuthorityLimit::UpTo(n) => {
                        super::approvals::money(*n, &policy.currency)
                    }
                    ladder_core::policy::AuthorityLimit::Unlimited => "no limit".to_owned(),
                };
                (words(role.as_str()), amount)
            })
            .collect();
        let status = if try_errors.ok() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let page = PolicyPage {
            chrome: Chrome::load(&state, &viewer, "policy").await?,
            version: policy.version,
            manager: viewer.caller.actor.require_manager("edit").is_ok(),
            rules: rule_lines(&policy, &names),
            calendars: calendar_lines(&policy),
            triggers,
            reply_locks: policy
                .reply_lock_categories
                .iter()
                .map(|c| words(c.as_str()).to_lowercase())
                .collect::<Vec<_>>()
                .join(", "),
            limits,
            try_form,
            try_errors,
            tried,
            categories: Category::names(),
            priorities: Priority::names(),
            tiers: CustomerTier::names(),
            channels: Channel::names(),
            trigger_kinds: TriggerKind::names(),
        };
        Ok::<_, PageError>(shown(&viewer, render_status(status, &page)))
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// A problem of the edited file, placed at its line when it has one.
struct Problem {
    line: Option<usize>,
    /// The text of that line, shown beside the message.
    text: String,
    message: String,
}

#[derive(Template)]
#[template(path = "policy_edit.html")]
struct EditPage {
    chrome: Chrome,
    toml: String,
    version: u32,
    problems: Vec<Problem>,
    top: Option<String>,
}

async fn show_edit(
    state: &AppState,
    viewer: &Viewer,
    toml: String,
    version: u32,
    problems: Vec<Problem>,
    top: Option<String>,
) -> Result<Response, PageError> {
    let status = if problems.is_empty() && top.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = EditPage {
        chrome: Chrome::load(state, viewer, "policy").await?,
        toml,
        version,
        problems,
        top,
    };
    Ok(shown(viewer, render_status(status, &page)))
}

/// `GET /policy/edit` (owners and admins): the policy in force as TOML.
pub async fn edit(viewer: Viewer, State(state): State<AppState>) -> Response {
    let run = async {
        viewer
            .caller
            .actor
            .require_manager("change the escalation policy")?;
        let mut conn = state.db.conn().await?;
        let policy = crate::flows::policy_in(&mut conn, viewer.caller.tenant_id()).await?;
        show_edit(
            &state,
            &viewer,
            policy.to_toml(),
            policy.version,
            Vec::new(),
            None,
        )
        .await
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    toml: String,
    #[serde(default)]
    version: u32,
}

/// The 1-based line of the `n`-th (0-based) `[[section]]` header of the file.
fn nth_table(text: &str, section: &str, n: usize) -> Option<usize> {
    let header = format!("[[{section}]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// The line a JSON path of the document points at: a rule's or a calendar's table header,
/// or the line setting a top-level key (`currency`); none when the file does not say.
fn line_of(text: &str, field: &str) -> Option<usize> {
    for section in ["rules", "calendars"] {
        if let Some(rest) = field.strip_prefix(&format!("{section}[")) {
            let n: usize = rest.split(']').next()?.parse().ok()?;
            return nth_table(text, section, n);
        }
    }
    let key = field.rsplit('.').next()?;
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

fn problem(text: &str, line: Option<usize>, message: String) -> Problem {
    let shown = line
        .and_then(|n| text.lines().nth(n.saturating_sub(1)))
        .unwrap_or_default()
        .to_owned();
    Problem {
        line,
        text: shown,
        message,
    }
}

/// `POST /policy/edit`: parses the file, checks it against the organisation's people and
/// teams and saves it through the policy flow, or shows every problem beside its line.
pub async fn save(State(state): State<AppState>, f: CsrfForm<EditForm>) -> Response {
    let (viewer, form) = (f.viewer, f.form);
    let text = form.toml.replace("\r\n", "\n");
    let run = async {
        viewer
            .caller
            .actor
            .require_manager("change the escalation policy")?;
        let policy = match Policy::from_toml(&text) {
            Ok(p) => p,
            Err(e) => {
                let line = (e.line > 0).then_some(e.line);
                let message = match line {
                    Some(_) => format!("Column {}: {}", e.column, sentence(&e.message)),
                    None => sentence(&e.message),
                };
                let problems = vec![problem(&text, line, message)];
                return show_edit(&state, &viewer, text.clone(), form.version, problems, None)
                    .await;
            }
        };
        let saved = policy_flow::save(
            &state.db,
            viewer.caller.tenant_id(),
            Some(&viewer.caller.user.id),
            policy,
            Some(form.version),
            state.now(),
        )
        .await;
        match saved {
            Ok(saved) => {
                if saved.changed {
                    state.metrics.event("policy_changed");
                    Ok(see_other_with(
                        "/policy",
                        &format!("Policy saved as version {}.", saved.policy.version),
                    ))
                } else {
                    Ok(see_other_with(
                        "/policy",
                        "Nothing changed: the file is the policy in force.",
                    ))
                }
            }
            Err(FlowError::InvalidFields(list)) => {
                let mut problems: Vec<Problem> = list
                    .into_iter()
                    .map(|f| problem(&text, line_of(&text, &f.field), sentence(&f.detail)))
                    .collect();
                problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
                show_edit(&state, &viewer, text.clone(), form.version, problems, None).await
            }
            Err(FlowError::Invalid { field, detail }) => {
                let problems = vec![problem(&text, line_of(&text, &field), sentence(&detail))];
                show_edit(&state, &viewer, text.clone(), form.version, problems, None).await
            }
            Err(FlowError::Conflict(m)) => {
                show_edit(
                    &state,
                    &viewer,
                    text.clone(),
                    form.version,
                    Vec::new(),
                    Some(sentence(&m)),
                )
                .await
            }
            Err(other) => Err(other.into()),
        }
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "currency = \"USD\"\n\n[[calendars]]\nname = \"default\"\n\n\
        [[rules]]\nname = \"legal\"\n\n[[rules]]\nname = \"everything\"\n";

    #[test]
    fn a_problem_is_placed_at_the_table_or_key_it_names() {
        assert_eq!(line_of(FILE, "rules[0].chain[0].target.id"), Some(6));
        assert_eq!(line_of(FILE, "rules[1].when"), Some(9));
        assert_eq!(line_of(FILE, "calendars[0]"), Some(3));
        assert_eq!(line_of(FILE, "currency"), Some(1));
        assert_eq!(line_of(FILE, "rules[7].sla"), None);
        assert_eq!(line_of(FILE, "authority_limits.owner"), None);
    }
}
