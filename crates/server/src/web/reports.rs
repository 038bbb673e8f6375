//! Reports: `/reports?from=&to=&group_by=` shows the escalation metrics of a period (the
//! same figures as `GET /api/v1/metrics/escalations`, read by `reports::Period`) as big
//! numbers against the period before, charts drawn on the server (see `charts.rs`), tables,
//! and a "Download CSV" link to the API with the same parameters.
//!
//! Who sees what mirrors the API (`routes::metrics::scope`): owners, admins and auditors the
//! organisation's figures, everyone else who works tickets their own escalations.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::ToSpan;
use ladder_core::policy::DEFAULT_CALENDAR;
use ladder_core::TicketId;

use super::charts;
use super::queues::context_rows;
use super::{render_status, shown, Chrome, PageError, Viewer};
use crate::error::ApiError;
use crate::reports::{Figures, GroupBy, Period, Report, ReportRequest, Scope, Times};
use crate::routes::metrics;
use crate::state::AppState;

/// One of the period picker's shortcuts.
struct Preset {
    label: &'static str,
    from: Date,
    to: Date,
    current: bool,
}

/// A big number: one of the five measures, with what it was in the period before.
struct Measure {
    name: &'static str,
    value: String,
    detail: String,
    before: String,
}

/// One clock's line of the SLA table.
struct ClockRow {
    name: &'static str,
    met: i64,
    breached: i64,
    running: i64,
    met_share: String,
    offenders: Vec<OffenderRow>,
}

struct OffenderRow {
    ticket_id: String,
    /// The ticket's subject (its id if it cannot be read).
    subject: String,
    overdue: String,
}

/// A row of the grouped table (the first one is the whole period).
struct TableRow {
    label: String,
    escalations: i64,
    per_1000: String,
    first_response: String,
    resolution: String,
    resolved: i64,
    without_return: String,
    with_compensation: String,
    repeats: i64,
    acknowledge: String,
    update: String,
    resolve: String,
}

/// The error of a bad period, shown above the form.
struct Problem {
    field: String,
    message: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    /// The form's values as sent (so a bad one can be corrected).
    from: String,
    to: String,
    group_by: String,
    groupings: Vec<(&'static str, &'static str)>,
    presets: Vec<Preset>,
    problem: Option<Problem>,
    own: bool,
    body: Option<Body>,
}

/// What the page shows once the period reads.
struct Body {
    period: String,
    before: String,
    measures: Vec<Measure>,
    clocks: Vec<ClockRow>,
    group_label: String,
    rows: Vec<TableRow>,
    chart_rate: String,
    chart_rate_text: String,
    chart_response: String,
    chart_response_text: String,
    chart_sla: String,
    chart_sla_text: String,
    csv_href: String,
    escalations: i64,
}

const GROUPINGS: [(&str, &str); 5] = [
    ("", "No grouping"),
    ("week", "Week"),
    ("team", "Team"),
    ("category", "Category"),
    ("owner", "Escalation owner"),
];

