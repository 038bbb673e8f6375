//! The escalation metrics of a period: the five measures an organisation improves by (time to
//! first response, time to resolution, escalations per 1,000 tickets, the share resolved
//! without return or compensation, repeat escalations) and SLA compliance per clock, for the
//! whole organisation and per group.
//!
//! Storage reads the period's escalation runs with their facts in one statement
//! (`storage::metrics::runs`); the figures are computed here, in memory, from those rows and
//! the runs' SLA clocks, with the core's business-time arithmetic. The definitions are the
//! ones `GET /api/v1/metrics/escalations` documents; they are repeated in the README.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use ladder_core::policy::DEFAULT_CALENDAR;
use ladder_core::sla::{Clock, ClockState};
use ladder_core::{BusinessCalendar, EscalationState, Policy, TenantId, UserId};
use ladder_storage::metrics::{self, RunFacts};
use ladder_storage::{directory, Db, StorageError};
use serde::Serialize;
use sqlx::AnyConnection;

use crate::flows::{FlowError, FlowResult};

/// The longest period one report covers: a year and a day, so that any calendar year (or
/// twelve months from any day) fits and no request reads the whole history at once.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// How the escalations of a report are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The team that held the ticket when it was escalated (`none` when it had none).
    Team,
    /// The escalation's category.
    Category,
    /// The escalation owner at the end of the run (`none` while nobody took it).
    Owner,
    /// The week (ISO 8601, Monday first, in the organisation's time zone) the run began in.
    Week,
}

impl GroupBy {
    pub const NAMES: [&'static str; 4] = ["team", "category", "owner", "week"];

    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "team" => Some(GroupBy::Team),
            "category" => Some(GroupBy::Category),
            "owner" => Some(GroupBy::Owner),
            "week" => Some(GroupBy::Week),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Whose escalations a report counts.
#[derive(Clone, Debug)]
pub enum Scope {
    /// The whole organisation (owners, admins, auditors).
    All,
    /// Escalations this person raised or owns (everyone else who works tickets).
    Own(UserId),
}

/// What a report is asked for.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// Inclusive start of the period.
    pub from: Timestamp,
    /// Exclusive end of the period.
    pub to: Timestamp,
    pub group_by: Option<GroupBy>,
    pub scope: Scope,
}

/// Percentiles of a set of durations, in seconds, wall-clock and business time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Times {
    /// How many escalations the percentiles are taken over.
    pub count: i64,
    pub p50_s: Option<i64>,
    pub p90_s: Option<i64>,
    /// The same in business time: only the open hours of the escalation's calendar count.
    pub business_p50_s: Option<i64>,
    pub business_p90_s: Option<i64>,
}

/// A clock's worst offender: the escalation that overran it the most.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Offender {
    /// The run's first escalation.
    pub escalation_id: String,
    /// The run's last escalation (the one the API shows with its deadlines).
    pub last_escalation_id: String,
    pub ticket_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: Timestamp,
    /// How far past its deadline the clock was met, or is still running, in seconds.
    pub overdue_s: i64,
}

/// Where one clock stands over the escalations of the period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClockFigures {
    pub met: i64,
    pub breached: i64,
    /// Still running, paused (waiting on the customer) included.
    pub running: i64,
    /// Shares of met + breached + running; `null` when there is no escalation.
    pub met_share: Option<f64>,
    pub breached_share: Option<f64>,
    pub running_share: Option<f64>,
    /// The breached escalations that overran the most, worst first (at most five).
    pub worst_offenders: Vec<Offender>,
}

/// SLA compliance per clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlaFigures {
    pub acknowledge_met_share: Option<f64>,
    pub update_met_share: Option<f64>,
    pub resolve_met_share: Option<f64>,
    pub acknowledge: ClockFigures,
    pub update: ClockFigures,
    pub resolve: ClockFigures,
}

