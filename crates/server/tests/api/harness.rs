//! One harness for every API test: a fresh database (an SQLite file, or a PostgreSQL
//! database per test), the real server on a free port and on a clock the test moves, and
//! helpers that read like the flows.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};
use ladder_server::engine::EngineConfig;
use ladder_server::transport::Limits;
use ladder_server::{provision, AppState, Clock, TestClock};
use ladder_storage::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test case once on SQLite and once on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$case($crate::harness::Backend::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub url: String,
    pub client: reqwest::Client,
    /// What the server runs on: its database and its clock.
    pub state: AppState,
    /// The server's clock; only the test moves it.
    pub clock: TestClock,
    /// Whether the server's own timer workers run (then the test must not fire timers too).
    engine_runs: bool,
    _scratch: Scratch,
}

/// Where every test's clock starts: Monday 2 June 2025, 10:00 UTC. The built-in "default"
/// calendar (Monday to Friday, 09:00–17:00 UTC) is open and stays open for seven hours, so
/// business-hour deadlines fall the same way on every run, whatever the day the test runs.
pub const START: Timestamp = Timestamp::constant(1_748_858_400, 0);

/// The longest a test waits for something a server does on its own time (its timer workers,
/// a child process). Generous: a verdict never rests on it, only a hung server runs into it.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(180);

/// Polls `check` until it holds, or panics naming `what` after [`PATIENCE`]. Only for what
/// no test can make happen itself: what the test clock drives is fired by the test.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if check().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Timers fired per transaction when the test moves the clock.
const BATCH: i64 = 500;

/// What a fresh database leaves to clean up when the test ends: an SQLite file's directory,
/// or a PostgreSQL database (otherwise every run would leave one per test on the server).
pub enum Scratch {
    Dir(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Postgres { admin, name } => {
                let (admin, name) = (std::mem::take(admin), std::mem::take(name));
                // `Drop` cannot wait on the test's runtime, so the database is dropped from a
                // thread with a runtime of its own. FORCE closes the connections the test's
                // server still holds.
                let dropped = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async {
                        if let Ok(db) = Db::connect(&admin).await {
                            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(&drop).execute(db.pool()).await;
                            db.close().await;
                        }
                    });
                });
                let _ = dropped.join();
            }
        }
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The file named by `LADDER_ROUTE_LOG` (scripts/test sets it for the whole run) gets a line
/// `<database> <METHOD> <route template>` for each route a test's server answered, once per
/// test binary; `routes_covered` reads it afterwards (why there: see that module).
pub fn route_log(backend: Backend) -> Option<ladder_server::state::RouteLog> {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let path = std::env::var_os("LADDER_ROUTE_LOG")?;
    Some(Arc::new(move |method: &str, route: &str| {
        use std::io::Write;
        let line = format!("{} {method} {route}\n", backend.name());
        let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(&line) {
            return;
        }
        // A line that cannot be written is left unseen, so the route shows as not called
        // (the check fails) rather than the server's request failing here.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if written.is_ok() {
            seen.insert(line);
        }
    }))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        Timestamp::now().as_microsecond() % 1_000_000_000
    )
}

/// A fresh, empty database of the given kind, not migrated: its URL, and what to clean up.
pub async fn fresh_database(backend: Backend) -> (String, Scratch) {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(unique("ladder-test"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            (
                format!("sqlite://{}/ladder.db", dir.display()),
                Scratch::Dir(dir),
            )
        }
        Backend::Postgres => new_postgres_database(None).await,
    }
}

/// A fresh database of the given kind holding the current schema: a copy of a template
/// migrated once. Migrating costs PostgreSQL a third to half a second of CPU (a hundred-odd
/// DDL statements) and SQLite a tenth; over the suite's servers that was half of
/// PostgreSQL's CPU, and the API tests took 208 s instead of 148 s on 2 cores. The template
/// is named by the migrations it holds ([`schema_fingerprint`]): built once per schema.
/// [`TestApp`] still runs `migrate()` on the copy, which then finds nothing to apply.
pub async fn migrated_database(backend: Backend) -> (String, Scratch) {
    static SQLITE: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    static POSTGRES: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    match backend {
        Backend::Sqlite => {
            let template = SQLITE.get_or_init(sqlite_template).await;
            let (url, scratch) = fresh_database(backend).await;
            let Scratch::Dir(dir) = &scratch else {
                unreachable!("an SQLite database is a directory")
            };
            std::fs::copy(template, dir.join("ladder.db")).expect("copy the template");
            (url, scratch)
        }
        Backend::Postgres => {
            let template = POSTGRES.get_or_init(postgres_template).await;
            new_postgres_database(Some(template)).await
        }
    }
}

