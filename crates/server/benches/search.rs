//! The search benchmark: loads an organisation of 1,000,000 tickets (words drawn by a Zipf
//! law, an order number each, 200,000 comments) and 1,000,000 customers, with the full-text
//! indexes filled by the migrations' triggers as the rows go in; starts the real server
//! in-process and measures `GET /api/v1/tickets` (full text and filters) and
//! `GET /api/v1/customers?q=` over HTTP, one request at a time. Fails when a p99 is 50 ms or
//! more (except the class of words found in most tickets, reported for what it costs).
//!
//! ```text
//! cargo bench -p ladder-server --bench search
//! LADDER_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench cargo bench -p ladder-server --bench search
//! LADDER_BENCH_TICKETS=50000 LADDER_BENCH_CUSTOMERS=50000 cargo bench -p ladder-server --bench search
//! ```
//!
//! Without `LADDER_BENCH_DATABASE_URL` a fresh SQLite file under `target/bench-search/` is
//! used (deleted first); a PostgreSQL URL must name an empty database. Every response must be
//! 200 and every full-text and filtered page non-empty, so a broken query fails the run.

use std::time::Instant;

use serde_json::Value;

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/search_load.rs"]
mod search_load;
#[path = "support/server.rs"]
mod server;
use bulk::{env_usize, thousands, Rng};
use search_load::{customer, load, order_number, vocabulary, PASSWORD, SLUG};
use server::{get_json as get, Latency};

const WARM_UP: usize = 20;
const P99_LIMIT_MS: f64 = 50.0;

async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    server::login(client, base, SLUG, email, PASSWORD).await
}

fn found(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        _ => v["items"].as_array().map_or(0, Vec::len),
    }
}

struct Class {
    label: &'static str,
    urls: Vec<String>,
    /// Held to the p99 limit.
    gated: bool,
    /// Every response must find something.
    nonempty: bool,
}

