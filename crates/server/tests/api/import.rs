//! `ladder import`: CSV files and a Zendesk export, dry runs, bad lines, a second run.

use ladder_core::TenantId;
use ladder_server::import::{self, Report, Source};
use reqwest::StatusCode;

use crate::harness::{assert_chain_intact, ids, Backend, TestApp};
use crate::on_both_databases;

on_both_databases!(
    a_dry_run_reports_every_bad_line_and_writes_nothing,
    csv_import_is_found_marked_imported_and_idempotent,
    a_zendesk_export_imports_once,
);

const CUSTOMERS: &str = "external_id,name,email,phone,tier\n\
    c-1,Olivia Stone,olivia@example.com,+1 (555) 012-4567,vip\n\
    c-2,Peter Hale,,,\n";
const TICKETS: &str = "external_id,customer_external_id,subject,description,status,priority,category,channel,created_at,updated_at,assignee_email\n\
    t-1,c-1,Broken chair in the waiting room,The armrest snapped.,resolved,high,safety,phone,2024-03-01T09:30:00Z,2024-03-02T10:00:00Z,ana.agent@imports.example\n\
    t-2,c-2,Invoice question,Why two invoices?,open,,billing,,2024-03-05T12:00:00Z,,\n";
const COMMENTS: &str = "external_id,ticket_external_id,body,public,author_email,created_at\n\
    m-1,t-1,We replaced the armrest with a sturdier model.,true,ana.agent@imports.example,2024-03-02T09:00:00Z\n\
    m-2,t-2,Still waiting for an answer about the duplicate invoice.,false,,2024-03-06T08:00:00Z\n\
    m-3,t-1,Internal: supplier Kestrel Seating notified.,false,ana.agent@imports.example,2024-03-02T09:30:00Z\n";

fn csv_source(customers: &str, tickets: &str, comments: &str) -> Source {
    let mut source = Source::new("csv");
    import::read_customers_csv(&mut source, "customers.csv", customers.as_bytes());
    import::read_tickets_csv(&mut source, "tickets.csv", tickets.as_bytes());
    import::read_comments_csv(&mut source, "comments.csv", comments.as_bytes());
    source
}

async fn run(app: &TestApp, tenant: &str, source: Source, dry_run: bool) -> Report {
    import::run(
        &app.db,
        &TenantId(tenant.to_owned()),
        source,
        dry_run,
        app.now(),
    )
    .await
    .expect("the import runs")
}

async fn a_dry_run_reports_every_bad_line_and_writes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Imports").await;
    let before = app.snapshot().await;
    let tickets = format!(
        "{TICKETS}\
         t-3,c-9,Unknown customer,Text,open,,,,,,\n\
         t-4,c-1,Bad status,Text,lost,,,,,,\n\
         t-5,c-1,Bad date,Text,open,,,,2024-02-30T10:00:00Z,,\n\
         t-1,c-1,Again,Text,open,,,,,,\n\
         t-6,c-1,Nobody's,Text,open,,,,,,nobody@imports.example\n"
    );
    let comments = format!("{COMMENTS}m-4,t-404,Lost comment,true,,\nm-5,t-1,,true,,\n");
    let report = run(
        &app,
        &org.tenant_id,
        csv_source(CUSTOMERS, &tickets, &comments),
        true,
    )
    .await;
    let bad: Vec<String> = report.bad.iter().map(ToString::to_string).collect();
    // The assignee "ana.agent@imports.example" does not exist yet either: lines 2 and 3 of
    // comments.csv and line 2 of tickets.csv name her.
    let lines: Vec<(&str, u64)> = report
        .bad
        .iter()
        .map(|b| (b.place.file.as_str(), b.place.line))
        .collect();
    assert_eq!(
        lines,
        [
            ("comments.csv", 2),
            ("comments.csv", 4),
            ("comments.csv", 5),
            ("comments.csv", 6),
            ("tickets.csv", 2),
            ("tickets.csv", 4),
            ("tickets.csv", 5),
            ("tickets.csv", 6),
            ("tickets.csv", 7),
            ("tickets.csv", 8),
        ],
        "{bad:#?}"
    );
    assert!(bad[4].contains("assignee_email"), "{}", bad[4]);
    assert!(bad[5].contains("customer_external_id"), "{}", bad[5]);
    assert!(bad[8].contains("also on line 2"), "{}", bad[8]);
    assert!(!report.written);
    assert_eq!(app.snapshot().await, before, "a dry run wrote");

    // With Ana in the organisation and the good lines only, a dry run counts and still
    // writes nothing; a real run with a bad line writes nothing either.
    org.user(&app, "Ana Agent", "agent").await;
    let before = app.snapshot().await;
    let report = run(
        &app,
        &org.tenant_id,
        csv_source(CUSTOMERS, TICKETS, COMMENTS),
        true,
    )
    .await;
    assert!(report.bad.is_empty(), "{:?}", report.bad);
    assert_eq!(
        (
            report.customers_new,
            report.tickets_new,
            report.comments_new
        ),
        (2, 2, 3)
    );
    assert!(!report.written);
    let bad_tickets = format!("{TICKETS}t-4,c-1,Bad status,Text,lost,,,,,,\n");
    let report = run(
        &app,
        &org.tenant_id,
        csv_source(CUSTOMERS, &bad_tickets, COMMENTS),
        false,
    )
    .await;
    assert_eq!(report.bad.len(), 1);
    assert!(!report.written);
    assert_eq!(app.snapshot().await, before);
}