/// `GET /reports`.
pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let run = async {
        let scope = metrics::scope(&viewer.caller).map_err(|e| match e {
            ApiError::Forbidden(m) => PageError::Forbidden(m),
            other => PageError::Api(other),
        })?;
        let tenant = viewer.caller.tenant_id();
        let policy = crate::flows::policy(&state.db, tenant).await?;
        let zone_name = policy
            .calendar(DEFAULT_CALENDAR)
            .map_or("UTC", |c| c.time_zone.as_str());
        let zone = TimeZone::get(zone_name).map_err(|e| {
            PageError::Api(ApiError::Internal(anyhow::anyhow!(
                "the default calendar's time zone {zone_name:?}: {e}"
            )))
        })?;
        let now = state.now();
        let today = now.to_zoned(zone.clone()).date();
        let presets = presets(today)?;
        // Without a period the page shows the last 30 days by week.
        let mut sent: BTreeMap<String, String> = q
            .into_iter()
            .filter(|(k, v)| matches!(k.as_str(), "from" | "to" | "group_by") && !v.is_empty())
            .collect();
        if !sent.contains_key("from") && !sent.contains_key("to") {
            let default = &presets[0];
            sent.insert("from".into(), default.from.to_string());
            sent.insert("to".into(), default.to.to_string());
            sent.entry("group_by".into())
                .or_insert_with(|| "week".into());
        }
        let value = |k: &str| sent.get(k).cloned().unwrap_or_default();
        let own = matches!(scope, Scope::Own(_));
        let mut page = ReportsPage {
            chrome: Chrome::load(&state, &viewer, "reports").await?,
            from: value("from"),
            to: value("to"),
            group_by: value("group_by"),
            groupings: GROUPINGS.to_vec(),
            presets: Vec::new(),
            problem: None,
            own,
            body: None,
        };
        let req = match metrics::request(&sent, &policy, scope) {
            Ok(req) => req,
            Err(ApiError::Invalid {
                field: Some(field),
                detail,
                ..
            }) => {
                let message = format!("{}: {detail}.", field_name(&field));
                page.problem = Some(Problem { field, message });
                page.presets = mark(presets, None, None);
                return Ok(shown(
                    &viewer,
                    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page),
                ));
            }
            Err(e) => return Err(PageError::Api(e)),
        };
        let period = Period::load(&state.db, tenant, &policy, &req, now).await?;
        // The charts are by week whatever the table's grouping.
        let weekly = period
            .report(&state.db, tenant, Some(GroupBy::Week))
            .await?;
        let report = match req.group_by {
            Some(GroupBy::Week) => weekly.clone(),
            by => period.report(&state.db, tenant, by).await?,
        };
        // The period of the same length just before, for the big numbers' comparison.
        let length = req.to.duration_since(req.from);
        let earlier = ReportRequest {
            from: req.from.checked_sub(length).map_err(|e| {
                PageError::Api(ApiError::Internal(anyhow::anyhow!(
                    "the period before {}: {e}",
                    req.from
                )))
            })?,
            to: req.from,
            group_by: None,
            scope: req.scope.clone(),
        };
        let before = Period::load(&state.db, tenant, &policy, &earlier, now)
            .await?
            .report(&state.db, tenant, None)
            .await?;
        let (first_day, last_day) = dates(&req, &zone);
        page.presets = mark(presets, Some(first_day), Some(last_day));
        let mut shown_body = body(&report, &weekly, &before, &req, &zone)?;
        // The worst offenders by their subjects, read in one go.
        let ids: Vec<TicketId> = shown_body
            .clocks
            .iter()
            .flat_map(|c| c.offenders.iter().map(|o| TicketId(o.ticket_id.clone())))
            .collect();
        let subjects: HashMap<String, String> = context_rows(&state, &ids, now)
            .await?
            .into_iter()
            .map(|r| (r.ticket_id, r.subject))
            .collect();
        for o in shown_body
            .clocks
            .iter_mut()
            .flat_map(|c| c.offenders.iter_mut())
        {
            if let Some(subject) = subjects.get(&o.ticket_id) {
                o.subject.clone_from(subject);
            }
        }
        page.body = Some(shown_body);
        Ok::<_, PageError>(shown(&viewer, render_status(StatusCode::OK, &page)))
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}

/// The query parameter's name as the form labels it.
fn field_name(field: &str) -> &str {
    match field {
        "from" => "From",
        "to" => "To",
        "group_by" => "Group by",
        other => other,
    }
}

