//! The write benchmark: how close Ladder's writes come to what the database itself commits.
//!
//! For each database (SQLite; PostgreSQL too under `LADDER_BENCH_PG_URL`), on an empty tenant
//! and on one holding 1,000,000 tickets (`support/writes_load.rs`: one customer with 10,000
//! of them and about 1,000 resolved escalations, 1,000 of the last hour sharing the
//! benchmark's subject), it measures in one run:
//!
//! 1. **The raw commit ceiling** of that same database, through the same pool and pragmas
//!    (SQLite: WAL, `synchronous=FULL`): transactions of one ~1 KB row plus one audit row,
//!    one after another, and from 8 connections at once (on SQLite, from 8 tasks on the
//!    write lane the server's writes run on, sharing commits as the server's do).
//! 2. **The request floor**: an authenticated read of one customer through the same server,
//!    sequentially and from 8 clients, with the server's CPU per read. Every write pays at
//!    least this (the session's look-up, a row read by its key, JSON both ways) and a commit,
//!    so one such read followed by one raw commit is the fastest a write through HTTP could
//!    go: the report shows that rate against the raw ceiling, the bound on how close any
//!    write can come to it on this machine.
//! 3. **Ladder's writes through HTTP** against the real `ladder serve` process: ticket
//!    creation (for the customer with 10,000 tickets, with the shared subject, so both history
//!    triggers run against the most history), a public reply, and an escalation; each
//!    sequentially and from 8 concurrent clients, plus the first request of its kind after a
//!    start against the tenth (each the median over three starts of the server). The first
//!    comes with a session signed in before the start, as users' sessions outlive a restart;
//!    the first after signing in again on the warm server is shown beside it, since the
//!    sign-in's password hashing leaves the CPU's caches cold for whatever follows it.
//!    Last, writes one at a time after a quiet spell, as most of a small organisation's are
//!    (the median of eight, each 0.6 s after the one before), against a sequential write's
//!    time and against the first after a start: what a start costs beyond any pause.
//! 4. **What each write leaves in the write-ahead log**, in bytes per write (on SQLite over
//!    the second to the tenth request, on PostgreSQL over the sequential run) against the raw
//!    commit's: the pages a commit must write out and sync, which bound how close a write can
//!    come to the raw ceiling.
//! 5. **Replies as a conversation grows**: the mean time of a new ticket's first ten replies
//!    against its last ten once it holds 200, each reply a few hundred characters; and the
//!    same for a thread of 40 emails from the customer, each quoting all the ones before it
//!    below a few hundred new characters, as mail programs do (the comments keep the history
//!    they quote, so the thread's text grows as the square of its length).
//!
//! ```text
//! cargo bench -p ladder-server --bench writes
//! LADDER_BENCH_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres cargo bench -p ladder-server --bench writes
//! LADDER_BENCH_TICKETS=100000 LADDER_BENCH_WRITES=100 cargo bench -p ladder-server --bench writes
//! ```
//!
//! `LADDER_BENCH_WRITES` is the number of sequential requests per kind (the concurrent run
//! makes twice as many); `LADDER_BENCH_ONLY=sqlite|postgres` runs one database. With
//! `LADDER_BENCH_PG_URL` (a server's admin URL) the PostgreSQL runs use fresh databases created
//! and dropped there; the SQLite files live under the target directory and are deleted after.
//! `LADDER_BENCH_SERVER_ARGS` adds arguments to `ladder serve`, to measure the server
//! otherwise configured.
//! Every response must be 201, so a broken write fails the benchmark rather than flattering it.
//!
//! Reading the concurrent figures: the benchmark's creations all report the same problem (the
//! shared subject), so they take turns on that problem's lock from the incident check to the
//! commit (`flows::incidents::prepare`), as concurrent reports of one problem must; replies and
//! escalations take no such lock. On a 2-core machine a sequential run keeps about one core
//! busy (client, server and database in turn) and 8 clients keep both busy (90–96% in the
//! reply phase on PostgreSQL), so there the machine bounds 8 clients near twice the
//! sequential rate.
//!
//! Reading the figures against the raw ceiling: a raw commit writes two rows, while a ticket's
//! creation also writes its indexes, its search entry, its audit event and chain head and its
//! hour's count, and a reply or an escalation as much again. The write-ahead log per write
//! shows that multiple, and each statement of a write is a round trip (on SQLite, a hop to the
//! connection's thread). On PostgreSQL a write plans each statement once per connection
//! (`PG_BEGIN_WRITE` in `ladder_storage::db`); with `pg_stat_statements` loaded, its `plans`
//! against `calls` show it: before, the escalation rollup was planned on every escalation.

