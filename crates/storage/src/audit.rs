//! Appending to and reading the hash-chained audit trail.

use jiff::Timestamp;
use ladder_core::audit::{event_hash, ChainBreak, ChainVerifier, ChainedEvent, GENESIS};
use ladder_core::{AuditKind, EventId, TenantId, TicketId, UserId};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::row::{micros, RowExt};
use crate::sql::{in_list, rows_per_statement, Mark, Sql, CHUNK};
use crate::{Db, Result, StorageError};

/// The PostgreSQL notification channel on which each transaction that appends to a tenant's
/// chain announces it, with the tenant's id as payload. PostgreSQL delivers it at commit and
/// never for a rolled-back transaction, so a listener that reads the chain on hearing it
/// finds the events there.
pub const NOTIFY_CHANNEL: &str = "ladder_audit";

/// One event of the audit trail as the API shows it.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub id: EventId,
    pub seq: i64,
    pub ticket_id: Option<TicketId>,
    pub actor_id: Option<UserId>,
    /// What happened, e.g. `ticket_created`, `escalated`, `acknowledged`.
    pub kind: AuditKind,
    /// Who/what/why, with `before` and `after` for changes.
    pub payload: serde_json::Value,
    pub occurred_at: Timestamp,
    pub hash: String,
}

/// A new event, recorded with [`crate::WriteTx::record`].
pub struct NewEvent<'a> {
    pub tenant_id: &'a TenantId,
    pub ticket_id: Option<&'a TicketId>,
    pub actor_id: Option<&'a UserId>,
    pub kind: AuditKind,
    pub payload: serde_json::Value,
}

/// An event planned with its id, to be appended with others in one go.
pub struct PlannedEvent {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub ticket_id: Option<TicketId>,
    pub actor_id: Option<UserId>,
    pub kind: AuditKind,
    /// JSON text, hashed and stored as it is.
    pub payload: String,
    pub occurred_at: Timestamp,
}