async fn csv_import_is_found_marked_imported_and_idempotent(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Imports").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    let other = app.org("Elsewhere").await;
    let report = run(
        &app,
        &org.tenant_id,
        csv_source(CUSTOMERS, TICKETS, COMMENTS),
        false,
    )
    .await;
    assert!(report.bad.is_empty(), "{:?}", report.bad);
    assert!(report.written);
    assert_eq!(
        (
            report.customers_new,
            report.tickets_new,
            report.comments_new
        ),
        (2, 2, 3)
    );
    // The tickets as they were, found by their words and their comments' words.
    let (s, page) = app.get(&agent, "/tickets?q=armrest").await;
    assert_eq!(s, StatusCode::OK);
    let found = ids(&page, "id");
    assert_eq!(found.len(), 1, "{page}");
    let t = &page["items"][0];
    assert_eq!(t["status"], "resolved");
    assert_eq!(t["priority"], "high");
    assert_eq!(t["category"], "safety");
    assert_eq!(t["channel"], "phone");
    assert_eq!(t["assignee_id"], agent.id.as_str());
    assert_eq!(t["created_at"], "2024-03-01T09:30:00Z");
    let (_, page) = app.get(&agent, "/tickets?q=kestrel%20seating").await;
    assert_eq!(ids(&page, "id"), found);
    let (_, customers) = app.get(&agent, "/customers?q=0124567").await;
    assert_eq!(customers[0]["name"], "Olivia Stone", "{customers}");
    assert_eq!(customers[0]["tier"], "vip");
    // Another organisation sees none of it.
    let intruder = other.user(&app, "Ivo Intruder", "agent").await;
    let (_, page) = app.get(&intruder, "/tickets?q=armrest").await;
    assert!(ids(&page, "id").is_empty());

    // History as audit events marked imported; the chain verifies.
    let events = app.events(&agent, &found[0]).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["ticket_created", "replied", "note_added"],
        "{events:?}"
    );
    assert!(events
        .iter()
        .all(|e| e["payload"]["imported"] == true && e["payload"]["source"] == "csv"));
    assert_chain_intact(&app, &org).await;

    // A second run finds everything already there and adds nothing.
    let before = app.snapshot().await;
    let again = run(
        &app,
        &org.tenant_id,
        csv_source(CUSTOMERS, TICKETS, COMMENTS),
        false,
    )
    .await;
    assert!(again.bad.is_empty());
    assert_eq!(
        (again.customers_new, again.tickets_new, again.comments_new),
        (0, 0, 0)
    );
    assert_eq!(
        (
            again.customers_known,
            again.tickets_known,
            again.comments_known
        ),
        (2, 2, 3)
    );
    assert_eq!(app.snapshot().await, before);
    // A later file with one more comment adds just that, to the ticket imported before. It is
    // the customer's email, quoting the clinic's: indexed without the history, as one taken
    // in by email is.
    let more = "external_id,ticket_external_id,body\nm-9,t-2,\"Answered by phone: one invoice was a reminder.\n\n\
                On Mon, 4 Mar 2024, Imports wrote:\n> Your wombat invoice is attached.\"\n";
    let report = run(
        &app,
        &org.tenant_id,
        csv_source(CUSTOMERS, TICKETS, more),
        false,
    )
    .await;
    assert_eq!(report.comments_new, 1);
    let (_, page) = app.get(&agent, "/tickets?q=reminder").await;
    assert_eq!(ids(&page, "id").len(), 1);
    let (_, page) = app.get(&agent, "/tickets?q=wombat").await;
    assert!(ids(&page, "id").is_empty(), "{page}");
    assert_chain_intact(&app, &org).await;
    // What the customer wrote (no author) counts as their contacts, as an email's message
    // does: repeat contact sees imported history, the ticket imported before included.
    let (_, peter) = app.get(&agent, "/customers?q=peter").await;
    let peter = peter[0]["id"].as_str().expect("Peter").to_owned();
    let theirs = app
        .count(&format!(
            "SELECT COUNT(*) FROM comments WHERE contact_customer_id = '{peter}' AND author_id IS NULL"
        ))
        .await;
    assert_eq!(theirs, 2);
    let staff = app
        .count("SELECT COUNT(*) FROM comments WHERE contact_customer_id IS NOT NULL AND author_id IS NOT NULL")
        .await;
    assert_eq!(staff, 0, "staff's comments are nobody's contact");
}