use std::time::{Duration, Instant};

use ladder_storage::{new_id, Backend, Db};
use serde_json::{json, Value};

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/server.rs"]
mod server;
#[path = "support/writes_load.rs"]
mod writes_load;

use bulk::{env_usize, thousands};
use server::{fresh, get_json, login, start_server};
use writes_load::{AGENT, DESCRIPTION, HEAVY_EMAIL, OWNER, PASSWORD, SLUG, SUBJECT};

const CLIENTS: usize = 8;

/// Server starts per kind of write: the first and the tenth request after a start are each
/// the median over these, since one request's time on a shared machine swings by more than
/// the difference being measured.
const STARTS: usize = 3;

/// Writes made one at a time after a pause, on the warm server: most writes of a small
/// organisation come after a quiet spell, and on SQLite the first write after a checkpoint
/// that emptied the log also syncs the log's new header.
const QUIET_WRITES: usize = 8;
const QUIET_PAUSE: Duration = Duration::from_millis(600);

fn median(mut of: Vec<Duration>) -> Duration {
    of.sort();
    of.get(of.len() / 2).copied().unwrap_or_default()
}

/// Commits per second of `n` transactions, each one ~1 KB row and one audit-like row (id,
/// sequence, payload, previous hash, hash), from `clients` connections at once; and the
/// write-ahead log's bytes per commit.
async fn raw_ceiling(db: &Db, n: usize, clients: usize) -> (f64, Option<u64>) {
    for ddl in [
        "CREATE TABLE IF NOT EXISTS bench_raw (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, \
         body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS bench_raw_audit (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, \
         seq BIGINT NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(db.pool()).await.expect("raw table");
    }
    let body = "x".repeat(1024);
    let wal = wal_mark(db).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let db = db.clone();
        let body = body.clone();
        let lane = db.lane().cloned();
        let work = async move {
            for i in 0..n / clients {
                let mut tx = db.write().await.expect("begin");
                sqlx::query("INSERT INTO bench_raw VALUES ($1, 'bench', $2, $3)")
                    .bind(new_id())
                    .bind(&body)
                    .bind(i as i64)
                    .execute(tx.conn())
                    .await
                    .expect("raw row");
                sqlx::query("INSERT INTO bench_raw_audit VALUES ($1, 'bench', $2, $3, $4, $5)")
                    .bind(new_id())
                    .bind((c * n + i) as i64)
                    .bind(r#"{"after":{"subject":"raw"}}"#)
                    .bind("0".repeat(64))
                    .bind("f".repeat(64))
                    .execute(tx.conn())
                    .await
                    .expect("raw audit row");
                tx.commit().await.expect("commit");
            }
        };
        // On SQLite's write lane, where the server's writes run too.
        tasks.push(tokio::spawn(async move {
            match lane {
                Some(lane) => lane.run(work).await.expect("the lane"),
                None => work.await,
            }
        }));
    }
    for t in tasks {
        t.await.expect("raw writer");
    }
    let done = n / clients * clients;
    let rate = done as f64 / started.elapsed().as_secs_f64();
    let wal = wal_since(db, wal).await.map(|b| b / done as u64);
    for ddl in ["DROP TABLE bench_raw", "DROP TABLE bench_raw_audit"] {
        sqlx::query(ddl).execute(db.pool()).await.expect("drop raw");
    }
    (rate, wal)
}

