//! Bulk loading for the benchmarks (and the multi-server test): multi-row inserts of
//! generated rows in a few large transactions, far faster than going through the API.
#![allow(dead_code)] // each benchmark uses its own part

use ladder_storage::{new_id, Backend, Db, WriteTx};

pub const ROWS_PER_INSERT: usize = 500;
/// Multi-row inserts per transaction while loading.
pub const INSERTS_PER_TX: usize = 20;

/// The benchmark's database, migrated, and its name for the report: `LADDER_BENCH_DATABASE_URL`,
/// or else a fresh SQLite file under `target/bench-<name>/`.
pub async fn bench_db(name: &str) -> (Db, &'static str) {
    let url = match (
        std::env::var("LADDER_BENCH_DATABASE_URL"),
        std::env::var("LADDER_BENCH_PG_URL"),
    ) {
        (Ok(url), _) => url,
        // A PostgreSQL server's admin URL: a fresh database `ladder_bench_<name>` on it.
        (Err(_), Ok(admin)) => {
            let db_name = format!("ladder_bench_{name}");
            let admin_db = Db::connect(&admin).await.expect("connect to PostgreSQL");
            for sql in [
                format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"),
                format!("CREATE DATABASE {db_name}"),
            ] {
                sqlx::query(&sql)
                    .execute(admin_db.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            admin_db.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            format!("{base}/{db_name}")
        }
        (Err(_), Err(_)) => {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_owned()
            });
            let dir = std::path::Path::new(&target).join(format!("bench-{name}"));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {dir:?}: {e}"));
            let path = dir.join("ladder.db");
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => panic!("delete {p:?}: {e}"),
                }
            }
            format!("sqlite://{}", path.display())
        }
    };
    let db = Db::connect(&url).await.expect("connect to the database");
    db.migrate().await.expect("migrate");
    let backend = match db.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    (db, backend)
}

pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// A small deterministic generator (splitmix64): the same data on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// An SQL string literal. Every value is generated here, but quote anyway.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn opt_lit(s: Option<&str>) -> String {
    s.map(lit).unwrap_or_else(|| "NULL".to_owned())
}

pub fn opt_int(v: Option<i64>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "NULL".to_owned())
}

/// Runs multi-row inserts in transactions of [`INSERTS_PER_TX`] statements.
pub struct Loader {
    db: Db,
    tx: Option<WriteTx>,
    in_tx: usize,
    pub rows: u64,
}

impl Loader {
    pub fn new(db: &Db) -> Loader {
        Loader {
            db: db.clone(),
            tx: None,
            in_tx: 0,
            rows: 0,
        }
    }

    pub async fn exec(&mut self, sql: &str, rows: usize) {
        if self.tx.is_none() {
            self.tx = Some(self.db.write().await.expect("begin a load transaction"));
        }
        let tx = self.tx.as_mut().expect("a transaction was just begun");
        sqlx::raw_sql(sql)
            .execute(tx.conn())
            .await
            .unwrap_or_else(|e| panic!("bulk insert failed: {e}\n{}", &sql[..sql.len().min(600)]));
        self.rows += rows as u64;
        self.in_tx += 1;
        if self.in_tx >= INSERTS_PER_TX {
            self.commit().await;
        }
    }

    pub async fn commit(&mut self) {
        if let Some(tx) = self.tx.take() {
            tx.commit().await.expect("commit a load transaction");
        }
        self.in_tx = 0;
    }
}

/// One multi-row `INSERT … VALUES (…),(…)` being filled.
pub struct Insert {
    head: String,
    sql: String,
    n: usize,
}

impl Insert {
    pub fn new(table: &str, cols: &str) -> Insert {
        Insert {
            head: format!("INSERT INTO {table} ({cols}) VALUES "),
            sql: String::new(),
            n: 0,
        }
    }

    pub async fn row(&mut self, loader: &mut Loader, values: String) {
        if self.n == 0 {
            self.sql.clear();
            self.sql.push_str(&self.head);
        } else {
            self.sql.push(',');
        }
        self.sql.push('(');
        self.sql.push_str(&values);
        self.sql.push(')');
        self.n += 1;
        if self.n >= ROWS_PER_INSERT {
            self.flush(loader).await;
        }
    }

    pub async fn flush(&mut self, loader: &mut Loader) {
        if self.n > 0 {
            loader.exec(&self.sql, self.n).await;
            self.n = 0;
        }
    }
}

/// Inserts an organisation created at `created_at`; returns its id.
pub async fn insert_tenant(loader: &mut Loader, name: &str, slug: &str, created_at: i64) -> String {
    let id = new_id();
    let mut ins = Insert::new("tenants", "id, name, slug, created_at");
    ins.row(
        loader,
        format!("{}, {}, {}, {created_at}", lit(&id), lit(name), lit(slug)),
    )
    .await;
    ins.flush(loader).await;
    id
}

/// Inserts the staff of organisation `tenant_id`, each `(id, email, name, role)`, all with
/// `password` and created at `created_at`.
pub async fn insert_users<'a>(
    loader: &mut Loader,
    tenant_id: &str,
    users: impl IntoIterator<Item = (&'a str, &'a str, String, &'a str)>,
    password: &str,
    created_at: i64,
) {
    // Hashed once: hashing is slow on purpose, and every bench user shares the password.
    let hash = ladder_server::auth::hash_password(password.into())
        .await
        .expect("hash the bench password");
    let t = lit(tenant_id);
    let mut ins = Insert::new(
        "users",
        "id, tenant_id, email, name, role, password_hash, away_until, created_at",
    );
    for (id, email, name, role) in users {
        ins.row(
            loader,
            format!(
                "{}, {t}, {}, {}, {}, {}, NULL, {created_at}",
                lit(id),
                lit(email),
                lit(&name),
                lit(role),
                lit(&hash)
            ),
        )
        .await;
    }
    ins.flush(loader).await;
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
