//! Loads escalations waiting on their timers, straight into the database: `hot` escalations
//! whose rung timeout is parked at [`PARKED`] (the caller moves them all to one instant with
//! [`fall_due`]), and `cold` escalations whose next timer is due days ahead, so that the
//! timer table holds `pending` rows (one per escalated ticket) in all. Every escalation is addressed to its
//! organisation's owner under the built-in "standard" rule (owner → all admins → platform),
//! so a firing rung timeout moves it to the admins, exactly as in production.
#![allow(dead_code)] // each user takes what it needs

use jiff::{SignedDuration, Timestamp};
use ladder_core::sla::{SlaClocks, TimerKind};
use ladder_core::Policy;
use ladder_server::sla::Run;
use ladder_storage::{new_id, Db};

use super::bulk::{lit, Insert, Loader};

/// Where hot timers wait until the caller makes them due: 1 January 2100.
pub const PARKED: i64 = 4_102_444_800_000_000;

pub struct Loaded {
    pub tenants: Vec<String>,
    pub hot: usize,
    pub pending: usize,
    pub rows: u64,
}

const TICKET_COLS: &str = "id, tenant_id, subject, description, customer_id, channel, category, \
    priority, status, assignee_id, team_id, tags, triggers, \
    first_response_at, created_by, created_at, updated_at";
const ESCALATION_COLS: &str = "id, tenant_id, ticket_id, state, target_key, target_kind, \
    target_ref, rung, category, note, tried, contact_method, urgency, priority, triggers, \
    requested_by, escalation_owner_id, previous_status, previous_assignee_id, \
    previous_team_id, snapshot_id, sla, due_at, ack_due_at, update_due_at, resolve_due_at, \
    acknowledged_at, closed_at, resolution, created_at, updated_at";
const TIMER_COLS: &str =
    "id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts, created_at";