/// A new PostgreSQL database, empty or a copy of `template`: its URL, and what to clean up.
async fn new_postgres_database(template: Option<&str>) -> (String, Scratch) {
    let admin = admin_url();
    let name = unique("ladder_test");
    let db = Db::connect(&admin).await.expect("connect to PostgreSQL");
    let copy = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
    sqlx::query(&format!("CREATE DATABASE {name}{copy}"))
        .execute(db.pool())
        .await
        .expect("create database");
    db.close().await;
    (
        database_url(&admin, &name),
        Scratch::Postgres { admin, name },
    )
}

/// A digest of every migration file (names and contents): a template built from other
/// migrations has another name, so a changed schema is never taken from an old template.
fn schema_fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage");
    let mut files = Vec::new();
    for dir in ["migrations", "migrations-postgres", "migrations-sqlite"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("read the migrations") {
            files.push(entry.expect("a migration file").path());
        }
    }
    files.sort();
    let mut digest = Sha256::new();
    for file in files {
        digest.update(file.file_name().expect("a file name").as_encoded_bytes());
        digest.update(std::fs::read(&file).expect("read a migration"));
    }
    hex::encode(&digest.finalize()[..8])
}

/// The SQLite template: built in a directory of its own, written out whole by `VACUUM INTO`
/// and renamed into place, so a test binary running beside this one never copies half a file.
async fn sqlite_template() -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("ladder-test-template-{}.db", schema_fingerprint()));
    if path.exists() {
        return path;
    }
    let (url, _scratch) = fresh_database(Backend::Sqlite).await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate the template");
    let built = path.with_extension(unique("building"));
    sqlx::query("VACUUM INTO $1")
        .bind(built.to_str().expect("a UTF-8 temporary path"))
        .execute(db.pool())
        .await
        .expect("write the template");
    db.close().await;
    std::fs::rename(&built, &path).expect("put the template in place");
    path
}

/// The PostgreSQL template database's name. One test binary at a time builds it, under an
/// advisory lock, and drops the templates of other schemas (if no one is copying them). A
/// build cut short leaves the migrations it applied, each whole: `migrate()` on every copy
/// applies the rest.
async fn postgres_template() -> String {
    /// The advisory lock's key: any number, the same in every test binary.
    const BUILDING: i64 = 0x1add_e400;
    let admin = admin_url();
    let template = format!("ladder_template_{}", schema_fingerprint());
    let db = Db::connect(&admin).await.expect("connect to PostgreSQL");
    let mut lock = db.conn().await.expect("a connection");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(BUILDING)
        .execute(&mut *lock)
        .await
        .expect("take the template's lock");
    let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&template)
        .fetch_optional(&mut *lock)
        .await
        .expect("look for the template");
    if found.is_none() {
        sqlx::query(&format!("CREATE DATABASE {template}"))
            .execute(&mut *lock)
            .await
            .expect("create the template");
        let built = Db::connect(&database_url(&admin, &template))
            .await
            .expect("connect");
        built.migrate().await.expect("migrate the template");
        built.close().await;
        let stale: Vec<(String,)> = sqlx::query_as(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'ladder\\_template\\_%' AND datname <> $1",
        )
        .bind(&template)
        .fetch_all(&mut *lock)
        .await
        .expect("list the templates");
        for (name,) in stale {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut *lock)
                .await;
        }
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(BUILDING)
        .execute(&mut *lock)
        .await
        .expect("release the template's lock");
    drop(lock);
    db.close().await;
    template
}

fn admin_url() -> String {
    std::env::var("LADDER_TEST_PG_URL").expect(
        "LADDER_TEST_PG_URL must point at a PostgreSQL server (run ./scripts/test, which starts one)",
    )
}

/// The URL of database `name` on the server `admin` names.
fn database_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
}