/// The picker's shortcuts, as of `today` in the organisation's zone: the default first.
fn presets(today: Date) -> Result<Vec<Preset>, PageError> {
    let fail = |e: jiff::Error| {
        PageError::Api(ApiError::Internal(anyhow::anyhow!(
            "the report presets for {today}: {e}"
        )))
    };
    let quarter_start = |d: Date| Date::new(d.year(), (d.month() - 1) / 3 * 3 + 1, 1);
    let this_quarter = quarter_start(today).map_err(fail)?;
    let last_quarter = this_quarter.checked_sub(3.months()).map_err(fail)?;
    let year_start = Date::new(today.year(), 1, 1).map_err(fail)?;
    let preset = |label, from, to| Preset {
        label,
        from,
        to,
        current: false,
    };
    Ok(vec![
        preset(
            "Last 30 days",
            today.checked_sub(29.days()).map_err(fail)?,
            today,
        ),
        preset("This quarter", this_quarter, today),
        preset(
            "Last quarter",
            last_quarter,
            this_quarter.yesterday().map_err(fail)?,
        ),
        preset("This year", year_start, today),
        preset(
            "Last 12 months",
            today
                .checked_sub(1.year())
                .and_then(|d| d.tomorrow())
                .map_err(fail)?,
            today,
        ),
    ])
}

fn mark(mut presets: Vec<Preset>, from: Option<Date>, to: Option<Date>) -> Vec<Preset> {
    for p in &mut presets {
        p.current = Some(p.from) == from && Some(p.to) == to;
    }
    presets
}

/// The period's first and last day in `zone` (`to` is exclusive).
fn dates(req: &ReportRequest, zone: &TimeZone) -> (Date, Date) {
    let first = req.from.to_zoned(zone.clone()).date();
    let last = req
        .to
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap_or(req.to)
        .to_zoned(zone.clone())
        .date();
    (first, last)
}

fn day_text(d: Date) -> String {
    d.strftime("%-d %b %Y").to_string()
}

/// A duration in seconds in people's words: "45 s", "12 min", "3 h 05 min", "2 d 4 h".
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => format!("{} h {:02} min", s / 3_600, s % 3_600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3_600),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn median(t: &Times) -> String {
    t.p50_s.map_or_else(|| "–".to_owned(), duration)
}

fn p50_p90(t: &Times) -> String {
    match (t.p50_s, t.p90_s) {
        (Some(a), Some(b)) => format!("{} / {}", duration(a), duration(b)),
        _ => "–".to_owned(),
    }
}

fn measures(now: &Figures, before: &Figures) -> Vec<Measure> {
    let times = |t: &Times| match (t.p90_s, t.business_p50_s) {
        (Some(p90), Some(b50)) => format!(
            "median of {}; 90% within {}; {} in business hours",
            t.count,
            duration(p90),
            duration(b50)
        ),
        _ => "none in this period".to_owned(),
    };
    vec![
        Measure {
            name: "First response",
            value: median(&now.time_to_first_response),
            detail: times(&now.time_to_first_response),
            before: median(&before.time_to_first_response),
        },
        Measure {
            name: "Resolution",
            value: median(&now.time_to_resolution),
            detail: times(&now.time_to_resolution),
            before: median(&before.time_to_resolution),
        },
        Measure {
            name: "Escalations per 1,000 tickets",
            value: rate(now.escalations_per_1000_tickets),
            detail: format!(
                "{} escalations, {} tickets",
                now.escalations,
                now.tickets.unwrap_or(0)
            ),
            before: rate(before.escalations_per_1000_tickets),
        },
        Measure {
            name: "Resolved without return",
            value: percent(now.resolved_without_return_share),
            detail: format!(
                "of {} resolved; {} with compensation",
                now.resolved,
                percent(now.resolved_with_compensation_share)
            ),
            before: percent(before.resolved_without_return_share),
        },
        Measure {
            name: "Repeat escalations",
            value: now.repeat_escalations.to_string(),
            detail: "escalated again within the repeat window".to_owned(),
            before: before.repeat_escalations.to_string(),
        },
    ]
}