/// Appends many events, in order, to their tenants' chains: a write transaction's events,
/// at its commit (see [`crate::WriteTx`]). The heads of all the tenants involved are locked
/// in one statement, in tenant order (so that two batches can never wait on each other in a
/// circle), the hashes are chained in memory, the events go in with multi-row inserts and
/// the heads are moved on in one statement: three statements for the whole batch, whatever
/// the number of tenants.
pub(crate) async fn append_many(conn: &mut AnyConnection, events: &[PlannedEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut tenants: Vec<TenantId> = events.iter().map(|e| e.tenant_id.clone()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let mut heads = lock_heads(conn, &tenants).await?;
    if heads.len() < tenants.len() {
        // A tenant's first events: create its head (waiting for, and then ignoring, another
        // transaction creating it at the same moment), then lock it like the others.
        let missing: Vec<TenantId> = tenants
            .iter()
            .filter(|t| !heads.contains_key(*t))
            .cloned()
            .collect();
        let mut sql = Sql::new("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ");
        for (i, t) in missing.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(t.0.clone()),
                    Mark::Lit("0"),
                    q.arg(GENESIS.to_owned()),
                ]
            });
        }
        sql.push(" ON CONFLICT (tenant_id) DO NOTHING");
        sql.execute(&mut *conn).await?;
        heads.extend(lock_heads(conn, &missing).await?);
        if let Some(t) = tenants.iter().find(|t| !heads.contains_key(*t)) {
            return Err(StorageError::Corrupt {
                table: "audit_heads",
                detail: format!("the chain head of tenant {t} cannot be created"),
            });
        }
    }
    let mut rows = Vec::with_capacity(events.len());
    for ev in events {
        let Some((seq, prev)) = heads.get_mut(&ev.tenant_id) else {
            continue;
        };
        *seq += 1;
        let at = micros(ev.occurred_at);
        let hash = event_hash(
            prev,
            ev.id.as_str(),
            ev.tenant_id.as_str(),
            *seq,
            ev.ticket_id.as_ref().map(TicketId::as_str),
            ev.actor_id.as_ref().map(UserId::as_str),
            ev.kind.as_str(),
            &ev.payload,
            at,
        );
        let prev_hash = std::mem::replace(prev, hash.clone());
        rows.push((ev, *seq, at, prev_hash, hash));
    }
    for chunk in rows.chunks(rows_per_statement(10)) {
        let mut sql = Sql::new(
            "INSERT INTO audit_events (id, tenant_id, seq, ticket_id, actor_id, kind, payload, \
             occurred_at, prev_hash, hash) VALUES ",
        );
        for (i, (ev, seq, at, prev_hash, hash)) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(ev.id.0.clone()),
                    q.arg(ev.tenant_id.0.clone()),
                    q.arg(*seq),
                    q.arg(ev.ticket_id.as_ref().map(|t| t.0.clone())),
                    q.arg(ev.actor_id.as_ref().map(|a| a.0.clone())),
                    q.arg(ev.kind.as_str()),
                    q.arg(ev.payload.clone()),
                    q.arg(*at),
                    q.arg(prev_hash.clone()),
                    q.arg(hash.clone()),
                ]
            });
        }
        sql.execute(&mut *conn).await?;
    }
    let mut sql =
        Sql::new("UPDATE audit_heads SET seq = v.column2, hash = v.column3 FROM (VALUES ");
    for (i, (tenant, (seq, hash))) in heads.iter().enumerate() {
        sql.row(i == 0, |q| {
            vec![q.arg(tenant.0.clone()), q.arg(*seq), q.arg(hash.clone())]
        });
    }
    sql.push(") AS v WHERE audit_heads.tenant_id = v.column1");
    if crate::Backend::of(conn) == crate::Backend::Postgres {
        // Announced by the statement that moves the heads on, so it costs no round trip;
        // PostgreSQL sends one notification per tenant and transaction, at commit. (Cast to
        // text: the Any driver cannot describe `void`.)
        sql.push(&format!(
            " RETURNING pg_notify('{NOTIFY_CHANNEL}', audit_heads.tenant_id)::text"
        ));
    }
    sql.execute(conn).await?;
    // A reopen is the return of the ticket's last resolved escalation (see `metrics`).
    for ev in events {
        if let (AuditKind::Reopened, Some(ticket)) = (ev.kind, &ev.ticket_id) {
            crate::metrics::refresh(conn, &ev.tenant_id, &[ticket]).await?;
        }
    }
    Ok(())
}

/// Locks the chain heads of `tenants` (sorted), in that order, and returns each one's last
/// sequence number and hash. SQLite has a single writer and no row locks.
async fn lock_heads(
    conn: &mut AnyConnection,
    tenants: &[TenantId],
) -> Result<std::collections::BTreeMap<TenantId, (i64, String)>> {
    let mut heads = std::collections::BTreeMap::new();
    for chunk in tenants.chunks(CHUNK) {
        let mut sql = Sql::new("SELECT tenant_id, seq, hash FROM audit_heads WHERE tenant_id IN ");
        let list = in_list(&mut sql, chunk.iter().map(TenantId::as_str));
        sql.push(&list);
        sql.push(" ORDER BY tenant_id");
        if crate::Backend::of(conn) == crate::Backend::Postgres {
            // The sort happens below the row locking, so rows are locked in tenant order.
            sql.push(" FOR UPDATE");
        }
        for row in sql.fetch_all(&mut *conn).await? {
            heads.insert(
                TenantId(row.text("tenant_id")?),
                (row.int("seq")?, row.text("hash")?),
            );
        }
    }
    Ok(heads)
}