impl TestApp {
    /// A server whose timer engine is stopped: timers fire when the test moves the clock
    /// ([`TestApp::advance`]), at the instants they fall due.
    pub async fn spawn(backend: Backend) -> TestApp {
        let config = EngineConfig {
            workers: 0,
            ..EngineConfig::for_backend(match backend {
                Backend::Sqlite => ladder_storage::Backend::Sqlite,
                Backend::Postgres => ladder_storage::Backend::Postgres,
            })
        };
        TestApp::spawn_with(backend, config).await
    }

    /// A server whose timer engine runs as configured (`workers: 0` stops it), on a test
    /// clock standing at [`START`].
    pub async fn spawn_with(backend: Backend, engine: EngineConfig) -> TestApp {
        TestApp::spawn_limited(backend, engine, Limits::default()).await
    }

    /// [`TestApp::spawn_with`] under the given transport limits (timeouts, connection cap).
    pub async fn spawn_limited(backend: Backend, engine: EngineConfig, limits: Limits) -> TestApp {
        TestApp::spawn_full(
            backend,
            engine,
            ladder_server::notify::Notifier::default(),
            limits,
        )
        .await
    }

    /// A server whose timer engine is stopped (as [`TestApp::spawn`]) sending notifications
    /// as `settings` say; its delivery workers do not run either: the test drains the outbox
    /// with [`TestApp::deliver`].
    pub async fn spawn_notifying(
        backend: Backend,
        settings: ladder_server::notify::Settings,
    ) -> TestApp {
        let config = EngineConfig {
            workers: 0,
            ..EngineConfig::for_backend(match backend {
                Backend::Sqlite => ladder_storage::Backend::Sqlite,
                Backend::Postgres => ladder_storage::Backend::Postgres,
            })
        };
        let notifier = ladder_server::notify::Notifier::new(settings).expect("notifier");
        TestApp::spawn_full(backend, config, notifier, Limits::default()).await
    }

    /// Fans out and sends every notification due now, as the delivery workers would;
    /// returns how many deliveries were attempted.
    pub async fn deliver(&self) -> usize {
        ladder_server::notify::drain(&self.state)
            .await
            .expect("deliver notifications")
    }

    /// A server whose timer engine runs as configured, sending notifications through
    /// `notifier`, under the given transport limits, on a test clock standing at [`START`].
    pub async fn spawn_full(
        backend: Backend,
        engine: EngineConfig,
        notifier: ladder_server::notify::Notifier,
        limits: Limits,
    ) -> TestApp {
        TestApp::spawn_inbound(
            backend,
            engine,
            notifier,
            limits,
            ladder_server::inbound::Settings::default(),
        )
        .await
    }

    /// [`TestApp::spawn_full`], taking email in as `inbound` says (limits, the secret key).
    pub async fn spawn_inbound(
        backend: Backend,
        engine: EngineConfig,
        notifier: ladder_server::notify::Notifier,
        limits: Limits,
        inbound: ladder_server::inbound::Settings,
    ) -> TestApp {
        TestApp::spawn_configured(backend, engine, notifier, limits, inbound, |s| s).await
    }

    /// [`TestApp::spawn_inbound`], with the state passed through `configure` before it is
    /// served (e.g. its trusted proxies or sign-in limits).
    pub async fn spawn_configured(
        backend: Backend,
        engine: EngineConfig,
        notifier: ladder_server::notify::Notifier,
        limits: Limits,
        inbound: ladder_server::inbound::Settings,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        let (url, scratch) = migrated_database(backend).await;
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = TestClock::at(START);
        let mut state = AppState::new(db.clone(), Clock::Test(clock.clone()))
            .with_notifier(notifier)
            .with_inbound(inbound);
        if let Some(log) = route_log(backend) {
            state = state.with_route_log(log);
        }
        let state = configure(state);
        let engine_runs = engine.workers > 0;
        let served = state.clone();
        tokio::spawn(async move {
            ladder_server::serve_limited(served, listener, std::future::pending(), engine, limits)
                .await
                .expect("server");
        });
        TestApp {
            base,
            db,
            url,
            client: reqwest::Client::new(),
            state,
            clock,
            engine_runs,
            _scratch: scratch,
        }
    }

