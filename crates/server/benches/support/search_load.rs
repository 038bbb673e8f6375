//! The organisation the search benchmark loads: customers with names, emails and phones,
//! tickets whose words follow a Zipf law over a made-up vocabulary (so that a word matches
//! anything from one ticket to most of them), each carrying an order number, and comments on
//! a share of them. The full-text indexes fill as the rows go in: the triggers of the
//! migrations write them in each load transaction, as they would for any other writer.
#![allow(dead_code)] // each benchmark uses its own part

use jiff::Timestamp;
use ladder_storage::{new_id, new_id_at, Db};

use super::bulk::{insert_tenant, insert_users, lit, opt_lit, Insert, Loader, Rng};

pub const PASSWORD: &str = "bench-password";
pub const SLUG: &str = "search";
pub const N_AGENTS: usize = 20;
const DAY: i64 = 24 * 3_600_000_000;

const SYLLABLES: [&str; 12] = [
    "ka", "lo", "mi", "ru", "te", "so", "na", "vi", "pe", "du", "ga", "zo",
];
const FIRST: [&str; 20] = [
    "Olivia", "Peter", "Maria", "James", "Aisha", "Chen", "Lucas", "Fatima", "Noah", "Emma",
    "Mateo", "Sofia", "Ivan", "Amara", "Kenji", "Leila", "Oscar", "Nina", "Tomas", "Zoe",
];
const LAST: [&str; 20] = [
    "Smith", "Lopez", "Okafor", "Nguyen", "Kowalski", "Haddad", "Silva", "Muller", "Rossi",
    "Tanaka", "Olsen", "Petrov", "Garcia", "Ibrahim", "Kim", "Novak", "Dubois", "Singh", "Costa",
    "Brown",
];

/// The made-up vocabulary: every word of two and three syllables, by rank (rank 0 is the
/// most frequent).
pub fn vocabulary() -> Vec<String> {
    let mut words = Vec::new();
    for a in SYLLABLES {
        for b in SYLLABLES {
            for c in SYLLABLES {
                words.push(format!("{a}{b}{c}"));
            }
            words.push(format!("{a}{b}"));
        }
    }
    words
}

/// Draws ranks with probability proportional to 1 / (rank + 1).
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect::<Vec<_>>();
        let total = cumulative[n - 1];
        Zipf {
            cumulative: cumulative.into_iter().map(|c| c / total).collect(),
        }
    }

    pub fn draw(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1)
    }
}

fn sentence(rng: &mut Rng, zipf: &Zipf, words: &[String], n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&words[zipf.draw(rng)]);
    }
    s
}

/// The order number ticket `i` mentions: one ticket each.
pub fn order_number(i: usize) -> String {
    format!("QX{:07}", i * 7 + 3)
}

/// Customer `i`'s name, email and phone.
pub fn customer(i: usize) -> (String, String, String) {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    (
        format!("{first} {last} {i}"),
        format!(
            "{}.{}{i}@mail{}.example",
            first.to_lowercase(),
            last.to_lowercase(),
            i % 97
        ),
        format!("+1 (555) {:03}-{:04}", (i / 10_000) % 1000, i % 10_000),
    )
}

pub struct Loaded {
    pub owner_email: String,
    pub agents: Vec<String>,
    pub customers: Vec<String>,
    pub tickets: usize,
    pub comments: usize,
}

pub async fn load(db: &Db, n_tickets: usize, n_customers: usize, n_comments: usize) -> Loaded {
    let mut rng = Rng(0x5ea7_c4ed);
    let words = vocabulary();
    let zipf = Zipf::new(words.len());
    let now = Timestamp::now().as_microsecond();
    let start = now - 730 * DAY;
    let mut loader = Loader::new(db);
    let tenant_id = insert_tenant(&mut loader, "Search Co", SLUG, start).await;
    let t = lit(&tenant_id);

    let owner_email = "owner@search.test".to_owned();
    let mut users = vec![(new_id(), owner_email.clone(), "owner")];
    for i in 0..N_AGENTS {
        users.push((new_id(), format!("agent{i}@search.test"), "agent"));
    }
    let staff = users.iter().enumerate().map(|(i, (id, email, role))| {
        (
            id.as_str(),
            email.as_str(),
            format!("Search User {i}"),
            *role,
        )
    });
    insert_users(&mut loader, &tenant_id, staff, PASSWORD, start).await;

    let customers: Vec<String> = (0..n_customers).map(|_| new_id()).collect();
    let mut ins = Insert::new(
        "customers",
        "id, tenant_id, name, email, phone, tier, created_at",
    );
    for (i, id) in customers.iter().enumerate() {
        let (name, email, phone) = customer(i);
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, {}, {}, {}, 'standard', {}",
                lit(id),
                lit(&name),
                lit(&email),
                lit(&phone),
                start + i as i64
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

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
    let step = (730 * DAY) / n_tickets.max(1) as i64;
    let mut ticket_ids = Vec::with_capacity(n_tickets);
    let mut ins = Insert::new(
        "tickets",
        "id, tenant_id, subject, description, customer_id, channel, category, priority, status, \
         assignee_id, team_id, tags, triggers, first_response_at, created_by, created_at, \
         updated_at",
    );
    for i in 0..n_tickets {
        let created = start + i as i64 * step;
        // Minted at creation, as the server mints a ticket's id.
        let id = new_id_at(Timestamp::from_microsecond(created).expect("a creation time"));
        let status = match rng.unit() {
            x if x < 0.05 => "new",
            x if x < 0.15 => "open",
            x if x < 0.20 => "pending",
            x if x < 0.65 => "resolved",
            x if x < 0.97 => "closed",
            _ => "escalated",
        };
        let assignee = (rng.unit() < 0.95).then(|| users[1 + rng.below(N_AGENTS)].0.as_str());
        let subject_len = 3 + rng.below(5);
        let subject = sentence(&mut rng, &zipf, &words, subject_len);
        let description_len = 15 + rng.below(25);
        let description = format!(
            "{} order {} {}",
            sentence(&mut rng, &zipf, &words, description_len / 2),
            order_number(i),
            sentence(&mut rng, &zipf, &words, description_len / 2)
        );
        let category = (rng.unit() < 0.8).then(|| rng.pick(&categories));
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, {}, {}, {}, {}, {}, {}, '{status}', {}, NULL, '[]', '[]', NULL, NULL, \
                 {created}, {}",
                lit(&id),
                lit(&subject),
                lit(&description),
                lit(&customers[rng.below(customers.len())]),
                lit(rng.pick(&["web", "email", "phone", "chat", "api"])),
                opt_lit(category),
                lit(rng.pick(&["low", "normal", "normal", "normal", "high", "urgent"])),
                opt_lit(assignee),
                created + rng.between(0, 3 * DAY),
            ),
        )
        .await;
        ticket_ids.push((id, created));
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    let mut ins = Insert::new(
        "comments",
        "id, tenant_id, ticket_id, author_id, body, public, logged_call, created_at",
    );
    for _ in 0..n_comments {
        let (ticket, created) = &ticket_ids[rng.below(ticket_ids.len())];
        let len = 8 + rng.below(20);
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, {}, NULL, {}, TRUE, FALSE, {}",
                lit(&new_id()),
                lit(ticket),
                lit(&sentence(&mut rng, &zipf, &words, len)),
                created + rng.between(1, DAY)
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;
    Loaded {
        owner_email,
        agents: users[1..].iter().map(|u| u.0.clone()).collect(),
        customers,
        tickets: n_tickets,
        comments: n_comments,
    }
}