fn row(label: String, f: &Figures) -> TableRow {
    TableRow {
        label,
        escalations: f.escalations,
        per_1000: rate(f.escalations_per_1000_tickets),
        first_response: p50_p90(&f.time_to_first_response),
        resolution: p50_p90(&f.time_to_resolution),
        resolved: f.resolved,
        without_return: percent(f.resolved_without_return_share),
        with_compensation: percent(f.resolved_with_compensation_share),
        repeats: f.repeat_escalations,
        acknowledge: percent(f.sla.acknowledge_met_share),
        update: percent(f.sla.update_met_share),
        resolve: percent(f.sla.resolve_met_share),
    }
}

fn body(
    report: &Report,
    weekly: &Report,
    before: &Report,
    req: &ReportRequest,
    zone: &TimeZone,
) -> Result<Body, PageError> {
    let f = &report.figures;
    let (first, last) = dates(req, zone);
    let (b_first, b_last) = dates(
        &ReportRequest {
            from: before.from,
            to: before.to,
            group_by: None,
            scope: req.scope.clone(),
        },
        zone,
    );
    let s = &f.sla;
    let clocks = [
        ("Acknowledge", &s.acknowledge),
        ("Update", &s.update),
        ("Resolve", &s.resolve),
    ]
    .into_iter()
    .map(|(name, c)| ClockRow {
        name,
        met: c.met,
        breached: c.breached,
        running: c.running,
        met_share: percent(c.met_share),
        offenders: c
            .worst_offenders
            .iter()
            .map(|o| OffenderRow {
                ticket_id: o.ticket_id.clone(),
                subject: format!("ticket {}", o.ticket_id),
                overdue: duration(o.overdue_s),
            })
            .collect(),
    })
    .collect();
    let mut rows = vec![row("All".to_owned(), f)];
    rows.extend(
        report
            .groups
            .iter()
            .map(|g| row(group_label(report.group_by, &g.key, &g.label), &g.figures)),
    );
    let group_label = match report.group_by {
        None => "Period".to_owned(),
        Some(by) => GROUPINGS
            .iter()
            .find(|(k, _)| *k == by.as_str())
            .map_or(by.as_str(), |(_, l)| l)
            .to_owned(),
    };
    let weeks = &weekly.groups;
    let (chart_rate, chart_rate_text) = charts::rate_by_week(weeks)?;
    let (chart_response, chart_response_text) = charts::response_by_week(weeks)?;
    let (chart_sla, chart_sla_text) = charts::sla_by_clock(&f.sla)?;
    let mut query = vec![
        ("from", first.to_string()),
        ("to", last.to_string()),
        ("format", "csv".to_owned()),
    ];
    if let Some(by) = report.group_by {
        query.push(("group_by", by.as_str().to_owned()));
    }
    let csv_href = format!(
        "/api/v1/metrics/escalations?{}",
        serde_urlencoded::to_string(&query).unwrap_or_default()
    );
    Ok(Body {
        period: format!("{} – {}", day_text(first), day_text(last)),
        before: format!("{} – {}", day_text(b_first), day_text(b_last)),
        measures: measures(f, &before.figures),
        clocks,
        group_label,
        rows,
        chart_rate,
        chart_rate_text,
        chart_response,
        chart_response_text,
        chart_sla,
        chart_sla_text,
        csv_href,
        escalations: f.escalations,
    })
}

/// A group's name on the page: categories in words, "none" said plainly.
fn group_label(by: Option<GroupBy>, key: &str, label: &str) -> String {
    match (by, key) {
        (Some(GroupBy::Team), "none") => "No team".to_owned(),
        (Some(GroupBy::Owner), "none") => "Not taken".to_owned(),
        (Some(GroupBy::Category), k) => super::words(k),
        // "week of 2025-06-02" → "Week of 2 Jun 2025".
        (Some(GroupBy::Week), _) => label
            .strip_prefix("week of ")
            .and_then(|d| d.parse::<Date>().ok())
            .map_or_else(|| label.to_owned(), |d| format!("Week of {}", day_text(d))),
        _ => label.to_owned(),
    }
}