    /// A second server on the test's database, as another process would be: its own pool,
    /// listener and streams, on the same test clock; only the database is shared. Returns its
    /// base URL.
    pub async fn server_beside(&self) -> String {
        let db = Db::connect(&self.url).await.expect("connect");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = AppState::new(db.clone(), Clock::Test(self.clock.clone()));
        let engine = EngineConfig {
            workers: 0,
            ..EngineConfig::for_backend(db.backend())
        };
        tokio::spawn(async move {
            ladder_server::serve_state(state, listener, std::future::pending(), engine)
                .await
                .expect("second server");
        });
        base
    }

    /// The server's now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Lets `by` pass: see [`TestApp::advance_to`].
    pub async fn advance(&self, by: SignedDuration) -> usize {
        self.advance_to(self.now() + by).await
    }

    /// Moves the clock to `to` as a punctual engine would live through it: the clock stops
    /// at each instant a timer falls due on the way, and the due timers fire there (timers
    /// they set that fall due before `to` fire in turn). Returns how many timers fired.
    pub async fn advance_to(&self, to: Timestamp) -> usize {
        assert!(
            !self.engine_runs,
            "the server's timer workers run: moving the clock would race them"
        );
        assert!(
            to >= self.now(),
            "the clock goes forward only ({to} is past)"
        );
        let mut fired = self.fire_due().await;
        loop {
            let next = ladder_storage::timers::next_due(&self.db)
                .await
                .expect("the next due timer");
            match next {
                Some(due) if due <= to => {
                    // A timer due already must have fired just now, unless its firing failed
                    // and it was set aside (then it is due later, not now).
                    assert!(due > self.now(), "a timer due at {due} did not fire");
                    self.clock.set(due);
                    fired += self.fire_due().await;
                }
                _ => break,
            }
        }
        self.clock.set(to);
        fired
    }

    /// Fires every timer due now, batch after batch, as the engine would.
    pub async fn fire_due(&self) -> usize {
        let mut fired = 0;
        loop {
            let n = ladder_server::engine::fire_due(&self.state, BATCH)
                .await
                .expect("fire due timers");
            fired += n;
            if n < BATCH as usize {
                return fired;
            }
        }
    }

