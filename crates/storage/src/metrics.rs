//! What the escalation metrics read: the tickets created in a period and the escalation
//! runs that began in it, each with the facts its figures need.
//!
//! A run is what the customer sees as one escalation: its first row (rung 1) and the rows a
//! move up the chain inserts after it, each superseding the one before; the run's last row
//! is the one not superseded (active, resolved or de-escalated) and carries the run's SLA
//! clocks. Joining the events for a year of runs costs seconds at a million tickets, so
//! each run's facts are kept in one narrow row of `escalation_runs` (migration 0050):
//! [`refresh`] recomputes the rows of the tickets a write touched, in the writer's
//! transaction, from the same joins, and a report reads a period's rows through one index,
//! packed into one aggregated text ([`runs`]). Tickets created per hour are kept by
//! triggers in `ticket_hours` ([`tickets_created_in`]).
//! The writes that call it: escalations inserted or updated, comments, tickets inserted
//! (a customer's new ticket may be a return) or updated, links, and reopen events.

use std::collections::HashMap;

use jiff::Timestamp;
use ladder_core::policy::EscalationSnapshot;
use ladder_core::sla::{DueTimes, SlaClocks};
use ladder_core::{
    Category, CompensationKind, CustomerId, EscalationId, EscalationState, TenantId, TicketId,
    UserId,
};
use serde::Deserialize;
use sqlx::AnyConnection;

use crate::row::{from_micros, in_table, micros, RowExt};
use crate::sql::{in_list, rows_per_statement, Sql, CHUNK};
use crate::{escalations, Backend, Result, StorageError};

/// One escalation run, as kept in `escalation_runs`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFacts {
    /// The run's first escalation.
    pub id: EscalationId,
    pub tenant_id: TenantId,
    pub ticket_id: TicketId,
    pub started_at: Timestamp,
    pub category: Category,
    pub requested_by: Option<UserId>,
    /// The team that held the ticket when it was escalated.
    pub team_id: Option<String>,
    /// The run's last escalation: its state, owner and end.
    pub last_id: EscalationId,
    pub state: EscalationState,
    pub owner_id: Option<UserId>,
    pub closed_at: Option<Timestamp>,
    /// Resolved with a compensation other than `none`.
    pub compensated: bool,
    /// The first response on the ticket at or after the run began and before it ended.
    pub first_response_at: Option<Timestamp>,
    /// Business seconds to the first response and to the resolution on the run's own
    /// calendar; `None` for runs without a policy snapshot (the caller uses the default).
    pub first_response_business_s: Option<i64>,
    pub resolution_business_s: Option<i64>,
    /// The run's SLA clocks; `None` for runs from before SLA clocks were kept.
    pub due: Option<DueTimes>,
    /// The latest run of this ticket, or of a ticket linked to it, that began before.
    pub previous_run_at: Option<Timestamp>,
    /// Once resolved, the first time after that the ticket was reopened or the customer
    /// opened a ticket linked to it or about the same problem.
    pub returned_at: Option<Timestamp>,
}

/// Microseconds in an hour: the unit of `ticket_hours` (migration 0085).
const HOUR: i64 = 3_600_000_000;

