//! The tenant the write benchmark creates tickets in: an owner and an agent, 10,000
//! customers, and `n_tickets` tickets over two years. One customer (`HEAVY`) holds 1% of
//! them (10,000 of 1,000,000), and 1,000 tickets of the last hour share the subject the
//! benchmark writes (`SUBJECT`), from that customer and three others: below the default
//! incident threshold of five customers, so every new report re-counts them instead of
//! joining an incident. The heavy customer's older tickets are about the same kind of
//! problem (category `technical`), and one in ten of them was escalated and resolved: about
//! 1,000 resolved escalations, each come back with the customer's next ticket, as a
//! long-standing customer's history holds. With `n_tickets` 0 the tenant is empty but for
//! its people.
#![allow(dead_code)] // each benchmark uses its own part

use jiff::Timestamp;
use ladder_core::triggers::history::grouping_key;
use ladder_core::Category;
use ladder_storage::{new_id, Db};

use super::bulk::{insert_tenant, insert_users, lit, Insert, Loader, Rng};

pub const PASSWORD: &str = "bench-password";
pub const SLUG: &str = "writes";
pub const AGENT: &str = "agent@writes.test";
pub const OWNER: &str = "owner@writes.test";
/// The address of `HEAVY`, the customer the benchmark's tickets are for.
pub const HEAVY_EMAIL: &str = "customer0@example.test";
pub const N_CUSTOMERS: usize = 10_000;
/// The subject (and description) of the benchmark's tickets and of the recent reports.
pub const SUBJECT: &str = "Checkout page fails with error 502";
pub const DESCRIPTION: &str = "The checkout page fails with error 502 when I pay by card.";
/// Tickets of the last hour sharing the subject.
pub const SHARED: usize = 1_000;
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

pub struct Loaded {
    /// The customer the benchmark's tickets are for, who holds 1% of the loaded ones.
    pub heavy_customer: String,
    pub rows: u64,
}

pub async fn load(db: &Db, n_tickets: usize) -> Loaded {
    let mut rng = Rng(0x0057_a7e5);
    let now = Timestamp::now().as_microsecond();
    let start = now - 730 * DAY;
    let mut loader = Loader::new(db);

    let tenant_id = insert_tenant(&mut loader, "Writes Co", SLUG, start).await;
    let t = lit(&tenant_id);

    let owner = new_id();
    let agent = new_id();
    let staff = [
        (owner.as_str(), OWNER, "Olive Owner".to_owned(), "owner"),
        (agent.as_str(), AGENT, "Andy Agent".to_owned(), "agent"),
    ];
    insert_users(&mut loader, &tenant_id, staff, PASSWORD, start).await;

    let customers: Vec<String> = (0..N_CUSTOMERS).map(|_| new_id()).collect();
    let mut ins = Insert::new(
        "customers",
        "id, tenant_id, name, email, phone, tier, created_at",
    );
    for (i, id) in customers.iter().enumerate() {
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, 'Customer {i}', 'customer{i}@example.test', NULL, 'standard', {start}",
                lit(id)
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    let key = grouping_key(Category::Other, &format!("{SUBJECT}\n\n{DESCRIPTION}"))
        .expect("the bench subject has a problem key");
    let shared = if n_tickets == 0 {
        0
    } else {
        SHARED.min(n_tickets)
    };
    let older = n_tickets - shared;
    let step = (730 * DAY) / older.max(1) as i64;
    let mut ins = Insert::new(
        "tickets",
        "id, tenant_id, subject, description, customer_id, channel, category, priority, status, \
         assignee_id, team_id, tags, triggers, incident_key, created_by, created_at, updated_at",
    );
    // The heavy customer's tickets that were escalated and resolved: (ticket, created).
    let mut escalated = Vec::new();
    for i in 0..n_tickets {
        let id = new_id();
        let mut category = "NULL";
        let mut status = "open";
        let (subject, description, customer, key, created) = if i < older {
            // Every hundredth older ticket is the heavy customer's.
            let customer = if i % 100 == 0 {
                category = "'technical'";
                &customers[0]
            } else {
                &customers[1 + rng.below(N_CUSTOMERS - 1)]
            };
            let created =
                (start + i as i64 * step + rng.between(0, step.max(1))).min(now - HOUR - 1);
            if i % 1_000 == 0 {
                status = "closed";
                escalated.push((id.clone(), created));
            }
            (
                format!("Ticket {i}: the order never arrived"),
                format!("Bench ticket number {i}."),
                customer,
                "NULL".to_owned(),
                created,
            )
        } else {
            let j = i - older;
            (
                SUBJECT.to_owned(),
                DESCRIPTION.to_owned(),
                &customers[j % 4],
                lit(&key),
                now - HOUR + (j as i64 * HOUR / SHARED as i64) / 2,
            )
        };
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, {}, {}, {}, 'email', {category}, 'normal', '{status}', {}, NULL, '[]', '[]', \
                 {key}, {}, {created}, {created}",
                lit(&id),
                lit(&subject),
                lit(&description),
                lit(customer),
                lit(&agent),
                lit(&agent),
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    let mut ins = Insert::new(
        "escalations",
        "id, tenant_id, ticket_id, state, target_key, target_kind, rung, category, note, \
         contact_method, urgency, priority, triggers, requested_by, escalation_owner_id, \
         previous_status, previous_assignee_id, acknowledged_at, closed_at, resolution, \
         created_at, updated_at",
    );
    let resolution =
        lit(r#"{"summary": "The payment gateway was restarted.", "compensation": null}"#);
    for (ticket, created) in &escalated {
        let (at, acknowledged, closed) = (created + HOUR, created + 2 * HOUR, created + DAY);
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, {}, 'resolved', 'role:owner', 'owner', 1, 'technical', \
                 'Checkout fails for this customer.', 'email', 'standard', 'high', '[]', {}, {}, \
                 'open', {}, {acknowledged}, {closed}, {resolution}, {at}, {closed}",
                lit(&new_id()),
                lit(ticket),
                lit(&agent),
                lit(&owner),
                lit(&agent),
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;
    // Their escalation runs, as the flows keep them: each returned by the customer's next
    // ticket, which is about the same kind of problem.
    let mut tx = db.write().await.expect("begin the runs' backfill");
    ladder_storage::metrics::backfill(tx.conn())
        .await
        .expect("the escalation runs");
    tx.commit().await.expect("commit the escalation runs");
    // As after a while in service: PostgreSQL's autovacuum analyses on its own. Nothing
    // analyses an SQLite database in service, yet this does not flatter it: of the 96
    // statements this benchmark's writes run, 91 plan the same without statistics, and the
    // other five differ only in which index they search or in scanning a table of a few
    // dozen rows instead (EXPLAIN QUERY PLAN on both, at 1,000,000 tickets).
    sqlx::query("ANALYZE")
        .execute(db.pool())
        .await
        .expect("ANALYZE");
    Loaded {
        heavy_customer: customers[0].clone(),
        rows: loader.rows,
    }
}