/// Loads `tenants` organisations (an owner, two admins, a customer each), `hot` escalations
/// with a parked rung timeout, and cold escalations until the timer table holds `pending`
/// timers. Escalations are spread over the organisations in turn.
pub async fn load(db: &Db, tenants: usize, hot: usize, pending: usize) -> Loaded {
    let mut loader = Loader::new(db);
    let now = Timestamp::now();
    let start = now - SignedDuration::from_hours(1);
    let us = start.as_microsecond();
    let snap = Policy::default()
        .snapshot(2)
        .expect("the built-in policy has a standard rule");
    let (snapshot_id, document) =
        ladder_server::sla::stored(&snap).expect("the snapshot serialises");
    let snapshot_id = lit(&snapshot_id);
    let run = Run {
        position: 1,
        clocks: SlaClocks::start(&snap, start),
    };
    let run = lit(&serde_json::to_string(&run).expect("run serialises"));

    let mut orgs = Vec::new();
    let mut t_ins = Insert::new("tenants", "id, name, slug, created_at");
    let mut u_ins = Insert::new(
        "users",
        "id, tenant_id, email, name, role, password_hash, away_until, created_at",
    );
    let mut c_ins = Insert::new(
        "customers",
        "id, tenant_id, name, email, phone, tier, created_at",
    );
    for i in 0..tenants.max(1) {
        let (tenant, customer) = (new_id(), new_id());
        t_ins
            .row(
                &mut loader,
                format!("{}, 'Org {i}', 'org-{i}', {us}", lit(&tenant)),
            )
            .await;
        for (role, n) in [("owner", 1), ("admin", 2)] {
            for k in 0..n {
                u_ins
                    .row(
                        &mut loader,
                        format!(
                            "{}, {}, '{role}{k}@org-{i}.test', '{role} {k}', '{role}', '!', NULL, {us}",
                            lit(&new_id()),
                            lit(&tenant)
                        ),
                    )
                    .await;
            }
        }
        c_ins
            .row(
                &mut loader,
                format!(
                    "{}, {}, 'Customer {i}', 'c@org-{i}.test', NULL, 'standard', {us}",
                    lit(&customer),
                    lit(&tenant)
                ),
            )
            .await;
        orgs.push((tenant, customer));
    }
    t_ins.flush(&mut loader).await;
    u_ins.flush(&mut loader).await;
    c_ins.flush(&mut loader).await;

    let mut sn = Insert::new("escalation_snapshots", "id, document");
    sn.row(
        &mut loader,
        format!("{snapshot_id}, {}", lit(&document.to_string())),
    )
    .await;
    sn.flush(&mut loader).await;
    let kinds = TimerKind::ESCALATION_KINDS;
    let cold = pending.saturating_sub(hot);
    let mut tk = Insert::new("tickets", TICKET_COLS);
    let mut es = Insert::new("escalations", ESCALATION_COLS);
    let mut tm = Insert::new("timers", TIMER_COLS);
    let mut timers = 0;
    for i in 0..hot + cold {
        let (tenant, customer) = &orgs[i % orgs.len()];
        let (ticket, esc) = (new_id(), new_id());
        let (t, tid, eid) = (lit(tenant), lit(&ticket), lit(&esc));
        tk.row(
            &mut loader,
            format!(
                "{tid}, {t}, 'Boiler still leaking {i}', 'The repair did not hold.', {}, 'email', \
                 'complaint', 'high', 'escalated', NULL, NULL, '[]', '[]', NULL, NULL, {us}, {us}",
                lit(customer)
            ),
        )
        .await;
        es.row(
            &mut loader,
            format!(
                "{eid}, {t}, {tid}, 'requested', 'role:owner', 'owner', NULL, 1, 'complaint', \
                 'Customer wants a manager.', NULL, 'call', 'standard', 'high', '[]', NULL, NULL, \
                 'open', NULL, NULL, {snapshot_id}, {run}, {us}, {us}, NULL, NULL, NULL, NULL, NULL, {us}, {us}"
            ),
        )
        .await;
        let (kind, at) = if i < hot {
            (TimerKind::RungTimeout.as_str(), PARKED)
        } else {
            // Days ahead, spread so the due-time index is not one long run of equal keys.
            let at = now.as_microsecond() + 86_400_000_000 * (2 + (i % 28) as i64) + i as i64;
            (kinds[i % kinds.len()].as_str(), at)
        };
        tm.row(
            &mut loader,
            format!("{tid}, {t}, {tid}, {eid}, '{kind}', {at}, 0, {us}"),
        )
        .await;
        timers += 1;
    }
    tk.flush(&mut loader).await;
    es.flush(&mut loader).await;
    tm.flush(&mut loader).await;
    loader.commit().await;
    Loaded {
        tenants: orgs.into_iter().map(|(t, _)| t).collect(),
        hot,
        pending: timers,
        rows: loader.rows,
    }
}

/// Makes every parked timer due at `at`, in one statement: "10,000 due at once".
pub async fn fall_due(db: &Db, at: Timestamp) -> u64 {
    sqlx::query("UPDATE timers SET due_at = $1 WHERE due_at = $2")
        .bind(at.as_microsecond())
        .bind(PARKED)
        .execute(db.pool())
        .await
        .expect("make the parked timers due")
        .rows_affected()
}

/// How many rung timeouts have fired, counted from the audit trail.
pub async fn fired(db: &Db) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE kind = 'rung_timed_out'")
            .fetch_one(db.pool())
            .await
            .expect("count the fired timers");
    n
}

/// Each firing's lag behind `due`, in milliseconds, sorted, and the escalations superseded
/// (one per firing when each timer fired once).
pub async fn lags_ms(db: &Db, due: Timestamp) -> (Vec<f64>, Vec<String>) {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT occurred_at, payload FROM audit_events WHERE kind = 'rung_timed_out'",
    )
    .fetch_all(db.pool())
    .await
    .expect("read the firings");
    let mut lags: Vec<f64> = rows
        .iter()
        .map(|(t, _)| (t - due.as_microsecond()) as f64 / 1000.0)
        .collect();
    lags.sort_by(f64::total_cmp);
    let superseded = rows
        .iter()
        .filter_map(|(_, p)| {
            let v: serde_json::Value = serde_json::from_str(p).ok()?;
            v["superseded_escalation_id"].as_str().map(str::to_owned)
        })
        .collect();
    (lags, superseded)
}

/// The value at quantile `q` of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A process's resident and peak memory in MiB, from /proc.
pub fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