async fn a_zendesk_export_imports_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Zendesk Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    // The sample names the agent by her Zendesk address, which is hers here too.
    assert_eq!(org.slug, "zendesk-clinic");
    let ana_z = agent.id.clone();
    let file = include_bytes!("../fixtures/zendesk_incremental_tickets.json");
    let read = || {
        let mut source = Source::new("zendesk");
        import::read_zendesk(&mut source, "export.json", file);
        source
    };
    let report = run(&app, &org.tenant_id, read(), false).await;
    assert!(report.bad.is_empty(), "{:?}", report.bad);
    assert_eq!(
        (report.customers_new, report.tickets_new, report.skipped),
        (2, 3, 1)
    );
    let (_, page) = app.get(&agent, "/tickets?q=crown").await;
    assert_eq!(page["items"][0]["status"], "pending", "{page}");
    assert_eq!(page["items"][0]["priority"], "urgent");
    assert_eq!(page["items"][0]["channel"], "phone");
    assert_eq!(page["items"][0]["assignee_id"], ana_z.as_str());
    let (_, page) = app.get(&agent, "/tickets?q=refund&status=resolved").await;
    assert_eq!(ids(&page, "id").len(), 1, "{page}");
    let (_, customers) = app.get(&agent, "/customers?q=olivia.stone").await;
    assert_eq!(customers[0]["phone"], "+44 20 7946 0018", "{customers}");
    let before = app.snapshot().await;
    let again = run(&app, &org.tenant_id, read(), false).await;
    assert_eq!((again.tickets_new, again.tickets_known), (0, 3));
    assert_eq!(app.snapshot().await, before);
    assert_chain_intact(&app, &org).await;

    // A broken ticket is reported by the line its page starts on and its place.
    let mut source = Source::new("zendesk");
    import::read_zendesk(
        &mut source,
        "bad.json",
        b"\n{\"tickets\": [{\"id\": 1, \"status\": \"open\", \"created_at\": \"2024-01-01T00:00:00Z\"}, {\"id\": 2}]}\n",
    );
    let bad: Vec<String> = source.bad.iter().map(ToString::to_string).collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].starts_with("bad.json line 2: tickets[0] (id 1): requester_id"),
        "{bad:?}"
    );
    assert!(bad[1].starts_with("bad.json line 2: tickets[1]"), "{bad:?}");
}

on_both_databases!(the_command_reports_bad_lines_and_the_chain_verifies);

/// Runs `ladder` on the test's database; returns whether it succeeded and what it printed.
fn ladder(url: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .env("LADDER_DATABASE_URL", url)
        .output()
        .expect("run ladder");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn the_command_reports_bad_lines_and_the_chain_verifies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Command Clinic").await;
    let dir = std::env::temp_dir().join(format!(
        "ladder-import-{}-{:?}-{}",
        std::process::id(),
        b,
        ladder_storage::new_id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write a file");
        p.display().to_string()
    };
    let customers = write("customers.csv", CUSTOMERS);
    let tickets = write(
        "tickets.csv",
        "external_id,customer_external_id,subject,description\n\
         t-1,c-1,Broken chair,The armrest snapped.\n\
         t-2,c-3,Nobody's ticket,Unknown customer.\n",
    );
    let good_tickets = write(
        "good.csv",
        "external_id,customer_external_id,subject,description\nt-1,c-1,Broken chair,The armrest snapped.\n",
    );
    let base = [
        "import",
        "csv",
        "--tenant",
        &org.slug,
        "--customers",
        &customers,
    ];
    let before = app.snapshot().await;
    let (ok, said) = ladder(
        &app.url,
        &[&base[..], &["--tickets", &tickets, "--dry-run"]].concat(),
    );
    assert!(!ok, "{said}");
    assert!(
        said.contains(&format!("{tickets} line 3: customer_external_id")),
        "{said}"
    );
    assert!(said.contains("nothing was written"), "{said}");
    let (ok, said) = ladder(
        &app.url,
        &[&base[..], &["--tickets", &good_tickets, "--dry-run"]].concat(),
    );
    assert!(ok, "{said}");
    assert!(said.contains("to import: 2 customers, 1 tickets"), "{said}");
    assert_eq!(app.snapshot().await, before);
    let (ok, said) = ladder(
        &app.url,
        &[&base[..], &["--tickets", &good_tickets]].concat(),
    );
    assert!(ok, "{said}");
    assert!(said.contains("imported: 2 customers, 1 tickets"), "{said}");
    let (ok, said) = ladder(
        &app.url,
        &[&base[..], &["--tickets", &good_tickets]].concat(),
    );
    assert!(ok, "{said}");
    assert!(
        said.contains("already there: 2 customers, 1 tickets"),
        "{said}"
    );
    let (ok, said) = ladder(&app.url, &["audit", "verify", "--tenant", &org.slug]);
    assert!(ok && said.contains("chain intact"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