/// The figures of a set of escalations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Tickets created in the period (for week groups, in that week); `null` for the other
    /// groups, which are properties of escalations, not of tickets.
    pub tickets: Option<i64>,
    /// Escalations (runs) opened in the period.
    pub escalations: i64,
    /// `escalations * 1000 / tickets`; `null` without tickets.
    pub escalations_per_1000_tickets: Option<f64>,
    pub time_to_first_response: Times,
    pub time_to_resolution: Times,
    /// Escalations of the period that are resolved.
    pub resolved: i64,
    /// Of the resolved ones, the share with no return within the policy's window.
    pub resolved_without_return_share: Option<f64>,
    /// Of the resolved ones, the share with a compensation other than `none`.
    pub resolved_with_compensation_share: Option<f64>,
    /// Escalations whose ticket, or a ticket linked to it, was escalated within the policy's
    /// repeat window before.
    pub repeat_escalations: i64,
    pub sla: SlaFigures,
}

/// One group of a grouped report.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// The group's key: a team or user id, a category, an ISO week (`2025-W23`), or `none`.
    pub key: String,
    /// The key in people's words: a team's or person's name, the week's Monday.
    pub label: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A report: the figures of the period, and of each group.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub group_by: Option<GroupBy>,
    /// The windows of the policy the report was judged with, in days.
    pub return_window_days: u32,
    pub repeat_window_days: u32,
    #[serde(flatten)]
    pub figures: Figures,
    pub groups: Vec<Group>,
}

/// Where one clock of a run stands, and (when breached) its due time and overrun in seconds.
type ClockVerdict = (ClockState, Option<(Timestamp, i64)>);

/// One run, judged: everything its figures need, computed once.
struct Judged {
    facts: RunFacts,
    first_response: Option<(i64, i64)>,
    resolution: Option<(i64, i64)>,
    /// Reopened, or the customer came back, within the return window.
    returned: bool,
    /// Escalated before within the repeat window.
    repeat: bool,
    /// Per clock, in the order of `CLOCKS`; `None` for runs from before SLA clocks.
    clocks: Option<[ClockVerdict; 3]>,
}

const CLOCKS: [Clock; 3] = [Clock::Acknowledge, Clock::Update, Clock::Resolve];

/// The report, read and computed at `now`.
pub async fn report(
    db: &Db,
    tenant: &TenantId,
    policy: &Policy,
    req: &ReportRequest,
    now: Timestamp,
) -> FlowResult<Report> {
    let period = Period::load(db, tenant, policy, req, now).await?;
    period.report(db, tenant, req.group_by).await
}

/// The escalations of a period, read and judged once, from which the report is computed
/// with any grouping (the reports page shows the chosen grouping and the weeks from one read).
pub struct Period {
    from: Timestamp,
    to: Timestamp,
    tickets: i64,
    judged: Vec<Judged>,
    zone: TimeZone,
    return_window_days: u32,
    repeat_window_days: u32,
}

impl Period {
    /// Reads and judges the escalations of `req`'s period (its grouping is not used).
    pub async fn load(
        db: &Db,
        tenant: &TenantId,
        policy: &Policy,
        req: &ReportRequest,
        now: Timestamp,
    ) -> FlowResult<Period> {
        let day = |days: u32| SignedDuration::from_hours(i64::from(days) * 24);
        let windows = Windows {
            repeat: day(policy.metrics.repeat_window_days),
            returned: day(policy.metrics.return_window_days),
        };
        let mut conn = db.conn().await?;
        let conn: &mut AnyConnection = &mut conn;
        let only = match &req.scope {
            Scope::All => None,
            Scope::Own(me) => Some(me),
        };
        let runs = metrics::runs(conn, tenant, req.from, req.to, only).await?;
        let fallback = policy
            .calendar(DEFAULT_CALENDAR)
            .cloned()
            .unwrap_or_default();
        let zone = time_zone(&fallback)?;
        let judged = runs
            .into_iter()
            .map(|r| judge(r, &fallback, windows, now))
            .collect();
        let tickets = metrics::tickets_created(conn, tenant, req.from, req.to).await?;
        Ok(Period {
            from: req.from,
            to: req.to,
            tickets,
            judged,
            zone,
            return_window_days: policy.metrics.return_window_days,
            repeat_window_days: policy.metrics.repeat_window_days,
        })
    }

