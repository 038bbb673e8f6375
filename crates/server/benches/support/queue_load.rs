//! The large tenant the queue and page benchmarks load: 1,000,000 tickets by default over two
//! years, a share of them escalated (about 10% of those still active), watchers, users
//! spread over teams, customers of three tiers. Rows go in with multi-row inserts (`bulk`).
#![allow(dead_code)] // each benchmark uses its own part

use jiff::Timestamp;
use ladder_storage::{new_id, Db};

use super::bulk::{insert_tenant, insert_users, lit, opt_int, opt_lit, Insert, Loader, Rng};

pub const PASSWORD: &str = "bench-password";
pub const SLUG: &str = "bench";
pub const N_ADMINS: usize = 5;
pub const N_AGENTS: usize = 44;
pub const N_TEAMS: usize = 5;
pub const N_CUSTOMERS: usize = 10_000;
pub const HOUR: i64 = 3_600_000_000;
pub const DAY: i64 = 24 * HOUR;

pub struct User {
    pub id: String,
    pub email: String,
    pub role: &'static str,
    pub team: Option<usize>,
}

/// What the ticket loop remembers for the escalation and watcher loops.
struct EscTicket {
    id: String,
    ticket_id: String,
    ticket_created: i64,
    assignee: Option<usize>,
    team: Option<usize>,
    active: bool,
}

pub struct Loaded {
    pub users: Vec<User>,
    pub open_by_user: Vec<u64>,
    pub rows: u64,
    pub tickets: usize,
    pub escalations: usize,
    pub active: usize,
    pub watchers: usize,
}