    /// Creates an organisation and signs its owner in.
    pub async fn org(&self, name: &str) -> Org {
        let slug = provision::slugify(name);
        let email = format!("owner@{slug}.example");
        let (tenant, owner) = provision::create_tenant(
            &self.db,
            name,
            None,
            &email,
            &format!("{name} Owner"),
            "owner-password",
            self.now(),
        )
        .await
        .expect("create tenant");
        let session = self.login(&slug, &email, "owner-password").await;
        assert_eq!(session.id, owner.id.0);
        Org {
            tenant_id: tenant.id.0,
            slug,
            owner: session,
        }
    }

    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> Session {
        let (status, body) = self
            .call(
                "POST",
                None,
                "/auth/login",
                Some(json!({"tenant": tenant, "email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login failed: {body}");
        Session {
            token: body["token"].as_str().expect("token").to_owned(),
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            name: body["user"]["name"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// Sends a request to `/api/v1{path}` and returns the status and the JSON body (Null
    /// when empty).
    pub async fn call(
        &self,
        method: &str,
        who: Option<&Session>,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}/api/v1{}", self.base, path);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, url);
        if let Some(s) = who {
            req = req.bearer_auth(&s.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let ctype = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = res.text().await.expect("body");
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(
                ctype, "application/problem+json",
                "error without a problem document: {status} {text}"
            );
        }
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, who: &Session, path: &str) -> (StatusCode, Value) {
        self.call("GET", Some(who), path, None).await
    }

    pub async fn post(&self, who: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", Some(who), path, Some(body)).await
    }

    pub async fn patch(&self, who: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", Some(who), path, Some(body)).await
    }

    pub async fn put(&self, who: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", Some(who), path, Some(body)).await
    }

    /// Replaces the organisation's policy through the API and returns the saved document.
    pub async fn set_policy(&self, who: &Session, mut policy: Value) -> Value {
        let (_, current) = self.get(who, "/policy").await;
        policy["version"] = current["version"].clone();
        let (status, saved) = self.put(who, "/policy", policy).await;
        assert_eq!(status, StatusCode::OK, "policy refused: {saved}");
        saved
    }

    /// The ticket's audit trail, oldest first.
    pub async fn events(&self, who: &Session, ticket: &str) -> Vec<Value> {
        let (status, events) = self.get(who, &format!("/tickets/{ticket}/events")).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        events.as_array().cloned().expect("a list of events")
    }

    /// Counts rows straight from the database, for asserting that refusals change nothing.
    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(self.db.pool())
            .await
            .expect("count");
        n
    }

    /// A fingerprint of every table a request could change.
    pub async fn snapshot(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for t in [
            "tickets",
            "comments",
            "escalations",
            "audit_events",
            "outbox",
            "watchers",
            "ticket_links",
            "users",
            "teams",
            "customers",
            "approvals",
            "policies",
        ] {
            out.push(self.count(&format!("SELECT COUNT(*) FROM {t}")).await);
        }
        let (u,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(updated_at), 0) FROM tickets")
            .fetch_one(self.db.pool())
            .await
            .expect("max");
        out.push(u);
        out
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub id: String,
    pub name: String,
}

pub struct Org {
    pub tenant_id: String,
    pub slug: String,
    pub owner: Session,
}

impl Org {
    /// Adds a user with a role through the API and signs them in.
    pub async fn user(&self, app: &TestApp, name: &str, role: &str) -> Session {
        let email = format!(
            "{}@{}.example",
            name.to_lowercase().replace(' ', "."),
            self.slug
        );
        let (status, body) = app
            .post(
                &self.owner,
                "/users",
                json!({"email": email, "name": name, "role": role, "password": "password-123"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create user: {body}");
        app.login(&self.slug, &email, "password-123").await
    }

    pub async fn team(&self, app: &TestApp, name: &str, members: &[&Session]) -> String {
        let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let (status, body) = app
            .post(&self.owner, "/teams", json!({"name": name, "members": ids}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "create team: {body}");
        body["id"].as_str().expect("team id").to_owned()
    }

    pub async fn customer(&self, app: &TestApp, name: &str) -> String {
        let (status, body) = app
            .post(&self.owner, "/customers", json!({"name": name, "email": format!("{}@example.com", name.to_lowercase().replace(' ', ".")), "tier": "standard"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "create customer: {body}");
        body["id"].as_str().expect("customer id").to_owned()
    }
}

/// Builds a ticket the way a person would describe it: `TicketBuilder::new(&customer).saying("…")`.
pub struct TicketBuilder {
    body: Value,
}

impl TicketBuilder {
    pub fn new(customer_id: &str) -> TicketBuilder {
        TicketBuilder {
            body: json!({"subject": "Question", "description": "Hello", "customer_id": customer_id, "channel": "email"}),
        }
    }
    pub fn about(mut self, subject: &str) -> Self {
        self.body["subject"] = json!(subject);
        self
    }
    pub fn saying(mut self, text: &str) -> Self {
        self.body["description"] = json!(text);
        self
    }
    /// Opens the ticket as `who` and returns its id.
    pub async fn open(self, app: &TestApp, who: &Session) -> String {
        let (status, body) = app.post(who, "/tickets", self.body).await;
        assert_eq!(status, StatusCode::CREATED, "create ticket: {body}");
        body["id"].as_str().expect("ticket id").to_owned()
    }
}

/// Ids of the items of a queue page.
pub fn ids(page: &Value, key: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i[key].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The kinds of a ticket's events, in order.
pub fn kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The staff members a notification went to.
pub fn told(notification: &Value) -> Vec<&str> {
    notification["recipient_user_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Makes `policy` the organisation's policy through `PUT /api/v1/policy`, as its owner.
pub async fn set_policy(app: &TestApp, org: &Org, policy: &ladder_core::Policy) {
    let json = serde_json::to_value(policy).expect("policy serialises");
    app.set_policy(&org.owner, json).await;
}

/// The organisation's audit chain verifies from its first event to its last.
pub async fn assert_chain_intact(app: &TestApp, org: &Org) {
    let results = ladder_storage::audit::verify(&app.db, Some(&org.tenant_id))
        .await
        .expect("verify");
    assert!(
        matches!(
            results.as_slice(),
            [ladder_storage::audit::Verification::Intact { .. }]
        ),
        "{results:?}"
    );
}
