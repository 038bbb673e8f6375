//! Queues notifications straight into the outbox: `n` SLA reminders, each to one
//! organisation's owner, spread over `tenants` organisations (made by
//! [`super::sla_load::load`], whose owners are `owner0@org-<i>.test`). Each becomes one email
//! when the delivery worker fans it out. Also a minimal SMTP sink, and what the delivery
//! tests and the benchmark count.
#![allow(dead_code)] // each user takes what it needs

use jiff::Timestamp;
use ladder_storage::{new_id, Db};

use super::bulk::{lit, Insert, Loader};

const OUTBOX_COLS: &str = "id, tenant_id, ticket_id, recipient_user_ids, recipient_email, \
    audience, kind, payload, idempotency_key, created_at, attempts, next_attempt_at, \
    delivered_at, last_error";

/// Queues `n` reminders due at `at` to the owners of the organisations in the database;
/// returns how many.
pub async fn queue_reminders(db: &Db, n: usize, at: Timestamp) -> usize {
    let owners: Vec<(String, String)> =
        sqlx::query_as("SELECT id, tenant_id FROM users WHERE role = 'owner' ORDER BY id")
            .fetch_all(db.pool())
            .await
            .expect("read the owners");
    assert!(!owners.is_empty(), "load organisations first");
    let us = at.as_microsecond();
    let mut loader = Loader::new(db);
    let mut ins = Insert::new("outbox", OUTBOX_COLS);
    for i in 0..n {
        let (owner, tenant) = &owners[i % owners.len()];
        let payload = format!(
            r#"{{"clock":"update","due_at":"2030-01-01T10:00:00Z","escalation_id":"e{i}","subject":"Boiler still leaking {i}","ticket_id":"t{i}"}}"#
        );
        ins.row(
            &mut loader,
            format!(
                "{}, {}, NULL, {}, NULL, 'staff', 'sla_reminder', {}, {}, {us}, 0, {us}, NULL, NULL",
                lit(&new_id()),
                lit(tenant),
                lit(&format!("[\"{owner}\"]")),
                lit(&payload),
                lit(&format!("{}:sla_reminder", new_id())),
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    loader.commit().await;
    n
}

/// Deliveries by state: `(pending, delivered, failed)`, and outbox rows not yet fanned out.
pub async fn progress(db: &Db) -> (i64, i64, i64, i64) {
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql)
                .fetch_one(db.pool())
                .await
                .expect("count");
            n
        }
    };
    (
        count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").await,
        count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'").await,
        count("SELECT COUNT(*) FROM deliveries WHERE state = 'failed'").await,
        count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").await,
    )
}

/// The Message-ID of every delivery.
pub async fn keys(db: &Db) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT idempotency_key FROM deliveries")
        .fetch_all(db.pool())
        .await
        .expect("read the keys");
    rows.into_iter().map(|(k,)| k).collect()
}

/// A minimal SMTP server on loopback that accepts every message and only counts them and
/// keeps their Message-IDs: for measuring Ladder's throughput rather than a mail server's.
/// Hand-written (about fifty lines of the protocol) because a Python server, aiosmtpd,
/// parsing and writing each message, was itself the bottleneck.
pub struct MiniSink {
    pub port: u16,
    pub ids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl MiniSink {
    pub async fn start() -> MiniSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let port = listener.local_addr().expect("addr").port();
        let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let shared = ids.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let ids = shared.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    if w.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let mut in_data = false;
                    let mut id = String::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = if in_data {
                            if line == "." {
                                in_data = false;
                                ids.lock().expect("ids").push(std::mem::take(&mut id));
                                b"250 accepted\r\n"
                            } else {
                                if let Some(v) = line
                                    .strip_prefix("Message-ID: ")
                                    .or_else(|| line.strip_prefix("Message-Id: "))
                                {
                                    id = v.trim().to_owned();
                                }
                                continue;
                            }
                        } else {
                            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                            match verb.as_str() {
                                "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                                "DATA" => {
                                    in_data = true;
                                    b"354 go on\r\n"
                                }
                                "QUIT" => {
                                    let _ = w.write_all(b"221 bye\r\n").await;
                                    return;
                                }
                                _ => b"250 ok\r\n",
                            }
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        MiniSink { port, ids }
    }

    pub fn count(&self) -> usize {
        self.ids.lock().expect("ids").len()
    }
}