    /// The report of the period, grouped by `group_by`.
    pub async fn report(
        &self,
        db: &Db,
        tenant: &TenantId,
        group_by: Option<GroupBy>,
    ) -> FlowResult<Report> {
        let zone = &self.zone;
        let all: Vec<&Judged> = self.judged.iter().collect();
        let totals = figures(&all, Some(self.tickets));
        let mut groups = Vec::new();
        if let Some(by) = group_by {
            let mut conn = db.conn().await?;
            let conn: &mut AnyConnection = &mut conn;
            let mut keyed: BTreeMap<String, Vec<&Judged>> = BTreeMap::new();
            let weeks = if by == GroupBy::Week {
                weeks(self.from, self.to, zone)?
            } else {
                Vec::new()
            };
            // Every week of the period is a row, escalations or not, so trends show gaps.
            for (key, _, _) in &weeks {
                keyed.entry(key.clone()).or_default();
            }
            for j in &self.judged {
                keyed
                    .entry(group_key(by, &j.facts, zone)?)
                    .or_default()
                    .push(j);
            }
            let labels = labels(db, conn, tenant, by, keyed.keys(), &weeks, zone).await?;
            // Every week's tickets in one read.
            let bounds: Vec<(Timestamp, Timestamp)> =
                weeks.iter().map(|(_, a, b)| (*a, *b)).collect();
            let counts = metrics::tickets_created_in(conn, tenant, &bounds).await?;
            let week_tickets: HashMap<&str, i64> = weeks
                .iter()
                .zip(counts)
                .map(|((k, _, _), n)| (k.as_str(), n))
                .collect();
            for (key, members) in keyed {
                let tickets = week_tickets.get(key.as_str()).copied();
                groups.push(Group {
                    label: labels.get(&key).cloned().unwrap_or_else(|| key.clone()),
                    figures: figures(&members, tickets),
                    key,
                });
            }
        }
        Ok(Report {
            from: self.from,
            to: self.to,
            group_by,
            return_window_days: self.return_window_days,
            repeat_window_days: self.repeat_window_days,
            figures: totals,
            groups,
        })
    }
}

fn time_zone(calendar: &BusinessCalendar) -> FlowResult<TimeZone> {
    TimeZone::get(&calendar.time_zone).map_err(|e| {
        FlowError::Internal(anyhow::anyhow!(
            "the default calendar's time zone {:?}: {e}",
            calendar.time_zone
        ))
    })
}

fn seconds(d: SignedDuration) -> i64 {
    d.as_secs()
}

/// The policy's windows, which the stored times of a run are judged in.
#[derive(Clone, Copy)]
struct Windows {
    repeat: SignedDuration,
    returned: SignedDuration,
}