/// A reading of the database's write-ahead log, to count the bytes some writes add to it.
/// PostgreSQL's is its insert position. SQLite's log has no position that only grows, so it is
/// emptied (a truncating checkpoint) and counted from there: a reading holds until the log is
/// emptied again, by the server's checkpointer (after 64 of its commits) or SQLite's own (at
/// 16,384 pages). The server's nine writes metered take milliseconds, one reading cut short would
/// read as a fraction of the other runs' figure; the raw commits run in this process, where
/// no checkpointer runs. `None` when SQLite could not empty the log (a reader was in the way).
async fn wal_mark(db: &Db) -> Option<u64> {
    match db.backend() {
        Backend::Postgres => Some(wal_position(db).await),
        Backend::Sqlite => {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(db.pool())
                .await
                .expect("checkpoint");
            (busy == 0).then_some(0)
        }
    }
}

/// The log's bytes since [`wal_mark`] returned `mark`.
async fn wal_since(db: &Db, mark: Option<u64>) -> Option<u64> {
    let mark = mark?;
    Some(wal_position(db).await.saturating_sub(mark))
}

/// PostgreSQL: the log's insert position in bytes. SQLite: the bytes of frames in the log (a
/// passive checkpoint reports them, and copies what it can without waiting on anyone).
async fn wal_position(db: &Db) -> u64 {
    match db.backend() {
        Backend::Postgres => {
            let (at,): (i64,) = sqlx::query_as(
                "SELECT CAST(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0') AS BIGINT)",
            )
            .fetch_one(db.pool())
            .await
            .expect("the WAL position");
            at as u64
        }
        Backend::Sqlite => {
            let (page,): (i64,) = sqlx::query_as("PRAGMA page_size")
                .fetch_one(db.pool())
                .await
                .expect("the page size");
            let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(db.pool())
                .await
                .expect("checkpoint");
            // Each frame is a page behind a 24-byte header.
            (frames.max(0) * (page + 24)) as u64
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Create,
    Comment,
    Escalate,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Comment => "comment",
            Kind::Escalate => "escalate",
        }
    }
}

/// One write of `kind` (on ticket `on`, for a comment or an escalation); returns the new
/// ticket's id for a create, and how long it took.
async fn write(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    kind: Kind,
    customer: &str,
    on: &str,
) -> (Duration, Option<String>) {
    let (url, body) = match kind {
        Kind::Create => (
            format!("{base}/api/v1/tickets"),
            json!({"subject": SUBJECT, "description": DESCRIPTION, "customer_id": customer,
                   "channel": "email"}),
        ),
        Kind::Comment => (
            format!("{base}/api/v1/tickets/{on}/comments"),
            json!({"body": "We are looking into the 502 at checkout and will write again within the hour.",
                   "public": true}),
        ),
        Kind::Escalate => (
            format!("{base}/api/v1/tickets/{on}/escalate"),
            json!({"category": "technical", "note": "Checkout fails for this customer; cache cleared, still 502.",
                   "contact_method": "email", "urgency": "standard"}),
        ),
    };
    let (took, bytes) = post(client, &url, token, &body).await;
    let id = (kind == Kind::Create).then(|| {
        let v: Value = serde_json::from_slice(&bytes).expect("JSON");
        v["id"].as_str().expect("the ticket's id").to_owned()
    });
    (took, id)
}

/// POSTs `body` to `url`; returns how long it took and the response, which must be a 201.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> (Duration, bytes::Bytes) {
    send(client.post(url).bearer_auth(token).json(body), url).await
}

/// Sends a POST to `url`; returns how long it took and the response, which must be a 201.
async fn send(req: reqwest::RequestBuilder, url: &str) -> (Duration, bytes::Bytes) {
    let t0 = Instant::now();
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status();
    let bytes = resp.bytes().await.expect("read the response");
    let took = t0.elapsed();
    assert_eq!(
        status,
        201,
        "POST {url}: {}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
    );
    (took, bytes)
}