pub async fn load(db: &Db, n_tickets: usize, n_escalations: usize) -> Loaded {
    let mut rng = Rng(0x001a_dde7);
    let now = Timestamp::now().as_microsecond();
    let start = now - 730 * DAY;
    let mut loader = Loader::new(db);

    let tenant_id = insert_tenant(&mut loader, "Bench Co", SLUG, start).await;
    let t = lit(&tenant_id);

    // Users: the owner, the admins, the agents. Admins and agents are spread over the teams.
    let mut users = vec![User {
        id: new_id(),
        email: "owner@bench.test".into(),
        role: "owner",
        team: None,
    }];
    for i in 1..=N_ADMINS {
        users.push(User {
            id: new_id(),
            email: format!("admin{i}@bench.test"),
            role: "admin",
            team: Some((i - 1) % N_TEAMS),
        });
    }
    for i in 1..=N_AGENTS {
        users.push(User {
            id: new_id(),
            email: format!("agent{i}@bench.test"),
            role: "agent",
            team: Some(i % N_TEAMS),
        });
    }
    let staff = users.iter().enumerate().map(|(i, u)| {
        (
            u.id.as_str(),
            u.email.as_str(),
            format!("Bench User {i}"),
            u.role,
        )
    });
    insert_users(&mut loader, &tenant_id, staff, PASSWORD, start).await;

    let teams: Vec<String> = (0..N_TEAMS).map(|_| new_id()).collect();
    let mut ins = Insert::new("teams", "id, tenant_id, name, created_at");
    for (i, id) in teams.iter().enumerate() {
        ins.row(
            &mut loader,
            format!("{}, {t}, 'Team {}', {start}", lit(id), i + 1),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    let mut ins = Insert::new("team_members", "tenant_id, team_id, user_id");
    for u in &users {
        if let Some(team) = u.team {
            ins.row(
                &mut loader,
                format!("{t}, {}, {}", lit(&teams[team]), lit(&u.id)),
            )
            .await;
        }
    }
    ins.flush(&mut loader).await;

    let customers: Vec<String> = (0..N_CUSTOMERS).map(|_| new_id()).collect();
    let mut ins = Insert::new(
        "customers",
        "id, tenant_id, name, email, phone, tier, created_at",
    );
    for (i, id) in customers.iter().enumerate() {
        let tier = match rng.unit() {
            x if x < 0.85 => "standard",
            x if x < 0.95 => "high_value",
            _ => "vip",
        };
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, 'Customer {i}', 'customer{i}@example.test', NULL, '{tier}', {}",
                lit(id),
                start + rng.between(0, 30 * DAY)
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    // Tickets over two years; every `stride`-th ticket has an escalation, about 10% of
    // them still active (that ticket is then `escalated`).
    let stride = (n_tickets / n_escalations.max(1)).max(1);
    let step = (730 * DAY) / n_tickets.max(1) as i64;
    let mut esc: Vec<EscTicket> = Vec::with_capacity(n_escalations);
    let mut open_by_user = vec![0u64; users.len()];
    let mut ins = Insert::new(
        "tickets",
        "id, tenant_id, subject, description, customer_id, channel, category, priority, status, \
         assignee_id, team_id, tags, triggers, first_response_at, \
         created_by, created_at, updated_at",
    );
    let categories = [
        "complaint",
        "billing",
        "pricing",
        "technical",
        "clinical",
        "legal",
        "safety",
        "other",
    ];
    for i in 0..n_tickets {
        let id = new_id();
        let created = start + i as i64 * step + rng.between(0, step.max(1));
        let escalated = i % stride == 0 && esc.len() < n_escalations;
        let active = escalated && rng.unit() < 0.10;
        let status = if active {
            "escalated"
        } else {
            match rng.unit() {
                x if x < 0.05 => "new",
                x if x < 0.15 => "open",
                x if x < 0.20 => "pending",
                x if x < 0.65 => "resolved",
                x if x < 0.97 => "closed",
                _ => "escalated",
            }
        };
        // Agents carry most of the work, unevenly (min of two draws favours the first ones).
        let assignee = match rng.unit() {
            x if x < 0.05 => None,
            x if x < 0.10 => Some(1 + rng.below(N_ADMINS)),
            _ => Some(1 + N_ADMINS + rng.below(N_AGENTS).min(rng.below(N_AGENTS))),
        };
        let team = assignee
            .and_then(|a| users[a].team)
            .or_else(|| Some(rng.below(N_TEAMS)));
        if matches!(status, "new" | "open" | "pending") {
            if let Some(a) = assignee {
                open_by_user[a] += 1;
            }
        }
        let esc_id = escalated.then(new_id);
        let category = (rng.unit() < 0.8).then(|| rng.pick(&categories));
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, 'Ticket {i}: the order never arrived', 'Bench ticket number {i}.', {}, \
                 {}, {}, {}, '{status}', {}, {}, '[]', '[]', {}, {}, {created}, {}",
                lit(&id),
                lit(&customers[rng.below(customers.len())]),
                lit(rng.pick(&["web", "email", "phone", "chat", "api"])),
                opt_lit(category),
                lit(rng.pick(&["low", "normal", "normal", "normal", "high", "urgent"])),
                opt_lit(assignee.map(|a| users[a].id.as_str())),
                opt_lit(team.map(|x| teams[x].as_str())),
                opt_int((status != "new").then_some(created + HOUR)),
                opt_lit(assignee.map(|a| users[a].id.as_str())),
                created + rng.between(0, 3 * DAY),
            ),
        )
        .await;
        if let Some(esc_id) = esc_id {
            esc.push(EscTicket {
                id: esc_id,
                ticket_id: id,
                ticket_created: created,
                assignee,
                team,
                active,
            });
        }
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    let mut ins = Insert::new(
        "escalations",
        "id, tenant_id, ticket_id, state, target_key, target_kind, target_ref, rung, category, \
         note, tried, contact_method, urgency, priority, triggers, requested_by, \
         escalation_owner_id, previous_status, previous_assignee_id, previous_team_id, snapshot, \
         due_at, ack_due_at, update_due_at, resolve_due_at, acknowledged_at, closed_at, \
         resolution, created_at, updated_at",
    );
    let mut active = 0;
    for e in &esc {
        let (key, kind, target_ref) = match rng.unit() {
            x if x < 0.15 => ("role:owner".to_owned(), "owner", None),
            x if x < 0.35 => ("role:admin".to_owned(), "role", Some("admin".to_owned())),
            x if x < 0.70 => {
                let team = &teams[rng.below(N_TEAMS)];
                (format!("team:{team}"), "team", Some(team.clone()))
            }
            x if x < 0.95 => {
                // A named person: the owner, an admin or a senior agent.
                let u = &users[rng.below(1 + N_ADMINS + 10)].id;
                (format!("user:{u}"), "user", Some(u.clone()))
            }
            _ => ("platform".to_owned(), "platform", None),
        };
        let urgency = rng.pick(&["urgent", "standard"]);
        let priority = if urgency == "urgent" {
            "urgent"
        } else {
            "high"
        };
        let requested_by = e
            .assignee
            .unwrap_or_else(|| 1 + N_ADMINS + rng.below(N_AGENTS));
        let someone = |rng: &mut Rng| match rng.unit() {
            x if x < 0.1 => 0,
            x if x < 0.4 => 1 + rng.below(N_ADMINS),
            _ => 1 + N_ADMINS + rng.below(N_AGENTS),
        };
        let state;
        let (mut owner, mut update_due) = (None, None);
        let (ack_due, resolve_due);
        let (mut acked, mut closed, mut resolution) = (None, None, None);
        let due;
        let created;
        if e.active {
            active += 1;
            created = now - rng.between(HOUR, 3 * DAY);
            if rng.unit() < 0.5 {
                state = "requested";
                let a = now + rng.between(-DAY, 2 * DAY);
                ack_due = Some(a);
                resolve_due = Some(a + 2 * DAY);
                due = a;
            } else {
                state = "acknowledged";
                owner = Some(someone(&mut rng));
                acked = Some(created + HOUR / 2);
                let u = now + rng.between(-12 * HOUR, DAY);
                let r = now + rng.between(0, 3 * DAY);
                ack_due = Some(created + 4 * HOUR);
                update_due = Some(u);
                resolve_due = Some(r);
                due = u.min(r);
            }
        } else {
            created = e.ticket_created + rng.between(HOUR, DAY);
            state = match rng.unit() {
                x if x < 0.7 => "resolved",
                x if x < 0.8 => "superseded",
                _ => "de_escalated",
            };
            owner = (state == "resolved").then(|| someone(&mut rng));
            ack_due = Some(created + 4 * HOUR);
            resolve_due = Some(created + 2 * DAY);
            acked = Some(created + HOUR);
            closed = Some(created + DAY);
            due = created + DAY;
            resolution =
                (state == "resolved").then_some(r#"{"summary":"Refunded and apologised"}"#);
        }
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, {}, '{state}', {}, '{kind}', {}, 1, {}, 'Customer asks for a manager', \
                 NULL, {}, '{urgency}', '{priority}', '[]', {}, {}, 'open', {}, {}, NULL, {due}, \
                 {}, {}, {}, {}, {}, {}, {created}, {}",
                lit(&e.id),
                lit(&e.ticket_id),
                lit(&key),
                opt_lit(target_ref.as_deref()),
                lit(rng.pick(&categories)),
                lit(rng.pick(&["call", "text", "email"])),
                lit(&users[requested_by].id),
                opt_lit(owner.map(|o: usize| users[o].id.as_str())),
                opt_lit(e.assignee.map(|a| users[a].id.as_str())),
                opt_lit(e.team.map(|x| teams[x].as_str())),
                opt_int(ack_due),
                opt_int(update_due),
                opt_int(resolve_due),
                opt_int(acked),
                opt_int(closed),
                opt_lit(resolution),
                closed.or(acked).unwrap_or(created),
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    // Two watchers per escalated ticket: whoever escalated it and one other person.
    let mut ins = Insert::new("watchers", "tenant_id, ticket_id, user_id, created_at");
    let mut watchers = 0;
    for e in &esc {
        let first = e.assignee.unwrap_or(0);
        let second = (first + 1 + rng.below(users.len() - 1)) % users.len();
        for (u, at) in [
            (first, e.ticket_created + HOUR),
            (second, e.ticket_created + 2 * HOUR),
        ] {
            ins.row(
                &mut loader,
                format!("{t}, {}, {}, {at}", lit(&e.ticket_id), lit(&users[u].id)),
            )
            .await;
            watchers += 1;
        }
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    Loaded {
        users,
        open_by_user,
        rows: loader.rows,
        tickets: n_tickets,
        escalations: esc.len(),
        active,
        watchers,
    }
}