#[tokio::main]
async fn main() {
    let n_tickets = env_usize("LADDER_BENCH_TICKETS", 1_000_000);
    let n_customers = env_usize("LADDER_BENCH_CUSTOMERS", 1_000_000);
    let n_comments = env_usize("LADDER_BENCH_COMMENTS", n_tickets / 5);
    let n_requests = env_usize("LADDER_BENCH_REQUESTS", 300).max(1);
    let (db, backend) = bulk::bench_db("search").await;
    println!(
        "search benchmark on {backend}: {} tickets, {} customers, {} comments",
        thousands(n_tickets as u64),
        thousands(n_customers as u64),
        thousands(n_comments as u64)
    );
    let t0 = Instant::now();
    let loaded = load(&db, n_tickets, n_customers, n_comments).await;
    let load_time = t0.elapsed();
    server::analyze(&db).await;
    println!(
        "loaded (search indexes filled by the triggers) in {:.1} s",
        load_time.as_secs_f64()
    );

    let base = server::serve_in_process(&db).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let token = login(&client, &base, &loaded.owner_email).await;

    let words = vocabulary();
    let mut rng = Rng(0x0bad_5eed);
    let api = format!("{base}/api/v1");
    let api = api.as_str();
    let many = |f: &mut dyn FnMut(&mut Rng) -> String, rng: &mut Rng| -> Vec<String> {
        (0..64).map(|_| f(rng)).collect()
    };
    let classes = vec![
        Class {
            label: "q: an order number (1 ticket)",
            urls: many(
                &mut |r| format!("{api}/tickets?q={}", order_number(r.below(n_tickets))),
                &mut rng,
            ),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "q: a rare word (rank 800-1800)",
            urls: many(
                &mut |r| format!("{api}/tickets?q={}", words[800 + r.below(1000)]),
                &mut rng,
            ),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "q: a middling word (rank 150-800)",
            urls: many(
                &mut |r| format!("{api}/tickets?q={}", words[150 + r.below(650)]),
                &mut rng,
            ),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "q: two words (ranks 20-300)",
            urls: many(
                &mut |r| {
                    format!(
                        "{api}/tickets?q={}+{}",
                        words[20 + r.below(280)],
                        words[20 + r.below(280)]
                    )
                },
                &mut rng,
            ),
            gated: true,
            nonempty: false,
        },
        Class {
            label: "q: a word + status=open",
            urls: many(
                &mut |r| format!("{api}/tickets?q={}&status=open", words[150 + r.below(650)]),
                &mut rng,
            ),
            gated: true,
            nonempty: false,
        },
        Class {
            label: "q: a common word (rank 0-20)",
            urls: many(
                &mut |r| format!("{api}/tickets?q={}", words[r.below(20)]),
                &mut rng,
            ),
            gated: false,
            nonempty: true,
        },
        Class {
            label: "list: newest",
            urls: vec![format!("{api}/tickets")],
            gated: true,
            nonempty: true,
        },
        Class {
            label: "list: status (each)",
            urls: ["new", "open", "pending", "resolved", "closed", "escalated"]
                .iter()
                .map(|s| format!("{api}/tickets?status={s}"))
                .collect(),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "list: category + priority",
            urls: ["billing", "legal", "clinical"]
                .iter()
                .flat_map(|c| {
                    ["urgent", "low"]
                        .iter()
                        .map(move |p| format!("{api}/tickets?category={c}&priority={p}"))
                })
                .collect(),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "list: assignee + status=new",
            urls: loaded
                .agents
                .iter()
                .map(|a| format!("{api}/tickets?assignee_id={a}&status=new"))
                .collect(),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "list: customer",
            urls: many(
                &mut |r| {
                    format!(
                        "{api}/tickets?customer_id={}",
                        loaded.customers[r.below(loaded.customers.len())]
                    )
                },
                &mut rng,
            ),
            gated: true,
            nonempty: false,
        },
        Class {
            label: "customers: name part (3+ letters)",
            urls: many(
                &mut |r| {
                    let (name, _, _) = customer(r.below(n_customers));
                    let last = name.split(' ').nth(1).unwrap_or("smith").to_lowercase();
                    // A part inside the name: without its first letter when that leaves three.
                    let part = if last.len() >= 4 {
                        &last[1..]
                    } else {
                        &last[..]
                    };
                    format!("{api}/customers?q={part}")
                },
                &mut rng,
            ),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "customers: email",
            urls: many(
                &mut |r| {
                    let (_, email, _) = customer(r.below(n_customers));
                    format!(
                        "{api}/customers?q={}",
                        email.split('@').next().unwrap_or("")
                    )
                },
                &mut rng,
            ),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "customers: phone digits",
            urls: many(
                &mut |r| {
                    let (_, _, phone) = customer(r.below(n_customers));
                    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
                    format!("{api}/customers?q={}", &digits[digits.len() - 7..])
                },
                &mut rng,
            ),
            gated: true,
            nonempty: true,
        },
        Class {
            label: "customers: two letters",
            urls: ["ol", "ma", "ke", "zo"]
                .iter()
                .map(|q| format!("{api}/customers?q={q}"))
                .collect(),
            gated: true,
            nonempty: true,
        },
    ];

    let mut failed = Vec::new();
    println!();
    println!(
        "| {:<36} | {:>4} | {:>7} | {:>7} | {:>7} | {:>6} |",
        "request (sequential)", "n", "p50 ms", "p99 ms", "max ms", "found"
    );
    println!(
        "|{:-<38}|{:->6}|{:->9}|{:->9}|{:->9}|{:->8}|",
        "", "", "", "", "", ""
    );
    for class in &classes {
        for i in 0..WARM_UP {
            get(&client, &class.urls[i % class.urls.len()], &token).await;
        }
        let mut times = Vec::with_capacity(n_requests);
        let mut total_found = 0;
        for i in 0..n_requests {
            let url = &class.urls[i % class.urls.len()];
            let (took, body) = get(&client, url, &token).await;
            let n = found(&body);
            assert!(!class.nonempty || n > 0, "{url} found nothing");
            total_found += n;
            times.push(took.as_secs_f64() * 1000.0);
        }
        let latency = Latency::of(times);
        println!(
            "| {:<36} | {:>4} | {:>7.2} | {:>7.2} | {:>7.2} | {:>6.1} |",
            class.label,
            n_requests,
            latency.p50,
            latency.p99,
            latency.max,
            total_found as f64 / n_requests as f64
        );
        if class.gated && latency.p99 >= P99_LIMIT_MS {
            failed.push(format!("{}: p99 {:.1} ms", class.label, latency.p99));
        }
    }

    // Importing: CSV files of `LADDER_BENCH_IMPORT` tickets (100,000) with a customer per
    // ten tickets and a comment per two, through the same code as `ladder import csv`.
    let n_import = env_usize("LADDER_BENCH_IMPORT", 100_000);
    if n_import > 0 {
        let dir = std::env::temp_dir().join(format!("ladder-bench-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        let (customers, tickets, comments) = write_import_files(&dir, n_import);
        let t0 = Instant::now();
        let mut source = ladder_server::import::Source::new("csv");
        let open = |p: &std::path::Path| {
            std::io::BufReader::new(std::fs::File::open(p).expect("open an import file"))
        };
        ladder_server::import::read_customers_csv(&mut source, "customers.csv", open(&customers));
        ladder_server::import::read_tickets_csv(&mut source, "tickets.csv", open(&tickets));
        ladder_server::import::read_comments_csv(&mut source, "comments.csv", open(&comments));
        let read = t0.elapsed();
        let tenant = ladder_storage::directory::find_tenant(&db, SLUG)
            .await
            .expect("read the organisation")
            .expect("the organisation");
        let report =
            ladder_server::import::run(&db, &tenant.id, source, false, jiff::Timestamp::now())
                .await
                .expect("import");
        let took = t0.elapsed();
        assert!(
            report.bad.is_empty() && report.written,
            "{:?}",
            &report.bad[..report.bad.len().min(5)]
        );
        assert_eq!(report.tickets_new, n_import);
        println!();
        println!(
            "import: {} tickets, {} customers, {} comments in {:.1} s (reading and checking the files {:.1} s); limit 120 s",
            thousands(n_import as u64),
            thousands(report.customers_new as u64),
            thousands(report.comments_new as u64),
            took.as_secs_f64(),
            read.as_secs_f64()
        );
        let t1 = Instant::now();
        let mut source = ladder_server::import::Source::new("csv");
        ladder_server::import::read_customers_csv(&mut source, "customers.csv", open(&customers));
        ladder_server::import::read_tickets_csv(&mut source, "tickets.csv", open(&tickets));
        ladder_server::import::read_comments_csv(&mut source, "comments.csv", open(&comments));
        let again =
            ladder_server::import::run(&db, &tenant.id, source, false, jiff::Timestamp::now())
                .await
                .expect("import again");
        assert_eq!(again.tickets_new, 0);
        println!(
            "import again (everything already there): {:.1} s",
            t1.elapsed().as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&dir);
        if took.as_secs_f64() >= 120.0 {
            failed.push(format!("import: {:.1} s", took.as_secs_f64()));
        }
    }
    db.close().await;
    assert!(
        failed.is_empty(),
        "p99 at or over {P99_LIMIT_MS} ms: {}",
        failed.join("; ")
    );
}

/// Writes the import benchmark's CSV files: `n` tickets, a customer per ten, a comment per two.
fn write_import_files(
    dir: &std::path::Path,
    n: usize,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let words = vocabulary();
    let mut rng = Rng(0x1a_b0a7);
    let paths = (
        dir.join("customers.csv"),
        dir.join("tickets.csv"),
        dir.join("comments.csv"),
    );
    let n_customers = (n / 10).max(1);
    let mut w = csv::Writer::from_path(&paths.0).expect("customers.csv");
    w.write_record(["external_id", "name", "email", "phone", "tier"])
        .expect("write");
    for i in 0..n_customers {
        let (name, email, phone) = customer(10_000_000 + i);
        w.write_record([&format!("cust-{i}"), &name, &email, &phone, "standard"])
            .expect("write");
    }
    w.flush().expect("flush");
    let mut w = csv::Writer::from_path(&paths.1).expect("tickets.csv");
    w.write_record([
        "external_id",
        "customer_external_id",
        "subject",
        "description",
        "status",
        "priority",
        "created_at",
    ])
    .expect("write");
    let text = |r: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| words[r.below(words.len())].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    for i in 0..n {
        let subject = text(&mut rng, 5);
        let description = text(&mut rng, 30);
        w.write_record([
            &format!("imp-{i}"),
            &format!("cust-{}", rng.below(n_customers)),
            &subject,
            &description,
            ["open", "resolved", "closed"][i % 3],
            "normal",
            &format!("2023-{:02}-{:02}T10:00:00Z", 1 + i % 12, 1 + i % 28),
        ])
        .expect("write");
    }
    w.flush().expect("flush");
    let mut w = csv::Writer::from_path(&paths.2).expect("comments.csv");
    w.write_record(["external_id", "ticket_external_id", "body", "public"])
        .expect("write");
    for i in 0..n / 2 {
        let body = text(&mut rng, 15);
        w.write_record([
            &format!("impc-{i}"),
            &format!("imp-{}", rng.below(n)),
            &body,
            "false",
        ])
        .expect("write");
    }
    w.flush().expect("flush");
    paths
}