/// Tickets of the tenant created in `[from, to)`; see [`tickets_created_in`].
pub async fn tickets_created(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64> {
    let n = tickets_created_in(conn, tenant, &[(from, to)]).await?;
    Ok(n.first().copied().unwrap_or(0))
}

/// Tickets of the tenant created in each of `periods` (each `[from, to)`), in their order:
/// the whole hours from `ticket_hours` (its shards summed, on PostgreSQL), and the partial
/// hours at either end counted through the `tickets_by_tenant` index (at most an hour of
/// tickets each). Two statements whatever the number of periods (a report's weeks), so the
/// cost grows neither with the tickets nor with round trips.
pub async fn tickets_created_in(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    periods: &[(Timestamp, Timestamp)],
) -> Result<Vec<i64>> {
    // (period, hour or microsecond from, to)
    let mut hours: Vec<(i64, i64, i64)> = Vec::new();
    let mut exact: Vec<(i64, i64, i64)> = Vec::new();
    for (i, (from, to)) in periods.iter().enumerate() {
        let (i, a, b) = (i as i64, micros(*from), micros(*to));
        if b <= a {
            continue;
        }
        // The triggers bucket with SQL's integer division, which truncates; it agrees with
        // the hours here only from the epoch on.
        let first = a.div_euclid(HOUR) + i64::from(a.rem_euclid(HOUR) != 0);
        let last = b.div_euclid(HOUR);
        if a < 0 || first >= last {
            exact.push((i, a, b));
            continue;
        }
        hours.push((i, first, last));
        if a < first * HOUR {
            exact.push((i, a, first * HOUR));
        }
        if last * HOUR < b {
            exact.push((i, last * HOUR, b));
        }
    }
    let mut out = vec![0; periods.len()];
    let sums = (
        "CAST(COALESCE(SUM(h.tickets), 0) AS BIGINT) AS n, \
        CAST(COALESCE(MIN(h.tickets), 0) AS BIGINT) AS least",
        "ticket_hours",
        "hour",
    );
    let counts = (
        "COUNT(*) AS n, CAST(0 AS BIGINT) AS least",
        "tickets",
        "created_at",
    );
    for (ranges, (select, table, column)) in [(&hours, sums), (&exact, counts)] {
        for chunk in ranges.chunks(rows_per_statement(3)) {
            // The ranges join as a VALUES list (its columns are column1… on both databases),
            // each one an index range scan.
            let mut sql = Sql::new(&format!(
                "SELECT s.column1 AS period, {select} FROM (VALUES "
            ));
            for (k, (i, a, b)) in chunk.iter().enumerate() {
                sql.row(k == 0, |q| vec![q.arg(*i), q.arg(*a), q.arg(*b)]);
            }
            let t = sql.text_arg(tenant.0.clone());
            sql.push(&format!(
                ") s JOIN {table} h ON h.tenant_id = {t} AND h.{column} >= s.column2 \
                 AND h.{column} < s.column3 GROUP BY s.column1"
            ));
            for row in sql.fetch_all(&mut *conn).await? {
                let period = row.int("period")?;
                if row.int("least")? < 0 {
                    return Err(StorageError::Corrupt {
                        table: "ticket_hours",
                        detail: format!("tenant {tenant}: a negative count of tickets in an hour"),
                    });
                }
                // `period` is one of the indexes bound above.
                if let Some(slot) = usize::try_from(period).ok().and_then(|p| out.get_mut(p)) {
                    *slot += row.int("n")?;
                }
            }
        }
    }
    Ok(out)
}

const COLUMNS: &str = "id, tenant_id, ticket_id, opened_at, category, team_id, requested_by, \
    last_id, state, owner_id, closed_at, compensated, first_response_at, \
    first_response_business_s, resolution_business_s, has_clocks, acknowledge_due, \
    acknowledged_at, update_due, resolve_due, clocks_closed_at, previous_run_at, returned_at, \
    packed, customer_id";

/// The longest stretch of a period read in one statement: a report's period (at most 366
/// days) is one round trip, and its value (a few hundred bytes per run) stays far below
/// either database's limit on a value's size (1 GB) at the runs of a million tickets.
const SLICE_DAYS: i64 = 366;

/// Every run of the tenant that began in `[from, to)`, oldest first; with `only`, the runs
/// that person requested or owns.
///
/// The runs are read packed (see [`pack`]) and aggregated by the database into one value:
/// decoding a row costs sqlx's Any driver about a microsecond and each column half of one,
/// which for a year's tens of thousands of runs and their twenty-odd columns was most of a
/// report's time; splitting the text is a small part of that.
pub async fn runs(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
    only: Option<&UserId>,
) -> Result<Vec<RunFacts>> {
    let concat = match Backend::of(conn) {
        Backend::Sqlite => "group_concat(packed, ' ')",
        Backend::Postgres => "string_agg(packed, ' ')",
    };
    let mine = if only.is_some() {
        " AND (requested_by = $4 OR owner_id = $4)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COUNT(*) AS n, {concat} AS runs FROM escalation_runs \
         WHERE tenant_id = $1 AND opened_at >= $2 AND opened_at < $3{mine}"
    );
    let (from, to) = (micros(from), micros(to));
    let slice = SLICE_DAYS * 24 * HOUR;
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = to.min(start.saturating_add(slice));
        let mut q = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(start)
            .bind(end);
        if let Some(me) = only {
            q = q.bind(me.as_str());
        }
        let row = q.fetch_one(&mut *conn).await?;
        let n = row.int("n")?;
        let before = out.len();
        if let Some(text) = row.opt_text("runs")? {
            for packed in text.split(' ') {
                out.push(unpack(tenant, packed)?);
            }
        }
        // A run without its packed facts would be left out of the aggregate silently.
        if (out.len() - before) as i64 != n {
            return Err(StorageError::Corrupt {
                table: "escalation_runs",
                detail: format!(
                    "tenant {tenant}: {n} runs began between {start} and {end} but {} have \
                     packed facts",
                    out.len() - before
                ),
            });
        }
        start = end;
    }
    out.sort_unstable_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    Ok(out)
}