/// Works out what one run contributes: its times, return, repeat and clocks as of `now`.
fn judge(facts: RunFacts, fallback: &BusinessCalendar, windows: Windows, now: Timestamp) -> Judged {
    // Runs without a policy snapshot have no business times stored: the default calendar's.
    let span = |end: Timestamp, business: Option<i64>| {
        (
            seconds(end.duration_since(facts.started_at)),
            business
                .unwrap_or_else(|| seconds(fallback.business_time_between(facts.started_at, end))),
        )
    };
    let first_response = facts
        .first_response_at
        .map(|t| span(t, facts.first_response_business_s));
    let resolution = match (facts.state, facts.closed_at) {
        (EscalationState::Resolved, Some(end)) => Some(span(end, facts.resolution_business_s)),
        _ => None,
    };
    let returned = match (resolution, facts.closed_at, facts.returned_at) {
        (Some(_), Some(end), Some(back)) => back.duration_since(end) <= windows.returned,
        _ => false,
    };
    let repeat = facts
        .previous_run_at
        .is_some_and(|before| facts.started_at.duration_since(before) <= windows.repeat);
    let clocks = facts.due.map(|due| {
        let view = due.deadlines(now);
        let at = due.closed_at.unwrap_or(now).min(now);
        let overrun =
            |state: ClockState, due: Option<Timestamp>, done: Option<Timestamp>| match (state, due)
            {
                (ClockState::Breached, Some(due)) => Some((
                    due,
                    seconds(done.unwrap_or(at).min(at).duration_since(due)).max(0),
                )),
                _ => None,
            };
        [
            (
                view.acknowledge.state,
                overrun(
                    view.acknowledge.state,
                    view.acknowledge.due_at,
                    due.acknowledged_at,
                ),
            ),
            (
                view.update.state,
                overrun(view.update.state, view.update.due_at, None),
            ),
            (
                view.resolve.state,
                overrun(view.resolve.state, view.resolve.due_at, due.closed_at),
            ),
        ]
    });
    Judged {
        facts,
        first_response,
        resolution,
        returned,
        repeat,
        clocks,
    }
}

/// The nearest-rank percentile (`p` in 1..=100) of sorted values: the smallest value with at
/// least p% of the values at or below it.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn times(pairs: impl Iterator<Item = (i64, i64)>) -> Times {
    let (mut wall, mut business): (Vec<i64>, Vec<i64>) = pairs.unzip();
    wall.sort_unstable();
    business.sort_unstable();
    Times {
        count: wall.len() as i64,
        p50_s: percentile(&wall, 50),
        p90_s: percentile(&wall, 90),
        business_p50_s: percentile(&business, 50),
        business_p90_s: percentile(&business, 90),
    }
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn figures(runs: &[&Judged], tickets: Option<i64>) -> Figures {
    let escalations = runs.len() as i64;
    let resolved: Vec<&&Judged> = runs.iter().filter(|j| j.resolution.is_some()).collect();
    let n_resolved = resolved.len() as i64;
    let without_return = resolved.iter().filter(|j| !j.returned).count() as i64;
    let compensated = resolved.iter().filter(|j| j.facts.compensated).count() as i64;
    let mut sla = SlaFigures::default();
    for (i, clock) in CLOCKS.iter().enumerate() {
        let mut f = ClockFigures::default();
        let mut offenders = Vec::new();
        for j in runs {
            let Some(clocks) = &j.clocks else { continue };
            let (state, overrun) = &clocks[i];
            match state {
                ClockState::Met => f.met += 1,
                ClockState::Breached => f.breached += 1,
                ClockState::Running | ClockState::Paused => f.running += 1,
            }
            if let Some((due, overdue_s)) = overrun {
                offenders.push(Offender {
                    escalation_id: j.facts.id.as_str().to_owned(),
                    last_escalation_id: j.facts.last_id.as_str().to_owned(),
                    ticket_id: j.facts.ticket_id.as_str().to_owned(),
                    due_at: *due,
                    overdue_s: *overdue_s,
                });
            }
        }
        offenders.sort_by(|a, b| {
            b.overdue_s
                .cmp(&a.overdue_s)
                .then_with(|| a.escalation_id.cmp(&b.escalation_id))
        });
        offenders.truncate(5);
        let total = f.met + f.breached + f.running;
        f.met_share = share(f.met, total);
        f.breached_share = share(f.breached, total);
        f.running_share = share(f.running, total);
        f.worst_offenders = offenders;
        match clock {
            Clock::Acknowledge => {
                sla.acknowledge_met_share = f.met_share;
                sla.acknowledge = f;
            }
            Clock::Update => {
                sla.update_met_share = f.met_share;
                sla.update = f;
            }
            Clock::Resolve => {
                sla.resolve_met_share = f.met_share;
                sla.resolve = f;
            }
        }
    }
    Figures {
        tickets,
        escalations,
        escalations_per_1000_tickets: tickets
            .filter(|t| *t > 0)
            .map(|t| escalations as f64 * 1000.0 / t as f64),
        time_to_first_response: times(runs.iter().filter_map(|j| j.first_response)),
        time_to_resolution: times(runs.iter().filter_map(|j| j.resolution)),
        resolved: n_resolved,
        resolved_without_return_share: share(without_return, n_resolved),
        resolved_with_compensation_share: share(compensated, n_resolved),
        repeat_escalations: runs.iter().filter(|j| j.repeat).count() as i64,
        sla,
    }
}

