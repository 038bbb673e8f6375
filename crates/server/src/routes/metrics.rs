//! The escalation metrics of a period, as JSON or CSV.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use ladder_core::policy::DEFAULT_CALENDAR;
use ladder_core::{Policy, Role};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::reports::{self, Figures, GroupBy, Report, ReportRequest, Scope, MAX_PERIOD_DAYS};
use crate::state::AppState;

// The `format` parameter as a type, so that the document lists the two values it takes.
/// How the figures are sent: `json` (the default) or `csv`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReportFormat {
    Json,
    Csv,
}

/// The escalation metrics of a period: the escalations opened in `[from, to)` and how they
/// went as of the request, for the organisation and, with `group_by`, per team, category,
/// owner or week. With `Accept: text/csv` (or `format=csv`, for a plain link such as the
/// reports page's "Download CSV") the same figures as CSV: a first row `all` with the
/// period's figures, then one row per group.
///
/// **Who may read it.** Owners, admins and auditors read the whole organisation's figures.
/// Everyone else who works tickets sees only the escalations they raised (requested) or own
/// (the owner at the end of the run); `tickets` stays the organisation's count, so their
/// rate per 1,000 tickets is their share of the organisation's. Platform support may not.
///
/// **The period.** `from` and `to` are RFC 3339 instants, or dates (`2025-06-01`) read in the
/// time zone of the policy's default calendar: a date `from` is the start of that day, a date
/// `to` the end of it (so `from=2025-06-01&to=2025-06-30` is June). `to` must come after
/// `from`, and a period is at most 366 days.
///
/// **Definitions.** An *escalation* is a run: a ticket escalated, with every move up its
/// chain (re-escalations, rung timeouts) counted once; a ticket escalated again after a
/// resolution or de-escalation is a new run. Times are whole seconds, both wall-clock and
/// business time (only the open hours of the calendar the escalation ran on, from its policy
/// snapshot). Percentiles are nearest-rank: p50 is the smallest time at or below which at
/// least half of the times lie, p90 the same for nine tenths.
/// - `tickets`: tickets created in the period.
/// - `escalations_per_1000_tickets`: escalations opened in the period × 1000 ÷ tickets
///   created in it (`null` without tickets).
/// - `time_to_first_response`: from the escalation to the first thing on its ticket that
///   counts as a response (`counts_as_response`: a staff public reply or a logged call; not
///   a note, not the customer's own message) while the escalation ran; escalations without
///   one are left out (`count` says how many are in).
/// - `time_to_resolution`: from the escalation to its resolution, for those resolved
///   (de-escalated and still open ones are left out).
/// - `resolved_without_return_share`: of the resolved escalations, the share whose ticket
///   was not reopened and whose customer opened no new ticket linked to it (either way) or
///   about the same problem (the escalation's or the ticket's category, or the same problem
///   key) within `return_window_days` of the resolution (the policy's `metrics` section,
///   default 14).
/// - `resolved_with_compensation_share`: of the resolved escalations, the share resolved
///   with a compensation other than `none`.
/// - `repeat_escalations`: escalations whose ticket, or a ticket linked to it, was escalated
///   before within `repeat_window_days` (default 90).
/// - `sla`: per clock (acknowledge, update, resolve) how many escalations met it, breached
///   it or still run it (paused while waiting on the customer counts as running), as the
///   escalation's `deadlines` show them at the time of the request, with shares of the
///   three and the five worst offenders (the longest overrun past the deadline).
#[utoipa::path(get, path = "/metrics/escalations", operation_id = "get_escalation_metrics", tag = "metrics",
    params(("from" = String, Query, description = "Start of the period: an RFC 3339 instant or a date"),
           ("to" = String, Query, description = "End of the period: an RFC 3339 instant (exclusive) or a date (inclusive)"),
           ("group_by" = Option<GroupBy>, Query, nullable = false, description = "team, category, owner or week"),
           ("format" = inline(Option<ReportFormat>), Query, nullable = false, description = "json (the default) or csv; `Accept: text/csv` also asks for CSV")),
    responses((status = 200, description = "The figures", content(
                  (Report = "application/json"),
                  (String = "text/csv"))),
              (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn escalations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let scope = scope(&caller)?;
    for k in q.keys() {
        if !matches!(k.as_str(), "from" | "to" | "group_by" | "format") {
            return Err(ApiError::field(
                k.clone(),
                "unknown query parameter; use from, to, group_by or format",
            ));
        }
    }
    let as_csv = match q.get("format").map(String::as_str) {
        None => wants_csv(&headers),
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::field(
                "format",
                format!("{other:?} is not a format; use json or csv"),
            ))
        }
    };
    let policy = crate::flows::policy(&state.db, caller.tenant_id()).await?;
    let req = request(&q, &policy, scope)?;
    let report = reports::report(&state.db, caller.tenant_id(), &policy, &req, state.now()).await?;
    if as_csv {
        let body = csv(&report)?;
        let name = format!(
            "attachment; filename=\"escalations-{}-{}.csv\"",
            report.from.strftime("%Y%m%d"),
            report.to.strftime("%Y%m%d")
        );
        let mut res = body.into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(res);
    }
    Ok(Json(report).into_response())
}

/// Whose escalations `caller` may read: the whole organisation for owners, admins and
/// auditors, their own for everyone else who works tickets (the reports page asks the same).
pub fn scope(caller: &Caller) -> ApiResult<Scope> {
    match caller.role() {
        Role::Owner | Role::Admin | Role::Auditor => Ok(Scope::All),
        Role::Agent | Role::Specialist => Ok(Scope::Own(caller.user.id.clone())),
        Role::PlatformSupport => Err(ApiError::Forbidden(
            "platform support does not read an organisation's metrics".into(),
        )),
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
        })
}

