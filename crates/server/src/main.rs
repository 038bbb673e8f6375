//! The `ladder` command.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ladder_server::{demo, provision, Clock};
use ladder_storage::audit::Verification;
use ladder_storage::Db;
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

/// jemalloc rather than the C library's allocator: the timer engine makes a few hundred small
/// allocations per timer it fires, and glibc's malloc and free took a fifth of the server's
/// CPU while 10,000 timers fired. With jemalloc the server used 20–27% less CPU in the same
/// benchmark, for about 6 MiB more resident memory at its peak.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DEFAULT_DATABASE: &str = "sqlite://ladder-data/ladder.db";

#[derive(Parser)]
#[command(
    name = "ladder",
    version,
    about = "Ladder: a help desk whose heart is escalation"
)]
struct Cli {
    /// sqlite://PATH or postgres://USER:PASS@HOST/DB
    #[arg(long, global = true, env = "LADDER_DATABASE_URL", default_value = DEFAULT_DATABASE,
          hide_env_values = true)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the web UI, the REST API and the background workers.
    Serve {
        #[arg(long, env = "LADDER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Loads a demo clinic when the database is empty and prints how to log in.
        #[arg(long)]
        demo: bool,
        /// Timer workers in this server, on PostgreSQL (default 3; SQLite always runs one).
        #[arg(long, env = "LADDER_TIMER_WORKERS",
              value_parser = clap::value_parser!(u16).range(1..=ladder_server::engine::MAX_WORKERS as i64))]
        timer_workers: Option<u16>,
        /// Marks the web session cookie Secure (sent over HTTPS only); set it when a TLS proxy
        /// serves Ladder. Requests arriving with `X-Forwarded-Proto: https` get it anyway.
        #[arg(long, env = "LADDER_SECURE_COOKIES")]
        secure_cookies: bool,
        /// A reverse proxy in front of Ladder, as an address or CIDR block (repeat it, or
        /// separate with commas): from these peers only, the right-most X-Forwarded-For
        /// address that is not itself listed is the client sign-ins are throttled under.
        /// From any other peer the header is ignored.
        #[arg(long, env = "LADDER_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxy: Vec<String>,
        /// Where emails go: smtp://[user:pass@]host:port[?tls=none|starttls|tls][&connections=N]. Without
        /// it, email notifications wait in the outbox as `pending`.
        #[arg(long, env = "LADDER_SMTP_URL")]
        smtp_url: Option<String>,
        /// The sender of emails, e.g. "Help desk <help@example.org>".
        #[arg(
            long,
            env = "LADDER_MAIL_FROM",
            default_value = "Ladder <ladder@localhost>"
        )]
        mail_from: String,
        /// The address people open Ladder at, for links in emails (default http://LISTEN).
        #[arg(long, env = "LADDER_PUBLIC_URL")]
        public_url: Option<String>,
        /// Lets webhooks call loopback and private networks (refused by default, so that one
        /// organisation cannot probe another's network through this server).
        #[arg(long, env = "LADDER_ALLOW_PRIVATE_WEBHOOKS")]
        allow_private_webhooks: bool,
        /// Seconds a claimed delivery is left to the server that claimed it before another
        /// server may send it again (after a crash).
        #[arg(long, env = "LADDER_DELIVERY_LEASE", default_value_t = 60,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        delivery_lease: u64,
        /// The key IMAP mailbox passwords are sealed with at rest: 32 bytes as 64 hex digits
        /// (e.g. `openssl rand -hex 32`). Without it no mailbox can be set or polled.
        #[arg(long, env = "LADDER_SECRET_KEY", hide_env_values = true)]
        secret_key: Option<String>,
        /// The largest email taken in, in bytes (larger ones are refused: 413, or left in
        /// the mailbox with the error shown on it).
        #[arg(long, env = "LADDER_INBOUND_MAX_MESSAGE_BYTES", default_value_t = 25 * 1024 * 1024)]
        inbound_max_message_bytes: usize,
        /// The largest attachment kept, in bytes; a larger one is left out and the message
        /// says so.
        #[arg(long, env = "LADDER_ATTACHMENT_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
        attachment_max_bytes: usize,
        /// Seconds between polls of each organisation's IMAP mailbox (a server with IDLE
        /// tells of new mail at once; this is then the longest between takes).
        #[arg(long, env = "LADDER_IMAP_INTERVAL", default_value_t = 60,
              value_parser = clap::value_parser!(u64).range(5..=86_400))]
        imap_interval: u64,
    },
    /// Reads one email on standard input and posts it to a Ladder server, for a mail
    /// server's pipe (e.g. Postfix's `pipe` transport or an alias `|ladder mailgate …`).
    /// Exits 0 when taken, 75 (try again later) when the server cannot be reached or fails,
    /// 65 when it refuses the message.
    Mailgate {
        /// The server's address, e.g. https://help.example.org
        #[arg(long, env = "LADDER_URL")]
        url: String,
        /// The organisation's inbound token (`POST /api/v1/inbound/token`); it can only post
        /// email. Prefer the environment variable to keep it out of `ps`.
        #[arg(long, env = "LADDER_INBOUND_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Applies database migrations.
    Migrate,
    /// Manages organisations.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Platform-support staff, who see the tickets every organisation escalates to the platform.
    Platform {
        #[command(subcommand)]
        command: PlatformCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The escalation policy of an organisation, as a file.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Copies the SQLite database to FILE (a new file), consistently, while Ladder runs. For
    /// PostgreSQL use pg_dump.
    Backup { file: std::path::PathBuf },
    /// Escalation trigger detection.
    Triggers {
        #[command(subcommand)]
        command: TriggersCommand,
    },
    /// Brings customers, tickets and comments over from another help desk. Every bad line
    /// is printed with its number and nothing is written (exit 1); running it again adds
    /// only what was not imported before.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// CSV files with a header line; the columns are in the README.
    Csv {
        /// The organisation (slug or id).
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        customers: std::path::PathBuf,
        #[arg(long)]
        tickets: std::path::PathBuf,
        #[arg(long)]
        comments: Option<std::path::PathBuf>,
        /// Checks everything and reports what would be imported, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The ticket JSON of a Zendesk incremental export (with users sideloaded).
    Zendesk {
        /// The organisation (slug or id).
        #[arg(long)]
        tenant: String,
        file: std::path::PathBuf,
        /// Checks everything and reports what would be imported, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Writes the policy in force to FILE: TOML, or JSON when FILE ends in .json; `-` is
    /// standard output.
    Export {
        file: std::path::PathBuf,
        /// The organisation (slug or id); may be left out when there is only one.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Checks FILE (TOML, or JSON when it ends in .json) and makes it the policy in force.
    /// Every problem is printed with the rule it is in, and nothing changes; exits 1.
    Import {
        file: std::path::PathBuf,
        /// The organisation (slug or id); may be left out when there is only one.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum TriggersCommand {
    /// Prints precision, recall and F1 per trigger kind and overall on a labelled corpus
    /// (JSON lines of {id, text, labels}) and every misclassified message; without FILE,
    /// the figures on each of the repository's corpora: the training split and the holdouts.
    Eval {
        /// The corpus; the repository's own when left out.
        file: Option<std::path::PathBuf>,
        /// The rule layer alone, without the learned scorers.
        #[arg(long)]
        rules_only: bool,
    },
    /// Prints how the detector judges TEXT: each kind with its score, the score it is
    /// detected from, and the words behind it.
    Explain {
        text: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The labelled corpora shipped with the detector: name, JSON lines, and whether the
/// learned layer was trained on it.
const CORPORA: &[(&str, &str, bool)] = &[
    (
        "triggers.jsonl",
        include_str!("../../core/corpus/triggers.jsonl"),
        true,
    ),
    (
        "triggers-train-2.jsonl",
        include_str!("../../core/corpus/triggers-train-2.jsonl"),
        true,
    ),
    (
        "triggers-train-3-was-blind.jsonl",
        include_str!("../../core/corpus/triggers-train-3-was-blind.jsonl"),
        true,
    ),
    (
        "triggers-train-4.jsonl",
        include_str!("../../core/corpus/triggers-train-4.jsonl"),
        true,
    ),
    (
        "triggers-holdout.jsonl",
        include_str!("../../core/corpus/triggers-holdout.jsonl"),
        false,
    ),
    (
        "triggers-holdout-2.jsonl",
        include_str!("../../core/corpus/triggers-holdout-2.jsonl"),
        false,
    ),
    (
        "triggers-holdout-blind-2.jsonl",
        include_str!("../../core/corpus/triggers-holdout-blind-2.jsonl"),
        false,
    ),
];

fn triggers_command(command: TriggersCommand) -> anyhow::Result<ExitCode> {
    use ladder_core::triggers::{evaluate, Detector};
    use std::collections::BTreeMap;
    match command {
        TriggersCommand::Eval { file, rules_only } => {
            let detector = if rules_only {
                Detector::rules_only(&BTreeMap::new())
            } else {
                Detector::default()
            };
            if let Some(f) = file {
                let corpus = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                let report = evaluate(&detector, &corpus).context("evaluating the corpus")?;
                println!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            for (name, corpus, trained) in CORPORA {
                let report =
                    evaluate(&detector, corpus).with_context(|| format!("evaluating {name}"))?;
                let split = if *trained && !rules_only {
                    "training split: the learned layer was fitted on it (see corpus/TRAINING.txt for out-of-fold figures)"
                } else if *trained {
                    "training split"
                } else {
                    "holdout: never trained on"
                };
                println!("== {name} ({split})");
                // The per-kind table and averages; the misses are for `eval FILE`.
                let text = report.to_string();
                println!("{}", text.split("\nmisclassified").next().unwrap_or(&text));
            }
            Ok(ExitCode::SUCCESS)
        }
        TriggersCommand::Explain { text, json } => {
            let explained = Detector::default().explain(&text);
            if json {
                println!("{}", serde_json::to_string_pretty(&explained)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<2}{:<18} {:>6} {:>6}  evidence",
                "", "kind", "score", "from"
            );
            for e in explained {
                let words: Vec<String> = e
                    .evidence
                    .iter()
                    .map(|p| format!("{:?} [{}..{}]", p.text, p.start, p.end))
                    .collect();
                println!(
                    "{:<2}{:<18} {:>6.2} {:>6.2}  {}{}",
                    if e.detected { "*" } else { "" },
                    e.kind.as_str(),
                    e.score,
                    e.threshold,
                    if e.rule { "rule: " } else { "" },
                    words.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Creates an organisation with its owner and prints its slug and id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        owner_email: String,
        #[arg(long, default_value = "Owner")]
        owner_name: String,
        /// `-` reads the owner's password from standard input; without it, it is read from
        /// LADDER_OWNER_PASSWORD. Never on the command line, where `ps` shows it.
        #[arg(long, value_name = "-")]
        owner_password: Option<String>,
    },
}

#[derive(Subcommand)]
enum PlatformCommand {
    /// Adds a platform-support user (they log in with tenant `platform`).
    AddUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Platform support")]
        name: String,
        /// `-` reads the password from standard input; without it, it is read from
        /// LADDER_PASSWORD. Never on the command line, where `ps` shows it.
        #[arg(long, value_name = "-")]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recomputes the hash chains; exits 1 naming the first bad event if any was altered,
    /// removed or reordered.
    Verify {
        /// Only this organisation (slug or id).
        #[arg(long)]
        tenant: Option<String>,
        /// Verifies a file written by `ladder audit export` instead, without a database.
        #[arg(long, conflicts_with = "tenant")]
        file: Option<std::path::PathBuf>,
    },
    /// Writes the audit trail to FILE as JSON lines, each event with its hash and the hash
    /// before it, then each chain's head, for review elsewhere (`audit verify --file`).
    Export {
        file: std::path::PathBuf,
        /// Only this organisation (slug or id).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LADDER_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A password for a command: from standard input when its flag is `-`, otherwise from the
/// environment variable `env`. A password written after the flag would be visible to every
/// user of the machine in `ps`, so it is refused.
fn read_password(flag: Option<String>, name: &str, env: &str) -> anyhow::Result<SecretString> {
    match flag.as_deref() {
        Some("-") => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(
                !password.is_empty(),
                "standard input held no password (one line is read)"
            );
            Ok(SecretString::from(password))
        }
        Some(_) => anyhow::bail!(
            "{name} takes only `-` (read the password from standard input): a password on the \
             command line is visible to everyone in `ps`; or set {env}"
        ),
        None => std::env::var(env).map(SecretString::from).map_err(|_| {
            anyhow::anyhow!("give the password in {env}, or on standard input with `{name} -`")
        }),
    }
}

/// sysexits.h: the message is wrong (the server refused it); the MTA bounces it.
const EX_DATAERR: u8 = 65;
/// sysexits.h: try again later; the MTA keeps the message queued.
const EX_TEMPFAIL: u8 = 75;

/// `ladder mailgate`: one message from standard input to `POST /api/v1/inbound/email`.
async fn mailgate(url: &str, token: &str) -> ExitCode {
    use std::io::Read;
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("ladder mailgate: reading the message from standard input: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    let base = url.trim_end_matches('/');
    let endpoint = if base.ends_with("/api/v1/inbound/email") {
        base.to_owned()
    } else {
        format!("{base}/api/v1/inbound/email")
    };
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ladder mailgate: {e}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let res = client
        .post(&endpoint)
        .bearer_auth(token.trim())
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ladder mailgate: {endpoint} cannot be reached ({e}); try again later");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status.is_success() {
        return ExitCode::SUCCESS;
    }
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|p| p["detail"].as_str().map(str::to_owned))
        .unwrap_or(body);
    eprintln!("ladder mailgate: the server answered {status}: {detail}");
    // A refusal is final, except one that says "later" (a timeout, too many requests).
    let later = status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    ExitCode::from(if later { EX_TEMPFAIL } else { EX_DATAERR })
}

async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await.with_context(|| {
        format!(
            "opening the database at {}",
            ladder_storage::db::redacted_url(url)
        )
    })?;
    db.migrate().await.context("applying migrations")?;
    Ok(db)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            demo,
            timer_workers,
            secure_cookies,
            trusted_proxy,
            smtp_url,
            mail_from,
            public_url,
            allow_private_webhooks,
            delivery_lease,
            secret_key,
            inbound_max_message_bytes,
            attachment_max_bytes,
            imap_interval,
        } => {
            let trusted_proxies = ladder_server::throttle::TrustedProxies::parse(&trusted_proxy)
                .map_err(|e| anyhow::anyhow!("--trusted-proxy: {e}"))?;
            let inbound = ladder_server::inbound::Settings {
                max_message_bytes: inbound_max_message_bytes,
                max_file_bytes: attachment_max_bytes,
                secret_key: secret_key
                    .as_deref()
                    .map(ladder_server::inbound::secret::SecretKey::from_hex)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--secret-key: {e}"))?,
                imap_interval: std::time::Duration::from_secs(imap_interval),
                imap_worker: true,
            };
            let smtp = smtp_url
                .as_deref()
                .map(ladder_server::notify::smtp::SmtpUrl::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--smtp-url: {e}"))?;
            let notify = ladder_server::notify::Settings {
                smtp,
                mail_from,
                public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                allow_private_webhooks,
                lease: std::time::Duration::from_secs(delivery_lease),
                workers: 1,
            };
            let notifier =
                ladder_server::notify::Notifier::new(notify).map_err(|e| anyhow::anyhow!("{e}"))?;
            // Built beside connecting and migrating, and done before the first request: the
            // first create would otherwise build it.
            let detector = tokio::task::spawn_blocking(ladder_server::triggers::prepare);
            // Sockets are files: the connection cap, not a default soft limit of 1,024,
            // is what a flood of them should meet.
            match ladder_server::transport::raise_open_file_limit() {
                Ok(limit) => tracing::info!(limit, "open-file limit"),
                Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
            }
            let db = open(&cli.database_url).await?;
            let _sole = db.lock_sole_server()?;
            if demo {
                match demo::load_if_empty(&db, Clock::System.now()).await? {
                    Some(d) => {
                        println!("Loaded the demo clinic \"Bright Smile Dental\". Sign in at http://{listen}/login (or POST /api/v1/auth/login) with");
                        println!(
                            "  organisation: {}    password: {}",
                            demo::SLUG,
                            demo::PASSWORD
                        );
                        for (email, role) in &d.logins {
                            println!("  {email:<32} ({role})");
                        }
                    }
                    None => {
                        println!("The database already has data; the demo clinic was not loaded.")
                    }
                }
            }
            detector.await.context("building the trigger detector")?;
            // The connections writes go through, their statements prepared before the first
            // request (`flows::warm`). It keeps nothing, and a failure only costs the first
            // requests the preparing, so it is reported and the server starts.
            if let Err(e) = ladder_server::flows::warm::warm_up(&db, Clock::System.now()).await {
                tracing::warn!(error = %format!("{e:#}"), "could not warm the connections writes go through");
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            println!("Ladder is listening on http://{}", listener.local_addr()?);
            if timer_workers.is_some() && db.backend() == ladder_storage::Backend::Sqlite {
                tracing::warn!(
                    "SQLite runs one timer worker; --timer-workers applies to PostgreSQL"
                );
            }
            let engine = ladder_server::engine::EngineConfig::with_workers(
                db.backend(),
                timer_workers.map(usize::from),
            );
            let state = ladder_server::AppState::new(db, Clock::System)
                .with_secure_cookies(secure_cookies)
                .with_trusted_proxies(trusted_proxies)
                .with_notifier(notifier)
                .with_inbound(inbound);
            ladder_server::serve_state(state, listener, shutdown_signal(), engine).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mailgate { url, token } => Ok(mailgate(&url, &token).await),
        Command::Migrate => {
            open(&cli.database_url).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant {
            command:
                TenantCommand::Create {
                    name,
                    slug,
                    owner_email,
                    owner_name,
                    owner_password,
                },
        } => {
            let owner_password =
                read_password(owner_password, "--owner-password", "LADDER_OWNER_PASSWORD")?;
            let db = open(&cli.database_url).await?;
            let (t, owner) = provision::create_tenant(
                &db,
                &name,
                slug.as_deref(),
                &owner_email,
                &owner_name,
                owner_password.expose_secret(),
                Clock::System.now(),
            )
            .await?;
            println!(
                "created tenant {} (id {}) with owner {} (id {})",
                t.slug, t.id, owner.email, owner.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Platform {
            command:
                PlatformCommand::AddUser {
                    email,
                    name,
                    password,
                },
        } => {
            let password = read_password(password, "--password", "LADDER_PASSWORD")?;
            let db = open(&cli.database_url).await?;
            let u = provision::create_platform_user(
                &db,
                &email,
                &name,
                password.expose_secret(),
                Clock::System.now(),
            )
            .await?;
            println!(
                "created platform support user {} (id {}); sign in with tenant \"platform\"",
                u.email, u.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { command } => {
            let db = open(&cli.database_url).await?;
            policy_command(&db, command).await
        }
        Command::Triggers { command } => triggers_command(command),
        Command::Import { command } => {
            let db = open(&cli.database_url).await?;
            import_command(&db, command).await
        }
        Command::Backup { file } => {
            let db = open(&cli.database_url).await?;
            db.backup_to(&file).await?;
            println!("backed up the database to {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Export { file, tenant },
        } => {
            let db = open(&cli.database_url).await?;
            let out = std::fs::File::create_new(&file)
                .with_context(|| format!("creating {}", file.display()))?;
            let mut out = std::io::BufWriter::new(out);
            let events = ladder_storage::audit::export(&db, tenant.as_deref(), &mut out).await?;
            std::io::Write::flush(&mut out)
                .with_context(|| format!("writing {}", file.display()))?;
            println!("exported {events} audit events to {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { tenant, file },
        } => {
            let results = match file {
                Some(file) => {
                    let input = std::fs::File::open(&file)
                        .with_context(|| format!("opening {}", file.display()))?;
                    let results =
                        ladder_storage::audit::verify_export(std::io::BufReader::new(input))?;
                    anyhow::ensure!(
                        !results.is_empty(),
                        "{} holds no audit chain",
                        file.display()
                    );
                    results
                }
                None => {
                    let db = open(&cli.database_url).await?;
                    ladder_storage::audit::verify(&db, tenant.as_deref()).await?
                }
            };
            let mut broken = false;
            for r in results {
                match r {
                    Verification::Intact { tenant_id, events } => {
                        println!("ok      tenant {tenant_id}: {events} events, chain intact")
                    }
                    Verification::Broken(b) => {
                        broken = true;
                        println!(
                            "BROKEN  tenant {}: first bad event {} (seq {}): {}",
                            b.tenant_id, b.event_id, b.seq, b.reason
                        );
                    }
                }
            }
            Ok(if broken {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// The organisation a command is about: the one named, or the only one there is.
async fn pick_tenant(
    db: &Db,
    key: Option<&str>,
) -> anyhow::Result<ladder_storage::directory::Tenant> {
    use ladder_storage::directory;
    if let Some(key) = key {
        return directory::find_tenant(db, key)
            .await?
            .with_context(|| format!("no organisation with slug or id {key:?}"));
    }
    let all = directory::tenants(db).await?;
    match all.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("there is no organisation yet: create one with `ladder tenant create`"),
        many => anyhow::bail!(
            "there are {} organisations: name one with --tenant ({})",
            many.len(),
            many.iter()
                .map(|t| t.slug.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn is_json(file: &std::path::Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

async fn policy_command(db: &Db, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    use ladder_core::Policy;
    use ladder_server::flows;
    match command {
        PolicyCommand::Export { file, tenant } => {
            let t = pick_tenant(db, tenant.as_deref()).await?;
            let policy = flows::policy(db, &t.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let text = if is_json(&file) {
                serde_json::to_string_pretty(&policy)? + "\n"
            } else {
                policy.to_toml()
            };
            if file.as_os_str() == "-" {
                print!("{text}");
            } else {
                std::fs::write(&file, text)
                    .with_context(|| format!("writing {}", file.display()))?;
                eprintln!(
                    "exported version {} of the policy of {} to {}",
                    policy.version,
                    t.slug,
                    file.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Import { file, tenant } => {
            let t = pick_tenant(db, tenant.as_deref()).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let parsed: Result<Policy, String> = if is_json(&file) {
                serde_json::from_str(&text).map_err(|e| e.to_string())
            } else {
                Policy::from_toml(&text).map_err(|e| e.to_string())
            };
            let policy = match parsed {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    eprintln!("nothing was changed");
                    return Ok(ExitCode::FAILURE);
                }
            };
            match flows::policy::save(db, &t.id, None, policy, None, Clock::System.now()).await {
                Ok(saved) if saved.changed => {
                    println!(
                        "the policy of {} is now version {}",
                        t.slug, saved.policy.version
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Ok(saved) => {
                    println!(
                        "the policy of {} is unchanged (version {})",
                        t.slug, saved.policy.version
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(ladder_server::flows::FlowError::InvalidFields(problems)) => {
                    for p in problems {
                        eprintln!("{}: {} ({})", file.display(), p.detail, p.field);
                    }
                    eprintln!("nothing was changed");
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(anyhow::anyhow!("{e}")),
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn import_command(db: &Db, command: ImportCommand) -> anyhow::Result<ExitCode> {
    use ladder_server::import;
    let open_file = |path: &std::path::Path| {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .with_context(|| format!("opening {}", path.display()))
    };
    let (tenant, source, dry_run) = match command {
        ImportCommand::Csv {
            tenant,
            customers,
            tickets,
            comments,
            dry_run,
        } => {
            let mut source = import::Source::new("csv");
            let name = |p: &std::path::Path| p.display().to_string();
            import::read_customers_csv(&mut source, &name(&customers), open_file(&customers)?);
            import::read_tickets_csv(&mut source, &name(&tickets), open_file(&tickets)?);
            if let Some(comments) = comments {
                import::read_comments_csv(&mut source, &name(&comments), open_file(&comments)?);
            }
            (tenant, source, dry_run)
        }
        ImportCommand::Zendesk {
            tenant,
            file,
            dry_run,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut source = import::Source::new("zendesk");
            import::read_zendesk(&mut source, &file.display().to_string(), &bytes);
            (tenant, source, dry_run)
        }
    };
    let org = ladder_storage::directory::find_tenant(db, &tenant)
        .await?
        .with_context(|| format!("no organisation {tenant:?}"))?;
    let report = import::run(db, &org.id, source, dry_run, jiff::Timestamp::now()).await?;
    for bad in &report.bad {
        println!("{bad}");
    }
    let verb = if report.written {
        "imported"
    } else {
        "to import"
    };
    println!(
        "{verb}: {} customers, {} tickets, {} comments; already there: {} customers, {} tickets, \
         {} comments; left out: {}",
        report.customers_new,
        report.tickets_new,
        report.comments_new,
        report.customers_known,
        report.tickets_known,
        report.comments_known,
        report.skipped
    );
    if !report.bad.is_empty() {
        println!(
            "{} bad lines: nothing was written; correct them and run again",
            report.bad.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    if dry_run {
        println!("dry run: nothing was written");
    }
    Ok(ExitCode::SUCCESS)
}