/// The ISO week of an instant in `zone`, as `2025-W23`, with its Monday.
fn iso_week(t: Timestamp, zone: &TimeZone) -> (String, Date) {
    let date = t.to_zoned(zone.clone()).date();
    let week = date.iso_week_date();
    let back = i64::from(date.weekday().to_monday_zero_offset());
    let monday = date.checked_sub(back.days()).unwrap_or(date);
    (format!("{:04}-W{:02}", week.year(), week.week()), monday)
}

/// The weeks that meet `[from, to)`: key, and the part of the week inside the period.
fn weeks(
    from: Timestamp,
    to: Timestamp,
    zone: &TimeZone,
) -> FlowResult<Vec<(String, Timestamp, Timestamp)>> {
    let mut out = Vec::new();
    let (_, mut monday) = iso_week(from, zone);
    loop {
        let start = monday
            .to_zoned(zone.clone())
            .map_err(|e| FlowError::Internal(anyhow::anyhow!("the start of week {monday}: {e}")))?
            .timestamp();
        if start >= to {
            break;
        }
        let next = monday
            .checked_add(7.days())
            .map_err(|e| FlowError::Internal(anyhow::anyhow!("the week after {monday}: {e}")))?;
        let end = next
            .to_zoned(zone.clone())
            .map_err(|e| FlowError::Internal(anyhow::anyhow!("the start of week {next}: {e}")))?
            .timestamp();
        let (key, _) = iso_week(start.max(from), zone);
        out.push((key, start.max(from), end.min(to)));
        monday = next;
    }
    Ok(out)
}

fn group_key(by: GroupBy, facts: &RunFacts, zone: &TimeZone) -> Result<String, StorageError> {
    Ok(match by {
        GroupBy::Team => facts.team_id.clone().unwrap_or_else(|| "none".into()),
        GroupBy::Category => facts.category.as_str().to_owned(),
        GroupBy::Owner => facts
            .owner_id
            .as_ref()
            .map_or_else(|| "none".into(), |u| u.as_str().to_owned()),
        GroupBy::Week => iso_week(facts.started_at, zone).0,
    })
}

/// Labels for the groups: team and people's names, the weeks' Mondays.
async fn labels<'a>(
    db: &Db,
    conn: &mut AnyConnection,
    tenant: &TenantId,
    by: GroupBy,
    keys: impl Iterator<Item = &'a String>,
    weeks: &[(String, Timestamp, Timestamp)],
    zone: &TimeZone,
) -> FlowResult<HashMap<String, String>> {
    let keys: Vec<String> = keys.filter(|k| *k != "none").cloned().collect();
    let mut out: HashMap<String, String> = HashMap::new();
    out.insert("none".into(), "none".into());
    match by {
        GroupBy::Team => {
            for t in directory::teams(db, tenant).await? {
                out.insert(t.id.as_str().to_owned(), t.name);
            }
        }
        GroupBy::Owner => {
            for u in directory::users_by_id(conn, tenant, &keys).await? {
                out.insert(u.id.as_str().to_owned(), u.name);
            }
        }
        GroupBy::Category => {}
        GroupBy::Week => {
            for (key, start, _) in weeks {
                let (_, monday) = iso_week(*start, zone);
                out.insert(key.clone(), format!("week of {monday}"));
            }
        }
    }
    Ok(out)
}