/// The fields of a packed run, in order.
const PACKED: [&str; 22] = [
    "id",
    "ticket_id",
    "opened_at",
    "category",
    "team_id",
    "requested_by",
    "last_id",
    "state",
    "owner_id",
    "closed_at",
    "compensated",
    "first_response_at",
    "first_response_business_s",
    "resolution_business_s",
    "has_clocks",
    "acknowledge_due",
    "acknowledged_at",
    "update_due",
    "resolve_due",
    "clocks_closed_at",
    "previous_run_at",
    "returned_at",
];

/// A run's facts as one text: the fields of [`PACKED`] separated by commas, integers in
/// decimal, an absent value empty. Ids, vocabulary names and numbers hold neither a comma
/// nor the space that separates runs in an aggregate.
fn pack(r: &RunFacts) -> Result<String> {
    let due = r.due.as_ref();
    let text = |v: Option<&str>| v.unwrap_or("").to_owned();
    let int = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let time = |v: Option<Timestamp>| int(v.map(micros));
    let fields = [
        r.id.as_str().to_owned(),
        r.ticket_id.as_str().to_owned(),
        micros(r.started_at).to_string(),
        r.category.as_str().to_owned(),
        text(r.team_id.as_deref()),
        text(r.requested_by.as_ref().map(UserId::as_str)),
        r.last_id.as_str().to_owned(),
        r.state.as_str().to_owned(),
        text(r.owner_id.as_ref().map(UserId::as_str)),
        time(r.closed_at),
        i64::from(r.compensated).to_string(),
        time(r.first_response_at),
        int(r.first_response_business_s),
        int(r.resolution_business_s),
        i64::from(due.is_some()).to_string(),
        time(due.map(|d| d.acknowledge_due)),
        time(due.and_then(|d| d.acknowledged_at)),
        time(due.and_then(|d| d.update_due)),
        time(due.and_then(|d| d.resolve_due)),
        time(due.and_then(|d| d.closed_at)),
        time(r.previous_run_at),
        time(r.returned_at),
    ];
    let mut out = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
    for (i, f) in fields.iter().enumerate() {
        // Our ids are hex; anything else would not read back, so it is refused here.
        if f.contains([',', ' ']) {
            return Err(StorageError::Corrupt {
                table: "escalation_runs",
                detail: format!("run {}: {} {f:?} cannot be packed", r.id, PACKED[i]),
            });
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(f);
    }
    Ok(out)
}

/// A run from its packed text; anything that does not read back is a corrupt row.
fn unpack(tenant: &TenantId, packed: &str) -> Result<RunFacts> {
    let mut fields = [""; PACKED.len()];
    let mut n = 0;
    for f in packed.split(',') {
        if let Some(slot) = fields.get_mut(n) {
            *slot = f;
        }
        n += 1;
    }
    let corrupt = |what: String| StorageError::Corrupt {
        table: "escalation_runs",
        detail: format!("run {}: {what}", fields[0]),
    };
    if n != PACKED.len() {
        return Err(corrupt(format!(
            "packed facts with {n} fields, not {}",
            PACKED.len()
        )));
    }
    let field = |i: usize| fields[i];
    let opt_text = |i: usize| (!field(i).is_empty()).then(|| field(i).to_owned());
    let text = |i: usize| {
        opt_text(i).ok_or_else(|| corrupt(format!("no {} in its packed facts", PACKED[i])))
    };
    let opt_int = |i: usize| -> Result<Option<i64>> {
        match field(i) {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| corrupt(format!("{} holds {v:?} in its packed facts", PACKED[i]))),
        }
    };
    let int = |i: usize| {
        opt_int(i)?.ok_or_else(|| corrupt(format!("no {} in its packed facts", PACKED[i])))
    };
    let opt_time = |i: usize| Ok::<_, StorageError>(opt_int(i)?.map(from_micros));
    let flag = |i: usize| match int(i)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(corrupt(format!(
            "flag {} holds {n} in its packed facts",
            PACKED[i]
        ))),
    };
    let vocabulary = |i: usize| {
        corrupt(format!(
            "{} holds unknown value {:?} in its packed facts",
            PACKED[i],
            field(i)
        ))
    };
    let due = if flag(14)? {
        Some(DueTimes {
            acknowledge_due: from_micros(int(15)?),
            acknowledged_at: opt_time(16)?,
            update_due: opt_time(17)?,
            resolve_due: opt_time(18)?,
            closed_at: opt_time(19)?,
        })
    } else {
        None
    };
    Ok(RunFacts {
        id: EscalationId(text(0)?),
        tenant_id: tenant.clone(),
        ticket_id: TicketId(text(1)?),
        started_at: from_micros(int(2)?),
        category: field(3).parse().map_err(|_| vocabulary(3))?,
        team_id: opt_text(4),
        requested_by: opt_text(5).map(UserId),
        last_id: EscalationId(text(6)?),
        state: field(7).parse().map_err(|_| vocabulary(7))?,
        owner_id: opt_text(8).map(UserId),
        closed_at: opt_time(9)?,
        compensated: flag(10)?,
        first_response_at: opt_time(11)?,
        first_response_business_s: opt_int(12)?,
        resolution_business_s: opt_int(13)?,
        due,
        previous_run_at: opt_time(20)?,
        returned_at: opt_time(21)?,
    })
}