pub(crate) fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    let payload: String = row.text("payload")?;
    let id = EventId(row.text("id")?);
    let kind = row.text("kind")?;
    let kind = kind.parse().map_err(|_| StorageError::Corrupt {
        table: "audit_events",
        detail: format!("event {id} has an unknown kind {kind:?}"),
    })?;
    // The chain hashes the text as written; a payload that is not JSON was not written by
    // us, and showing it as a string would hide that.
    let payload = serde_json::from_str(&payload).map_err(|err| StorageError::Corrupt {
        table: "audit_events",
        detail: format!("event {id}: the payload is not JSON: {err}"),
    })?;
    Ok(AuditEvent {
        id,
        seq: row.int("seq")?,
        ticket_id: row.opt_text("ticket_id")?.map(TicketId),
        actor_id: row.opt_text("actor_id")?.map(UserId),
        kind,
        payload,
        occurred_at: row.time("occurred_at")?,
        hash: row.text("hash")?,
    })
}

/// The events of one ticket, oldest first.
pub async fn for_ticket(
    db: &Db,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<AuditEvent>> {
    let rows = sqlx::query(
        "SELECT id, seq, ticket_id, actor_id, kind, payload, occurred_at, hash FROM audit_events \
         WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY seq",
    )
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(event_from_row).collect()
}

/// What checking the stretch of a tenant's chain that holds one ticket's events found.
#[derive(Debug)]
pub enum Stretch {
    /// Every event from the one before the ticket's first to the one after its last (or the
    /// recorded head) matches its hash, links to the one before it, and none is missing: the
    /// ticket's events are as written and nothing between them was removed or changed.
    Intact,
    Broken(ChainBreak),
    /// The stretch holds more events than a page checks; `ladder audit verify` checks it.
    TooLong {
        events: i64,
    },
}

/// Checks the stretch of `tenant_id`'s chain from the event before `first` to the event after
/// `last` (seqs of one ticket's first and last events), reading at most `limit` events.
/// Cheaper than [`verify`] (which recomputes the whole chain) and enough for a page to say
/// "chain verified" of one ticket's trail.
pub async fn check_stretch(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    first: i64,
    last: i64,
    limit: i64,
) -> Result<Stretch> {
    let from = (first - 1).max(1);
    let to = last + 1;
    if to - from + 1 > limit {
        return Ok(Stretch::TooLong {
            events: to - from + 1,
        });
    }
    // The head first: every event up to it has committed, so a row missing below it is
    // missing, not yet to come.
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let (head_seq, head_hash) = head.unwrap_or((0, GENESIS.to_owned()));
    let rows = sqlx::query(
        "SELECT id, tenant_id, seq, ticket_id, actor_id, kind, payload, occurred_at, \
         prev_hash, hash FROM audit_events WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 \
         ORDER BY seq",
    )
    .bind(tenant_id.as_str())
    .bind(from)
    .bind(to.min(head_seq.max(last)))
    .fetch_all(&mut *conn)
    .await?;
    let events = rows
        .iter()
        .map(chained_from_row)
        .collect::<Result<Vec<_>>>()?;
    let brk = |seq: i64, event_id: &str, reason: &str| {
        Stretch::Broken(ChainBreak {
            tenant_id: tenant_id.as_str().to_owned(),
            event_id: event_id.to_owned(),
            seq,
            reason: reason.to_owned(),
        })
    };
    let mut verifier = if first <= 1 {
        ChainVerifier::new(tenant_id.as_str())
    } else {
        // The event before the ticket's first is where the check takes the chain up; its own
        // content must match its hash too.
        match events.first() {
            Some(e) if e.seq == from => {
                if e.computed_hash() != e.hash {
                    return Ok(brk(
                        e.seq,
                        &e.id,
                        "content does not match its hash: the event was altered",
                    ));
                }
                ChainVerifier::resume(tenant_id.as_str(), e.seq, &e.hash)
            }
            _ => {
                return Ok(brk(
                    from,
                    "(none)",
                    "the event before this ticket's first is missing",
                ))
            }
        }
    };
    let rest = if first <= 1 {
        &events[..]
    } else {
        &events[1..]
    };
    for e in rest {
        if let Err(b) = verifier.push(e) {
            return Ok(Stretch::Broken(b));
        }
    }
    if verifier.last_seq() < last {
        return Ok(brk(
            verifier.last_seq() + 1,
            "(none)",
            "an event of this ticket is missing from the chain",
        ));
    }
    // The ticket's last event is the chain's last: it must be the recorded head.
    if verifier.last_seq() == last && head_seq <= last {
        if let Err(b) = verifier.finish(head_seq, &head_hash) {
            return Ok(Stretch::Broken(b));
        }
    } else if verifier.last_seq() < to {
        return Ok(brk(
            to,
            "(none)",
            "the event after this ticket's last is missing",
        ));
    }
    Ok(Stretch::Intact)
}

/// The outcome of verifying one tenant's chain.
#[derive(Debug)]
pub enum Verification {
    Intact { tenant_id: String, events: i64 },
    Broken(ChainBreak),
}

/// Recomputes every chain (or one tenant's), reading events in pages so memory stays flat.
pub async fn verify(db: &Db, tenant: Option<&str>) -> Result<Vec<Verification>> {
    let tenants = chain_tenants(db, tenant).await?;
    let mut out = Vec::new();
    'tenants: for tenant_id in tenants {
        let mut verifier = ChainVerifier::new(tenant_id.clone());
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT id, tenant_id, seq, ticket_id, actor_id, kind, payload, occurred_at, \
                 prev_hash, hash FROM audit_events WHERE tenant_id = $1 AND seq > $2 \
                 ORDER BY seq LIMIT 5000",
            )
            .bind(&tenant_id)
            .bind(after)
            .fetch_all(db.pool())
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let e = chained_from_row(row)?;
                after = e.seq;
                if let Err(b) = verifier.push(&e) {
                    out.push(Verification::Broken(b));
                    continue 'tenants;
                }
            }
        }
        let (head_seq, head_hash) = recorded_head(db, &tenant_id).await?;
        match verifier.finish(head_seq, &head_hash) {
            Ok(events) => out.push(Verification::Intact { tenant_id, events }),
            Err(b) => out.push(Verification::Broken(b)),
        }
    }
    Ok(out)
}

