//! Warming the connections writes go through, at start.
//!
//! Both databases prepare each statement on the connection that runs it, the first time it
//! runs there. SQLite's server writes through one connection behind its write gate: without
//! this, the first ticket, reply and escalation after a start prepared some twenty
//! statements each (with the full-text and rollup triggers they fire) while every other
//! write queued at the gate, and the first creation took 2.5 times as long as the tenth
//! (`benches/writes.rs`). PostgreSQL writes through the pool, and a new server process also
//! fills its catalog caches on first use: the first creation took 3.5 to 4.5 times as long
//! as the tenth, so several pooled connections are warmed at once. Each of them also keeps
//! the plans of a write's statements (a write reuses its plans: `Db::write`), the costliest
//! of which, the escalation rollup's, takes 10 ms or more to make.

use jiff::Timestamp;
use ladder_core::text::{LongText, ShortText};
use ladder_core::{Category, Channel, ContactMethod, CustomerTier, Role, Urgency};
use ladder_storage::directory::{self, NewCustomer, NewUser};
use ladder_storage::{new_id, Backend, Db};

use super::escalation::{open_escalation, Escalate};
use super::tickets::{comment_in, create_in, AddComment, OpenTicket};
use super::Actor;

/// PostgreSQL connections warmed at start: as many as the write benchmark's clients, each
/// holding one of the pool's connections while it runs.
const POSTGRES_CONNECTIONS: usize = 8;

/// Opens a ticket, replies on it and escalates it for a throwaway organisation, in one
/// transaction that is then rolled back: nothing is kept, and the statements stay prepared
/// in the connection's cache. On SQLite that is the writer connection; on PostgreSQL it is
/// done on several pooled connections at once.
pub async fn warm_up(db: &Db, now: Timestamp) -> anyhow::Result<()> {
    let n = match db.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => POSTGRES_CONNECTIONS,
    };
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..n {
        let db = db.clone();
        runs.spawn(async move { warm_one(&db, now).await });
    }
    while let Some(run) = runs.join_next().await {
        run.map_err(|e| anyhow::anyhow!("a warm-up task failed: {e}"))??;
    }
    Ok(())
}

async fn warm_one(db: &Db, now: Timestamp) -> anyhow::Result<()> {
    let mut tx = db.write().await?;
    if db.backend() == Backend::Postgres {
        // The start must not wait on someone else's lock (a table locked by an operator, or
        // by a test): past this, the warm-up gives up and the server starts cold.
        sqlx::query("SET LOCAL lock_timeout = '1s'")
            .execute(tx.conn())
            .await?;
    }
    let tenant =
        directory::insert_tenant(tx.conn(), "Warm-up", &format!("warm-up-{}", new_id()), now)
            .await?;
    let owner = directory::insert_user(
        tx.conn(),
        NewUser {
            tenant_id: &tenant.id,
            email: "warm-up@ladder.invalid",
            name: "Warm-up",
            role: Role::Owner,
            // No password hash verifies against this, and the row is rolled back anyway.
            password_hash: "!",
        },
        now,
    )
    .await?;
    let customer = directory::insert_customer(
        tx.conn(),
        &tenant.id,
        NewCustomer {
            name: "Warm-up",
            email: Some("customer@ladder.invalid"),
            phone: None,
            tier: CustomerTier::Standard,
        },
        now,
    )
    .await?;
    let actor = Actor {
        tenant_id: tenant.id.clone(),
        user_id: owner.id.clone(),
        name: owner.name.clone(),
        role: Role::Owner,
        teams: Vec::new(),
    };
    let text = |s: &str| LongText::new(s).map_err(|e| anyhow::anyhow!("warm-up text: {e}"));
    let detail = create_in(
        &mut tx,
        db,
        &tenant.id,
        Some(&actor),
        OpenTicket {
            subject: ShortText::new("Warm-up").map_err(|e| anyhow::anyhow!("{e}"))?,
            description: text("Warming the writer connection.")?,
            customer_id: customer.id.clone(),
            channel: Channel::Email,
            category: None,
            priority: None,
            assignee_id: None,
            team_id: None,
        },
        None,
        now,
    )
    .await?;
    // Each step's events are appended on their own, as each write's are at its commit.
    tx.append_recorded().await?;
    let ticket = detail.ticket;
    comment_in(
        &mut tx,
        &tenant.id,
        ticket.clone(),
        Some(&actor),
        AddComment {
            body: text("A reply.")?,
            public: true,
            from_customer: false,
            logged_call: false,
        },
        None,
        now,
    )
    .await?;
    tx.append_recorded().await?;
    let mut ticket = ticket;
    open_escalation(
        &mut tx,
        &tenant.id,
        &mut ticket,
        Some(&actor.user_id),
        Escalate {
            target: None,
            category: Category::Technical,
            note: text("Warm-up.")?,
            tried: None,
            contact_method: ContactMethod::Email,
            urgency: Urgency::Standard,
            triggers: Vec::new(),
        },
        now,
    )
    .await?;
    tx.append_recorded().await?;
    tx.rollback().await?;
    Ok(())
}