/// Must match the predicate of the `comments_responses` index (and core's
/// `counts_as_response`: a logged call, or a public comment with a staff author).
const RESPONSE: &str = "(c.logged_call OR (c.public AND c.author_id IS NOT NULL))";

/// Recomputes the runs of `tickets` (all of them, every run) from the events and stores
/// them, in the caller's transaction.
pub async fn refresh(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    tickets: &[&TicketId],
) -> Result<()> {
    let mut ids: Vec<&str> = tickets.iter().map(|t| t.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(CHUNK) {
        let runs = compute(conn, tenant, chunk).await?;
        let mut sql = Sql::new("DELETE FROM escalation_runs WHERE tenant_id = ");
        let t = sql.text_arg(tenant.0.clone());
        sql.push(&t.to_string());
        sql.push(" AND ticket_id IN ");
        let list = in_list(&mut sql, chunk.iter().copied());
        sql.push(&list);
        sql.execute(&mut *conn).await?;
        insert(conn, &runs).await?;
    }
    Ok(())
}

/// Escalations were inserted or updated: their tickets' runs are recomputed.
pub async fn refresh_escalated(
    conn: &mut AnyConnection,
    escalations: &[escalations::Escalation],
) -> Result<()> {
    let mut by_tenant: HashMap<&TenantId, Vec<&TicketId>> = HashMap::new();
    for e in escalations {
        by_tenant
            .entry(&e.tenant_id)
            .or_default()
            .push(&e.ticket_id);
    }
    for (tenant, tickets) in by_tenant {
        refresh(conn, tenant, &tickets).await?;
    }
    Ok(())
}

/// What [`refresh_customer`] reads, given the tenant, the ticket, its customer, its creation
/// and the largest instant (public for the test of its plan).
pub const CUSTOMER_RUNS: &str = "SELECT r.ticket_id FROM escalation_runs r \
     WHERE r.tenant_id = $1 AND r.customer_id = $3 AND r.state = 'resolved' \
       AND r.returned_at >= $4 AND r.returned_at <= $5 AND r.closed_at < $4 \
       AND r.ticket_id <> $2 \
     UNION \
     SELECT r.ticket_id FROM tickets n \
     JOIN escalation_runs r ON r.tenant_id = n.tenant_id AND r.customer_id = n.customer_id \
     JOIN tickets t ON t.id = r.ticket_id \
     WHERE n.tenant_id = $1 AND n.id = $2 AND r.state = 'resolved' \
       AND r.returned_at IS NULL AND r.closed_at < n.created_at AND r.ticket_id <> n.id \
       AND (r.category = n.category OR t.category = n.category \
         OR t.incident_key = n.incident_key)";

/// `ticket` was created, or changed its category or problem key: it may be the return of
/// one of its customer's earlier resolved runs, so those it could now come first for are
/// recomputed: the runs it is the return of already (it may no longer be), and those
/// without a return whose category or problem key it shares (a link is a match too, but
/// linking recomputes both tickets' runs itself). Read as two ranges of
/// `escalation_runs_resolved_by_return` (returned at or after the ticket, and not returned),
/// so it costs the same however many runs the organisation has, tickets the customer has,
/// or runs of theirs came back already. `customer` and `created_at` are the ticket's.
///
/// The first range is bounded above as well, by the largest instant, which no return
/// passes: PostgreSQL plans a write's statements once per connection, without the values
/// (`PG_BEGIN_WRITE`), and then guesses that a range open on one side holds a third of the
/// rows and one closed on both sides few. With the guess of a third it read every resolved
/// run of the organisation instead of the index: 1.1 ms against 0.07 ms with 1,000 runs
/// of one customer, which made creating a ticket at a million tickets cost 0.8 ms more.
pub async fn refresh_customer(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ticket: &TicketId,
    customer: &CustomerId,
    created_at: Timestamp,
) -> Result<()> {
    let rows = sqlx::query(CUSTOMER_RUNS)
        .bind(tenant.as_str())
        .bind(ticket.as_str())
        .bind(customer.as_str())
        .bind(micros(created_at))
        .bind(i64::MAX)
        .fetch_all(&mut *conn)
        .await?;
    let tickets = rows
        .iter()
        .map(|r| r.text("ticket_id").map(TicketId))
        .collect::<Result<Vec<_>>>()?;
    if tickets.is_empty() {
        return Ok(());
    }
    refresh(conn, tenant, &tickets.iter().collect::<Vec<_>>()).await
}

/// Fills in the runs of escalations that have none (those made before migration 0050, or
/// loaded around the storage functions, as the benchmarks do); returns how many tickets
/// were recomputed.
pub async fn backfill(conn: &mut AnyConnection) -> Result<u64> {
    let rows = sqlx::query(
        "SELECT DISTINCT a.tenant_id, a.ticket_id FROM escalations a WHERE a.rung = 1 \
         AND NOT EXISTS (SELECT 1 FROM escalation_runs r WHERE r.id = a.id) \
         ORDER BY a.tenant_id, a.ticket_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_tenant: Vec<(TenantId, Vec<TicketId>)> = Vec::new();
    for row in &rows {
        let tenant = TenantId(row.text("tenant_id")?);
        let ticket = TicketId(row.text("ticket_id")?);
        match by_tenant.last_mut() {
            Some((t, list)) if *t == tenant => list.push(ticket),
            _ => by_tenant.push((tenant, vec![ticket])),
        }
    }
    let pg = Backend::of(conn) == Backend::Postgres;
    for (tenant, tickets) in &by_tenant {
        for slice in tickets.chunks(BACKFILL_SLICE) {
            if pg {
                // The runs grow by the thousand inside this one transaction, and PostgreSQL's
                // statistics, taken when the table was empty, would have its planner read
                // every run of the organisation to replace one ticket's (quadratic: an hour
                // for 100,000 runs). ANALYZE counts this transaction's own new rows.
                sqlx::query("ANALYZE escalation_runs")
                    .execute(&mut *conn)
                    .await?;
            }
            refresh(conn, tenant, &slice.iter().collect::<Vec<_>>()).await?;
        }
    }
    Ok(rows.len() as u64)
}

/// How many tickets' runs the backfill writes between refreshing PostgreSQL's statistics.
const BACKFILL_SLICE: usize = 10 * CHUNK;

/// The clocks as the flows store them with an escalation (`sla::Run`): only the clocks are
/// read here.
#[derive(Deserialize)]
struct StoredRun {
    clocks: SlaClocks,
}

/// The runs of `tickets` worked out from the events, each with its ticket's customer.
async fn compute(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    tickets: &[&str],
) -> Result<Vec<(RunFacts, String)>> {
    // The latest earlier run of a ticket.
    let earlier = |ticket: &str| {
        format!(
            "(SELECT MAX(p.created_at) FROM escalations p WHERE p.ticket_id = {ticket} \
             AND p.rung = 1 AND p.created_at < a.created_at)"
        )
    };
    let own = earlier("a.ticket_id");
    // The tenant is checked on the ticket, not the escalation (whose tenant is its ticket's):
    // given `a.tenant_id`, SQLite's planner walked the tenant's every escalation through
    // `escalations_run_starts` instead of the few of the listed tickets (0.69 ms per
    // escalation with 254 of them, growing with each).
    let linked_from = earlier("l.to_ticket_id");
    let linked_to = earlier("l.from_ticket_id");
    let mut sql = Sql::new("");
    let t = sql.text_arg(tenant.0.clone());
    let list = in_list(&mut sql, tickets.iter().copied());
    sql.push(&format!(
        "SELECT r.*, f.state AS f_state, f.escalation_owner_id AS f_owner, f.snapshot_id AS f_snapshot_id, \
           f.sla AS f_sla, f.closed_at AS f_closed_at, \
           CASE WHEN f.state = 'resolved' THEN f.resolution END AS f_resolution, \
           CASE WHEN f.state = 'resolved' THEN (SELECT MIN(v.occurred_at) FROM audit_events v \
             WHERE v.ticket_id = r.ticket_id AND v.kind = 'reopened' AND v.occurred_at > f.closed_at) END AS reopened_at, \
           CASE WHEN f.state = 'resolved' THEN (SELECT MIN(n.created_at) FROM tickets n \
             WHERE n.tenant_id = {t} AND n.customer_id = r.customer_id \
               AND n.created_at > f.closed_at AND n.id <> r.ticket_id \
               AND (n.category = r.category OR n.category = r.t_category OR n.incident_key = r.incident_key \
                 OR EXISTS (SELECT 1 FROM ticket_links l WHERE l.from_ticket_id = n.id AND l.to_ticket_id = r.ticket_id) \
                 OR EXISTS (SELECT 1 FROM ticket_links l WHERE l.from_ticket_id = r.ticket_id AND l.to_ticket_id = n.id))) \
           END AS return_ticket_at \
         FROM (SELECT a.id, a.ticket_id, a.created_at, a.category, a.requested_by, a.previous_team_id, \
             t.customer_id, t.category AS t_category, t.incident_key, \
             (SELECT g.id FROM escalations g WHERE g.ticket_id = a.ticket_id AND g.created_at >= a.created_at \
                AND g.state <> 'superseded' ORDER BY g.created_at, g.rung LIMIT 1) AS last_id, \
             (SELECT MIN(c.created_at) FROM comments c WHERE c.ticket_id = a.ticket_id \
                AND c.created_at >= a.created_at AND {RESPONSE}) AS first_response_at, \
             {own} AS previous_own, \
             (SELECT MAX({linked_from}) FROM ticket_links l WHERE l.from_ticket_id = a.ticket_id) AS previous_from, \
             (SELECT MAX({linked_to}) FROM ticket_links l WHERE l.to_ticket_id = a.ticket_id) AS previous_to \
           FROM escalations a JOIN tickets t ON t.id = a.ticket_id \
           WHERE t.tenant_id = {t} AND a.rung = 1 AND a.ticket_id IN {list}) r \
         JOIN escalations f ON f.id = r.last_id \
         ORDER BY r.created_at, r.id"
    ));
    let rows = sql.fetch_all(&mut *conn).await?;
    let mut snapshot_ids: Vec<String> = rows
        .iter()
        .map(|r| r.opt_text("f_snapshot_id"))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    snapshot_ids.sort_unstable();
    snapshot_ids.dedup();
    let mut snapshots: HashMap<String, EscalationSnapshot> = HashMap::new();
    for (id, document) in escalations::snapshots(conn, &snapshot_ids).await? {
        let snap = serde_json::from_str(&document).map_err(|err| StorageError::Corrupt {
            table: "escalation_snapshots",
            detail: format!("snapshot {id} is not one: {err}"),
        })?;
        snapshots.insert(id, snap);
    }
    rows.iter()
        .map(|row| {
            let facts = in_table("escalations", row, |row| judge(row, tenant, &snapshots))?;
            Ok((facts, row.text("customer_id")?))
        })
        .collect()
}

/// One run from its joined row: the clocks, business times and compensation worked out.
fn judge(
    row: &impl RowExt,
    tenant: &TenantId,
    snapshots: &HashMap<String, EscalationSnapshot>,
) -> Result<RunFacts> {
    let id = EscalationId(row.text("id")?);
    let last_id = EscalationId(row.text("last_id")?);
    let corrupt = |what: String| StorageError::Corrupt {
        table: "escalations",
        detail: format!("escalation {last_id}: {what}"),
    };
    let started_at = row.time("created_at")?;
    let state: EscalationState = row.parse("f_state")?;
    let closed_at = row.opt_time("f_closed_at")?;
    let snap = match row.opt_text("f_snapshot_id")? {
        Some(sid) => Some(
            snapshots
                .get(&sid)
                .ok_or_else(|| corrupt(format!("its snapshot {sid} is not stored")))?,
        ),
        None => None,
    };
    let compensated = match row.opt_text("f_resolution")? {
        None => false,
        Some(text) => {
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|err| corrupt(format!("the resolution is not JSON: {err}")))?;
            match &v["compensation"] {
                serde_json::Value::Null => false,
                c => {
                    let kind = c["kind"]
                        .as_str()
                        .ok_or_else(|| corrupt("a compensation without a kind".into()))?;
                    kind.parse::<CompensationKind>()
                        .map_err(|_| corrupt(format!("unknown compensation kind {kind:?}")))?
                        != CompensationKind::None
                }
            }
        }
    };
    // A response counts for this run only if it came before the run ended.
    let first_response_at = row
        .opt_time("first_response_at")?
        .filter(|t| closed_at.is_none_or(|end| *t <= end));
    let business =
        |end: Timestamp| snap.map(|s| s.calendar.business_time_between(started_at, end).as_secs());
    let resolution_business_s = match (state, closed_at) {
        (EscalationState::Resolved, Some(end)) => business(end),
        _ => None,
    };
    // Runs from before SLA clocks were kept have no clocks to judge.
    let due = match (snap, row.opt_text("f_sla")?) {
        (Some(snap), Some(text)) => {
            let run: StoredRun = serde_json::from_str(&text)
                .map_err(|err| corrupt(format!("its SLA run is not one: {err}")))?;
            Some(run.clocks.due_times(snap))
        }
        _ => None,
    };
    let latest = |cols: [&str; 3]| -> Result<Option<Timestamp>> {
        let mut out = None;
        for c in cols {
            out = out.max(row.opt_time(c)?);
        }
        Ok(out)
    };
    let returned_at = match (
        row.opt_time("reopened_at")?,
        row.opt_time("return_ticket_at")?,
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(RunFacts {
        tenant_id: tenant.clone(),
        ticket_id: TicketId(row.text("ticket_id")?),
        started_at,
        category: row.parse("category")?,
        requested_by: row.opt_text("requested_by")?.map(UserId),
        team_id: row.opt_text("previous_team_id")?,
        state,
        owner_id: row.opt_text("f_owner")?.map(UserId),
        closed_at,
        compensated,
        first_response_business_s: first_response_at.and_then(business),
        first_response_at,
        resolution_business_s,
        due,
        previous_run_at: latest(["previous_own", "previous_from", "previous_to"])?,
        returned_at,
        last_id: last_id.clone(),
        id,
    })
}

async fn insert(conn: &mut AnyConnection, runs: &[(RunFacts, String)]) -> Result<()> {
    for chunk in runs.chunks(rows_per_statement(25)) {
        let mut sql = Sql::new(&format!("INSERT INTO escalation_runs ({COLUMNS}) VALUES "));
        let packed = chunk
            .iter()
            .map(|(r, _)| pack(r))
            .collect::<Result<Vec<_>>>()?;
        for (i, ((r, customer), packed)) in chunk.iter().zip(packed).enumerate() {
            sql.row(i == 0, |q| {
                let due = r.due.as_ref();
                vec![
                    q.arg(r.id.0.clone()),
                    q.arg(r.tenant_id.0.clone()),
                    q.arg(r.ticket_id.0.clone()),
                    q.arg(micros(r.started_at)),
                    q.arg(r.category.as_str()),
                    q.arg(r.team_id.clone()),
                    q.arg(r.requested_by.clone().map(|u| u.0)),
                    q.arg(r.last_id.0.clone()),
                    q.arg(r.state.as_str()),
                    q.arg(r.owner_id.clone().map(|u| u.0)),
                    q.arg(r.closed_at.map(micros)),
                    q.arg(i64::from(r.compensated)),
                    q.arg(r.first_response_at.map(micros)),
                    q.arg(r.first_response_business_s),
                    q.arg(r.resolution_business_s),
                    q.arg(i64::from(due.is_some())),
                    q.arg(due.map(|d| micros(d.acknowledge_due))),
                    q.arg(due.and_then(|d| d.acknowledged_at).map(micros)),
                    q.arg(due.and_then(|d| d.update_due).map(micros)),
                    q.arg(due.and_then(|d| d.resolve_due).map(micros)),
                    q.arg(due.and_then(|d| d.closed_at).map(micros)),
                    q.arg(r.previous_run_at.map(micros)),
                    q.arg(r.returned_at.map(micros)),
                    q.arg(packed),
                    q.arg(customer.clone()),
                ]
            });
        }
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}