/// One line of an exported audit trail: an event, or a tenant's recorded head, which closes
/// its events (written after them, so that a file cut short is caught).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum ExportLine {
    Event(ChainedEvent),
    Head {
        tenant_id: String,
        seq: i64,
        hash: String,
    },
}

/// Writes every chain (or one tenant's) to `out` as JSON lines: each tenant's events in
/// order, then its head. The head is read first and only the events up to it are written,
/// so an export taken while the server writes is a consistent prefix of each chain. Returns
/// the number of events written.
pub async fn export(db: &Db, tenant: Option<&str>, out: &mut impl std::io::Write) -> Result<i64> {
    let tenants = chain_tenants(db, tenant).await?;
    let write = |out: &mut dyn std::io::Write, line: &ExportLine| -> Result<()> {
        let text = serde_json::to_string(line).map_err(|e| StorageError::Config(e.to_string()))?;
        writeln!(out, "{text}")
            .map_err(|e| StorageError::Config(format!("writing the export: {e}")))
    };
    let mut written = 0;
    for tenant_id in tenants {
        let (head_seq, head_hash) = recorded_head(db, &tenant_id).await?;
        let mut after = 0i64;
        while after < head_seq {
            let rows = sqlx::query(
                "SELECT id, tenant_id, seq, ticket_id, actor_id, kind, payload, occurred_at, \
                 prev_hash, hash FROM audit_events WHERE tenant_id = $1 AND seq > $2 \
                 AND seq <= $3 ORDER BY seq LIMIT 5000",
            )
            .bind(&tenant_id)
            .bind(after)
            .bind(head_seq)
            .fetch_all(db.pool())
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let e = chained_from_row(row)?;
                after = e.seq;
                write(out, &ExportLine::Event(e))?;
                written += 1;
            }
        }
        write(
            out,
            &ExportLine::Head {
                tenant_id,
                seq: head_seq,
                hash: head_hash,
            },
        )?;
    }
    Ok(written)
}