struct Figures {
    first: Duration,
    tenth: Duration,
    /// The first write after signing in again on the warm server, for comparison with
    /// `first` (which uses a session from before the start).
    first_warm: Duration,
    /// The median write [`QUIET_PAUSE`] after the one before it, on the warm server.
    quiet: Duration,
    /// The write-ahead log's bytes per write: on SQLite over the second to the tenth, on
    /// PostgreSQL over the sequential run.
    wal: Option<u64>,
    sequential: f64,
    concurrent: f64,
    /// The server's CPU time per write, sequentially and with 8 clients (`None` without
    /// `/proc`).
    cpu_sequential: Option<Duration>,
    cpu_concurrent: Option<Duration>,
    /// For replies: the mean time of a new conversation's first ten replies, and of its last
    /// ten when it holds [`CONVERSATION`]; then the same for an email thread of
    /// [`EMAIL_THREAD`] replies that quote the thread.
    conversation: Option<[(Duration, Duration); 2]>,
}

/// CPU time per write between two readings of [`server::Server::cpu`].
fn per_write(before: Option<Duration>, after: Option<Duration>, n: usize) -> Option<Duration> {
    Some(after?.checked_sub(before?)? / u32::try_from(n).ok()?)
}

/// Starts a server [`STARTS`] times and measures one kind of write: the first and the tenth
/// request after each start, then, on the last server, the sequential and concurrent runs.
/// `tickets` are the tickets to comment on or escalate (one each), taken from the front; a
/// create adds the new ones at the back.
async fn measure(
    url: &str,
    kind: Kind,
    customer: &str,
    tickets: &mut Vec<String>,
    n: usize,
) -> Figures {
    let mut next = 0usize;
    let mut take = |tickets: &Vec<String>| -> String {
        if kind == Kind::Create {
            return String::new();
        }
        let t = tickets
            .get(next)
            .unwrap_or_else(|| panic!("not enough tickets for {}", kind.name()))
            .clone();
        next += 1;
        t
    };
    let mut created = Vec::new();
    let (mut firsts, mut tenths, mut warm_firsts) = (Vec::new(), Vec::new(), Vec::new());
    let mut wal = None;
    // A session outlives a restart, as users' sessions do: signed in on a server of its own,
    // so that the first write after each start below is not also the first after a sign-in.
    let token = {
        let (_server, base) = start_server(url, &[]).await;
        login(&reqwest::Client::new(), &base, SLUG, AGENT, PASSWORD).await
    };
    let mut started_server = None;
    for start in 0..STARTS {
        // The previous server stops before the next one starts.
        drop(started_server.take());
        let (server, base) = start_server(url, &[]).await;
        let meter = Db::connect(url).await.expect("connect the meter");
        let client = reqwest::Client::new();
        // The server's checkpointer empties SQLite's log from time to time (after 64 of its
        // commits), so there it is metered over a few writes, the second to the tenth after
        // the last start, well before a new server's first checkpoint.
        // PostgreSQL's position only grows, so it is metered over the sequential run, where a
        // page's first change after a checkpoint (a full page image in the log) weighs as it
        // does in service rather than over nine writes.
        let sqlite = meter.backend() == Backend::Sqlite;
        let last = start + 1 == STARTS;
        for i in 0..10 {
            let on = take(tickets);
            let (took, id) = write(&client, &base, &token, kind, customer, &on).await;
            created.extend(id);
            if i == 0 {
                firsts.push(took);
                if sqlite && last {
                    wal = wal_mark(&meter).await;
                }
            }
            if i == 9 {
                tenths.push(took);
            }
        }
        if sqlite && last {
            wal = wal_since(&meter, wal).await.map(|b| b / 9);
        }
        // For comparison, the first write after a sign-in on the server now warm: the
        // sign-in's password hashing leaves the CPU's caches cold for what follows it, on any
        // server and at any time.
        let signed_in = login(&client, &base, SLUG, AGENT, PASSWORD).await;
        for i in 0..10 {
            let on = take(tickets);
            let (took, id) = write(&client, &base, &signed_in, kind, customer, &on).await;
            created.extend(id);
            if i == 0 {
                warm_firsts.push(took);
            }
        }
        if !sqlite && last {
            wal = wal_mark(&meter).await;
        }
        meter.close().await;
        started_server = Some((server, base, client));
    }
    let (server, base, client) = started_server.expect("at least one start");
    let meter = Db::connect(url).await.expect("connect the meter");
    let sqlite = meter.backend() == Backend::Sqlite;
    let cpu_before = server.cpu();
    let started = Instant::now();
    for _ in 0..n {
        let on = take(tickets);
        created.extend(write(&client, &base, &token, kind, customer, &on).await.1);
    }
    let sequential = n as f64 / started.elapsed().as_secs_f64();
    let cpu_between = server.cpu();
    if !sqlite {
        wal = wal_since(&meter, wal).await.map(|b| b / n as u64);
    }
    meter.close().await;

    let per_client = 2 * n / CLIENTS;
    let mut batches: Vec<Vec<String>> = Vec::new();
    for _ in 0..CLIENTS {
        batches.push((0..per_client).map(|_| take(tickets)).collect());
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for batch in batches {
        let base = base.clone();
        let token = token.clone();
        let customer = customer.to_owned();
        tasks.push(tokio::spawn(async move {
            // A client of its own: its own connection, as separate users would have.
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            for on in batch {
                ids.extend(write(&client, &base, &token, kind, &customer, &on).await.1);
            }
            ids
        }));
    }
    for t in tasks {
        created.extend(t.await.expect("a client"));
    }
    let concurrent = (per_client * CLIENTS) as f64 / started.elapsed().as_secs_f64();
    let cpu_after = server.cpu();
    // Writes after a quiet spell, as most of a small organisation's are.
    let mut quiet = Vec::new();
    for _ in 0..QUIET_WRITES {
        tokio::time::sleep(QUIET_PAUSE).await;
        let on = take(tickets);
        let (took, id) = write(&client, &base, &token, kind, customer, &on).await;
        created.extend(id);
        quiet.push(took);
    }
    let conversation = match kind {
        Kind::Comment => Some([
            conversation(
                &client,
                &base,
                &token,
                customer,
                CONVERSATION,
                Thread::Replies,
            )
            .await,
            conversation(
                &client,
                &base,
                &token,
                customer,
                EMAIL_THREAD,
                Thread::QuotingEmail,
            )
            .await,
        ]),
        _ => None,
    };
    drop(server);
    match kind {
        Kind::Create => tickets.extend(created),
        // A ticket is escalated once; comments may go on the same tickets again.
        Kind::Escalate => drop(tickets.drain(..next)),
        Kind::Comment => {}
    }
    Figures {
        first: median(firsts),
        tenth: median(tenths),
        first_warm: median(warm_firsts),
        quiet: median(quiet),
        wal,
        sequential,
        concurrent,
        cpu_sequential: per_write(cpu_before, cpu_between, n),
        cpu_concurrent: per_write(cpu_between, cpu_after, per_client * CLIENTS),
        conversation,
    }
}

/// The floor under a write through HTTP, measured against the same server: an
/// authenticated read of one customer (the session's look-up and one row by its key, the
/// least a write also does before it changes anything), `n` one after another and `2n` from
/// [`CLIENTS`] clients, after ten to warm up. Returns the rates and the server's CPU time per
/// read, sequentially. A write pays this and commits, so no write can go faster than one
/// such read followed by one raw commit.
async fn request_floor(url: &str, customer: &str, n: usize) -> Floor {
    let (server, base) = start_server(url, &[]).await;
    let client = reqwest::Client::new();
    let token = login(&client, &base, SLUG, AGENT, PASSWORD).await;
    let target = format!("{base}/api/v1/customers/{customer}");
    for _ in 0..10 {
        get_json(&client, &target, &token).await;
    }
    let cpu_before = server.cpu();
    let started = Instant::now();
    for _ in 0..n {
        get_json(&client, &target, &token).await;
    }
    let sequential = n as f64 / started.elapsed().as_secs_f64();
    let cpu = per_write(cpu_before, server.cpu(), n);
    let per_client = 2 * n / CLIENTS;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (target, token) = (target.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..per_client {
                get_json(&client, &target, &token).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("a client");
    }
    let concurrent = (per_client * CLIENTS) as f64 / started.elapsed().as_secs_f64();
    drop(server);
    Floor {
        sequential,
        concurrent,
        cpu,
    }
}

struct Floor {
    sequential: f64,
    concurrent: f64,
    cpu: Option<Duration>,
}

/// Replies a long conversation takes: [`CONVERSATION`] replies on a new ticket, one after
/// another, each a few hundred characters.
const CONVERSATION: usize = 200;

/// Replies in the email thread, each quoting the thread before it with `> ` on every line:
/// the last holds about 19,000 characters (a comment may hold 20,000), and the thread's
/// text about 350 KB.
const EMAIL_THREAD: usize = 40;

/// How a conversation's replies arrive.
#[derive(Clone, Copy, PartialEq)]
enum Thread {
    /// An agent's public replies through the API.
    Replies,
    /// The customer's emails through `POST /inbound/email`, each quoting the one before as
    /// mail programs do.
    QuotingEmail,
}

/// Builds a conversation of `len` replies on a new ticket; returns the mean time of its first
/// ten replies and of its last ten.
async fn conversation(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    customer: &str,
    len: usize,
    thread: Thread,
) -> (Duration, Duration) {
    const LINES: [&str; 4] = [
        "Thanks for the screenshots. The card payment fails at the last step with error 502, \
         which points at the payment gateway rather than your browser.",
        "We cleared the cache on our side and restarted the checkout service; could you try \
         again and tell us the time it fails, with the order number if you have one?",
        "The gateway's logs show a timeout for your order. We have raised it with the payment \
         provider and will write again as soon as they answer.",
        "A refund for the duplicate charge is on its way and should reach your account within \
         five working days. The order itself went through this morning.",
    ];
    let (_, id) = write(client, base, token, Kind::Create, customer, "").await;
    let ticket = id.expect("the new ticket's id");
    let comments = format!("{base}/api/v1/tickets/{ticket}/comments");
    let inbound = format!("{base}/api/v1/inbound/email");
    // Email is taken in with an owner's token (or the organisation's inbound token).
    let owner = match thread {
        Thread::QuotingEmail => login(client, base, SLUG, OWNER, PASSWORD).await,
        Thread::Replies => String::new(),
    };
    let mut took = Vec::with_capacity(len);
    let mut previous = String::new();
    for i in 0..len {
        let mut body = format!(
            "Reply {i}. {} {}",
            LINES[i % LINES.len()],
            LINES[(i / LINES.len()) % LINES.len()]
        );
        let (t, _) = match thread {
            Thread::Replies => {
                post(
                    client,
                    &comments,
                    token,
                    &json!({"body": body, "public": true}),
                )
                .await
            }
            Thread::QuotingEmail => {
                if !previous.is_empty() {
                    body.push_str("\n\nOn Mon, 2 Jun 2025, Writes Co wrote:\n");
                    for line in previous.lines() {
                        body.push_str("> ");
                        body.push_str(line);
                        body.push('\n');
                    }
                }
                let raw = format!(
                    "From: {HEAVY_EMAIL}\r\nTo: help@writes.test\r\n\
                     Subject: Re: [#{ticket}] {SUBJECT}\r\n\
                     Date: Mon, 02 Jun 2025 09:00:00 +0000\r\n\
                     Message-ID: <thread-{ticket}-{i}@example.test>\r\nMIME-Version: 1.0\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
                    body.replace('\n', "\r\n")
                );
                previous = body;
                let req = client
                    .post(&inbound)
                    .bearer_auth(&owner)
                    .header("content-type", "message/rfc822")
                    .body(raw);
                send(req, &inbound).await
            }
        };
        took.push(t);
    }
    let mean = |d: &[Duration]| d.iter().sum::<Duration>() / d.len() as u32;
    (mean(&took[..10]), mean(&took[len - 10..]))
}

struct Run {
    raw: f64,
    raw8: f64,
    floor: Floor,
    /// The write-ahead log's bytes per raw commit.
    raw_wal: Option<u64>,
    kinds: Vec<(Kind, Figures)>,
}

async fn run(admin: Option<&str>, label: &str, n_tickets: usize, n: usize) -> Run {
    let (url, cleanup) = fresh(admin, "writes", label).await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let t0 = Instant::now();
    let loaded = writes_load::load(&db, n_tickets).await;
    eprintln!(
        "  {label}: loaded {} rows in {:.1} s",
        thousands(loaded.rows),
        t0.elapsed().as_secs_f64()
    );
    if db.backend() == Backend::Postgres {
        // Vacuumed and checkpointed after the bulk load, as the timer benchmark is: otherwise
        // autovacuum and the checkpointer are still working through the load while the writes
        // are measured, which a database grown to this size over months is not.
        for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
            sqlx::query(statement)
                .execute(db.pool())
                .await
                .expect(statement);
        }
    }
    // A new pool for the raw commits: on the bulk load's, SQLite's truncating checkpoint for
    // the metering sometimes gave up after its busy timeout; against the server's it never did.
    db.close().await;
    let db = Db::connect(&url).await.expect("connect");
    let (raw, raw_wal) = raw_ceiling(&db, 500, 1).await;
    let (raw8, _) = raw_ceiling(&db, 800, CLIENTS).await;
    db.close().await;
    let floor = request_floor(&url, &loaded.heavy_customer, n).await;
    eprintln!(
        "  {label}: request floor {:.1}/s sequential, {:.1}/s with {CLIENTS} clients",
        floor.sequential, floor.concurrent
    );
    let mut tickets = Vec::new();
    let mut kinds = Vec::new();
    for kind in [Kind::Create, Kind::Comment, Kind::Escalate] {
        let f = measure(&url, kind, &loaded.heavy_customer, &mut tickets, n).await;
        eprintln!(
            "  {label}: {} first {:.1} ms, tenth {:.1} ms, {:.1}/s sequential, {:.1}/s with {CLIENTS} clients",
            kind.name(),
            ms(f.first),
            ms(f.tenth),
            f.sequential,
            f.concurrent
        );
        eprintln!(
            "  {label}: {} server CPU per write {} sequential, {} with {CLIENTS} clients",
            kind.name(),
            cpu_ms(f.cpu_sequential),
            cpu_ms(f.cpu_concurrent)
        );
        kinds.push((kind, f));
    }
    cleanup();
    Run {
        raw,
        raw8,
        floor,
        raw_wal,
        kinds,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn kib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "n/a".to_owned(),
        |b| format!("{:.1} KiB", b as f64 / 1024.0),
    )
}

fn cpu_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "n/a".to_owned(), |d| format!("{:.2} ms", ms(d)))
}