/// Reads `from`, `to` and `group_by`, naming the parameter at fault.
pub fn request(
    q: &BTreeMap<String, String>,
    policy: &Policy,
    scope: Scope,
) -> ApiResult<ReportRequest> {
    let zone_name = policy
        .calendar(DEFAULT_CALENDAR)
        .map_or("UTC", |c| c.time_zone.as_str());
    let zone = TimeZone::get(zone_name).map_err(|e| {
        ApiError::from(crate::flows::FlowError::Internal(anyhow::anyhow!(
            "the default calendar's time zone {zone_name:?}: {e}"
        )))
    })?;
    let from = instant(q, "from", &zone, false)?;
    let to = instant(q, "to", &zone, true)?;
    if to <= from {
        return Err(ApiError::field("to", "must come after from"));
    }
    if to.duration_since(from).as_secs() > MAX_PERIOD_DAYS * 86_400 {
        return Err(ApiError::field(
            "to",
            format!("a period is at most {MAX_PERIOD_DAYS} days; ask for several"),
        ));
    }
    let group_by = match q.get("group_by") {
        None => None,
        Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
            ApiError::field(
                "group_by",
                format!(
                    "{g:?} is not a grouping; use one of {}",
                    GroupBy::NAMES.join(", ")
                ),
            )
        })?),
    };
    Ok(ReportRequest {
        from,
        to,
        group_by,
        scope,
    })
}

/// An RFC 3339 instant, or a date in the organisation's zone (its start; with `end_of_day`,
/// the start of the next day).
fn instant(
    q: &BTreeMap<String, String>,
    name: &str,
    zone: &TimeZone,
    end_of_day: bool,
) -> ApiResult<Timestamp> {
    let bad = || {
        ApiError::field(
            name,
            "must be an RFC 3339 instant (2025-06-01T00:00:00Z) or a date (2025-06-01)",
        )
    };
    let Some(text) = q.get(name) else {
        return Err(ApiError::field(name, "is required"));
    };
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let date = text.parse::<Date>().map_err(|_| bad())?;
    let date = if end_of_day {
        date.checked_add(1.day()).map_err(|_| bad())?
    } else {
        date
    };
    Ok(date.to_zoned(zone.clone()).map_err(|_| bad())?.timestamp())
}

/// The CSV columns, in order; one row per group, the period's totals first as `all`.
const COLUMNS: [&str; 36] = [
    "group_by",
    "group",
    "label",
    "tickets",
    "escalations",
    "escalations_per_1000_tickets",
    "first_response_count",
    "first_response_p50_s",
    "first_response_p90_s",
    "first_response_business_p50_s",
    "first_response_business_p90_s",
    "resolution_count",
    "resolution_p50_s",
    "resolution_p90_s",
    "resolution_business_p50_s",
    "resolution_business_p90_s",
    "resolved",
    "resolved_without_return_share",
    "resolved_with_compensation_share",
    "repeat_escalations",
    "acknowledge_met",
    "acknowledge_breached",
    "acknowledge_running",
    "acknowledge_met_share",
    "update_met",
    "update_breached",
    "update_running",
    "update_met_share",
    "resolve_met",
    "resolve_breached",
    "resolve_running",
    "resolve_met_share",
    "from",
    "to",
    "return_window_days",
    "repeat_window_days",
];

fn cells(report: &Report, group: &str, label: &str, f: &Figures) -> Vec<String> {
    let int = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    // Shares and rates with six decimals: exact enough, and the same text every time.
    let real = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    let s = &f.sla;
    vec![
        report.group_by.map_or("", |g| g.as_str()).to_owned(),
        group.to_owned(),
        label.to_owned(),
        int(f.tickets),
        f.escalations.to_string(),
        real(f.escalations_per_1000_tickets),
        f.time_to_first_response.count.to_string(),
        int(f.time_to_first_response.p50_s),
        int(f.time_to_first_response.p90_s),
        int(f.time_to_first_response.business_p50_s),
        int(f.time_to_first_response.business_p90_s),
        f.time_to_resolution.count.to_string(),
        int(f.time_to_resolution.p50_s),
        int(f.time_to_resolution.p90_s),
        int(f.time_to_resolution.business_p50_s),
        int(f.time_to_resolution.business_p90_s),
        f.resolved.to_string(),
        real(f.resolved_without_return_share),
        real(f.resolved_with_compensation_share),
        f.repeat_escalations.to_string(),
        s.acknowledge.met.to_string(),
        s.acknowledge.breached.to_string(),
        s.acknowledge.running.to_string(),
        real(s.acknowledge.met_share),
        s.update.met.to_string(),
        s.update.breached.to_string(),
        s.update.running.to_string(),
        real(s.update.met_share),
        s.resolve.met.to_string(),
        s.resolve.breached.to_string(),
        s.resolve.running.to_string(),
        real(s.resolve.met_share),
        report.from.to_string(),
        report.to.to_string(),
        report.return_window_days.to_string(),
        report.repeat_window_days.to_string(),
    ]
}

/// The report as CSV (the `csv` crate quotes what needs quoting, e.g. a team's name).
pub fn csv(report: &Report) -> ApiResult<String> {
    let fail = |e: &dyn std::fmt::Display| {
        ApiError::from(crate::flows::FlowError::Internal(anyhow::anyhow!(
            "writing the metrics as CSV: {e}"
        )))
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).map_err(|e| fail(&e))?;
    w.write_record(cells(report, "all", "all", &report.figures))
        .map_err(|e| fail(&e))?;
    for g in &report.groups {
        w.write_record(cells(report, &g.key, &g.label, &g.figures))
            .map_err(|e| fail(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|e| fail(&e))
}