/// The ids of the tenants whose chains to read: `tenant` (an id or a slug), or every one.
async fn chain_tenants(db: &Db, tenant: Option<&str>) -> Result<Vec<String>> {
    let tenants: Vec<(String,)> = match tenant {
        Some(t) => {
            sqlx::query_as("SELECT id FROM tenants WHERE id = $1 OR slug = $1")
                .bind(t)
                .fetch_all(db.pool())
                .await?
        }
        None => {
            sqlx::query_as("SELECT id FROM tenants ORDER BY id")
                .fetch_all(db.pool())
                .await?
        }
    };
    if tenants.is_empty() {
        if let Some(t) = tenant {
            return Err(StorageError::Config(format!(
                "no tenant with id or slug {t:?}"
            )));
        }
    }
    Ok(tenants.into_iter().map(|(id,)| id).collect())
}

/// A tenant's recorded chain head (sequence and hash); the genesis before its first event.
async fn recorded_head(db: &Db, tenant_id: &str) -> Result<(i64, String)> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(head.unwrap_or((0, GENESIS.to_owned())))
}

fn chained_from_row(row: &AnyRow) -> Result<ChainedEvent> {
    Ok(ChainedEvent {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?,
        seq: row.int("seq")?,
        ticket_id: row.opt_text("ticket_id")?,
        actor_id: row.opt_text("actor_id")?,
        kind: row.text("kind")?,
        payload: row.text("payload")?,
        occurred_at_micros: row.int("occurred_at")?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

/// Verifies an exported audit trail without a database: every tenant's chain from its first
/// event to its head line. A line that does not parse is an error naming it; a chain without
/// its head line (a file cut short) is broken.
pub fn verify_export(input: impl std::io::BufRead) -> Result<Vec<Verification>> {
    let mut out = Vec::new();
    // The tenant being read, and whether its chain already broke (its other lines skipped).
    let mut current: Option<(String, ChainVerifier, bool)> = None;
    for (n, line) in input.lines().enumerate() {
        let line =
            line.map_err(|e| StorageError::Config(format!("reading line {}: {e}", n + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine = serde_json::from_str(&line).map_err(|e| {
            StorageError::Config(format!("line {} is not an exported event: {e}", n + 1))
        })?;
        let tenant = match &parsed {
            ExportLine::Event(e) => &e.tenant_id,
            ExportLine::Head { tenant_id, .. } => tenant_id,
        };
        if current.as_ref().is_none_or(|(t, _, _)| t != tenant) {
            if let Some((t, _, false)) = current.take() {
                out.push(Verification::Broken(ChainBreak {
                    tenant_id: t,
                    event_id: "(none)".into(),
                    seq: 0,
                    reason: "the file ends this chain without its head: it was cut short".into(),
                }));
            }
            current = Some((tenant.clone(), ChainVerifier::new(tenant.clone()), false));
        }
        let Some((tenant_id, verifier, broken)) = current.as_mut() else {
            continue;
        };
        match parsed {
            ExportLine::Event(_) if *broken => {}
            ExportLine::Event(e) => {
                if let Err(b) = verifier.push(&e) {
                    out.push(Verification::Broken(b));
                    *broken = true;
                }
            }
            ExportLine::Head { seq, hash, .. } => {
                let tenant_id = tenant_id.clone();
                let was_broken = *broken;
                if let Some((_, verifier, _)) = current.take() {
                    if !was_broken {
                        out.push(match verifier.finish(seq, &hash) {
                            Ok(events) => Verification::Intact { tenant_id, events },
                            Err(b) => Verification::Broken(b),
                        });
                    }
                }
            }
        }
    }
    if let Some((t, _, false)) = current {
        out.push(Verification::Broken(ChainBreak {
            tenant_id: t,
            event_id: "(none)".into(),
            seq: 0,
            reason: "the file ends this chain without its head: it was cut short".into(),
        }));
    }
    Ok(out)
}