fn report(backend: &str, empty: &Run, full: &Run, n_tickets: usize) {
    println!("\n== {backend} ==");
    for (label, r) in [("empty", empty), (&*thousands(n_tickets as u64), full)] {
        println!(
            "{label:>10} tickets: raw ceiling {:.0} commits/s sequential, {:.0}/s from {CLIENTS} connections",
            r.raw, r.raw8
        );
        println!(
            "{label:>10} tickets: write-ahead log per raw commit {}",
            kib(r.raw_wal)
        );
        // One read then one raw commit, one after the other: the fastest a write could go.
        let bound = 1.0 / (1.0 / r.floor.sequential + 1.0 / r.raw);
        println!(
            "{label:>10} tickets: request floor (a signed-in read of one customer) {:.0}/s sequential, {:.0}/s with {CLIENTS} clients ({:.0}% of raw), server CPU {} per read; a read then a raw commit: {:.0}/s ({:.0}% of raw)",
            r.floor.sequential,
            r.floor.concurrent,
            100.0 * r.floor.concurrent / r.raw,
            cpu_ms(r.floor.cpu),
            bound,
            100.0 * bound / r.raw,
        );
        for (kind, f) in &r.kinds {
            println!(
                "{label:>10} {:<8} first {:>7.1} ms  tenth {:>6.1} ms  ({:.2}x)  sequential {:>6.1}/s ({:>3.0}% of raw)  {CLIENTS} clients {:>6.1}/s ({:>3.0}% of raw, {:.2}x sequential)",
                kind.name(),
                ms(f.first),
                ms(f.tenth),
                ms(f.first) / ms(f.tenth).max(f64::EPSILON),
                f.sequential,
                100.0 * f.sequential / r.raw,
                f.concurrent,
                100.0 * f.concurrent / r.raw,
                f.concurrent / f.sequential,
            );
            println!(
                "{label:>10} {:<8} on the warm server: after a quiet {:.1} s {:.1} ms ({:.2}x a sequential write's time; the first after a start is {:.2}x this), after signing in again {:.1} ms ({:.2}x the tenth)",
                kind.name(),
                QUIET_PAUSE.as_secs_f64(),
                ms(f.quiet),
                ms(f.quiet) * f.sequential / 1000.0,
                ms(f.first) / ms(f.quiet).max(f64::EPSILON),
                ms(f.first_warm),
                ms(f.first_warm) / ms(f.tenth).max(f64::EPSILON),
            );
            println!(
                "{label:>10} {:<8} server CPU per write: sequential {}, {CLIENTS} clients {}; write-ahead log per write {}{}",
                kind.name(),
                cpu_ms(f.cpu_sequential),
                cpu_ms(f.cpu_concurrent),
                kib(f.wal),
                match (f.wal, r.raw_wal) {
                    (Some(w), Some(raw)) if raw > 0 => format!(" ({:.1}x raw)", w as f64 / raw as f64),
                    _ => String::new(),
                },
            );
            if let Some(threads) = f.conversation {
                for ((early, late), (what, len)) in threads.into_iter().zip([
                    ("a conversation's", CONVERSATION),
                    ("a quoting email thread's", EMAIL_THREAD),
                ]) {
                    println!(
                        "{label:>10} {:<8} {what} replies 1-10 {:.1} ms, {}-{len} {:.1} ms ({:.2}x)",
                        kind.name(),
                        ms(early),
                        len - 9,
                        ms(late),
                        ms(late) / ms(early).max(f64::EPSILON),
                    );
                }
            }
        }
    }
    for ((kind, e), (_, f)) in empty.kinds.iter().zip(&full.kinds) {
        println!(
            "{:>10} {:<8} full/empty: sequential {:.2}, {CLIENTS} clients {:.2}",
            "",
            kind.name(),
            f.sequential / e.sequential,
            f.concurrent / e.concurrent,
        );
    }
}

#[tokio::main]
async fn main() {
    let n_tickets = env_usize("LADDER_BENCH_TICKETS", 1_000_000);
    let n = env_usize("LADDER_BENCH_WRITES", 200);
    let only = std::env::var("LADDER_BENCH_ONLY").ok();
    let pg = std::env::var("LADDER_BENCH_PG_URL").ok();
    let mut backends: Vec<(&str, Option<&str>)> = Vec::new();
    if only.as_deref() != Some("postgres") {
        backends.push(("SQLite", None));
    }
    if only.as_deref() != Some("sqlite") {
        if let Some(pg) = pg.as_deref() {
            backends.push(("PostgreSQL", Some(pg)));
        }
    }
    for (name, admin) in backends {
        eprintln!("{name}:");
        let empty = run(admin, "empty", 0, n).await;
        let full = run(admin, "full", n_tickets, n).await;
        report(name, &empty, &full, n_tickets);
    }
}
