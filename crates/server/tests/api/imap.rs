//! IMAP polling against a real server: Debian's dovecot-imapd, configured in a temporary
//! directory (a static user and password, maildir in the directory, plain IMAP on a free
//! loopback port) and started by the test. Messages are placed with IMAP APPEND.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{eventually, Backend, TestApp};
use crate::inbound::email;
use crate::on_both_databases;
use ladder_server::inbound::imap::poll;
use ladder_server::inbound::secret::SecretKey;
use ladder_server::inbound::{self, Settings, Source, Us};

const USER: &str = "support";
const PASSWORD: &str = "mailbox-secret";

/// A dovecot serving one mailbox; stopped (and its directory removed) when dropped.
struct Dovecot {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A user's uid and gid from /etc/passwd.
fn passwd(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

impl Dovecot {
    async fn start() -> Dovecot {
        Dovecot::start_with("").await
    }

    /// A dovecot with `extra` lines in its configuration.
    async fn start_with(extra: &str) -> Dovecot {
        let dir = std::env::temp_dir().join(format!(
            "ladder-dovecot-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_microsecond()
        ));
        for d in ["run", "state", "mail", "home"] {
            std::fs::create_dir_all(dir.join(d)).expect("dovecot dirs");
        }
        let me = std::fs::metadata(&dir).expect("dir").uid();
        // As root (CI), dovecot's login processes must run as its own unprivileged users,
        // and mail is accessed as `dovecot`; otherwise everything runs as whoever we are.
        let (login, internal, group, uid, gid) = if me == 0 {
            let (uid, gid) =
                passwd("dovecot").expect("the dovecot user (apt install dovecot-imapd)");
            for d in ["mail", "home"] {
                std::os::unix::fs::chown(dir.join(d), Some(uid), Some(gid)).expect("chown");
            }
            let mut perms = std::fs::metadata(&dir).expect("dir").permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&dir, perms).expect("chmod");
            (
                "dovenull".to_owned(),
                "dovecot".to_owned(),
                "dovecot".to_owned(),
                uid,
                gid,
            )
        } else {
            let name = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            let gid = std::fs::metadata(&dir).expect("dir").gid();
            (name.clone(), name.clone(), name, me, gid)
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("addr").port()
        };
        let d = dir.display();
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             protocols = imap\nlisten = 127.0.0.1\nfirst_valid_uid = 0\n\
             default_internal_user = {internal}\ndefault_login_user = {login}\n\
             default_internal_group = {group}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={d}/home/%u\n}}\n\
             mail_location = maildir:{d}/mail/%u\n\
             mailbox_idle_check_interval = 1 secs\n{extra}"
        );
        std::fs::write(dir.join("dovecot.conf"), conf).expect("dovecot.conf");
        let child = Command::new("/usr/sbin/dovecot")
            .args(["-F", "-c"])
            .arg(dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot (Debian's dovecot-imapd)");
        let server = Dovecot { dir, port, child };
        eventually("dovecot accepts connections", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        server
    }

    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let mut client = async_imap::Client::new(tcp);
        client
            .read_response()
            .await
            .expect("greeting")
            .expect("greeting");
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("login")
    }

    /// Places a message in INBOX, unseen.
    async fn append(&self, raw: &str) {
        let mut s = self.session().await;
        s.append("INBOX", None, None, raw.as_bytes())
            .await
            .expect("APPEND");
        s.logout().await.expect("logout");
    }

    /// How many messages `folder` holds, and how many of them are \Seen.
    async fn count(&self, folder: &str) -> (usize, usize) {
        let mut s = self.session().await;
        s.select(folder).await.expect("select");
        let all = s.uid_search("ALL").await.expect("search").len();
        let seen = s.uid_search("SEEN").await.expect("search").len();
        s.logout().await.expect("logout");
        (all, seen)
    }

    /// The UIDs of INBOX that are not yet \Seen, and its UIDVALIDITY.
    async fn unseen(&self) -> (u32, Vec<u32>) {
        let mut s = self.session().await;
        let mailbox = s.select("INBOX").await.expect("select");
        let mut uids: Vec<u32> = s
            .uid_search("UNSEEN")
            .await
            .expect("search")
            .into_iter()
            .collect();
        uids.sort_unstable();
        s.logout().await.expect("logout");
        (mailbox.uid_validity.expect("uidvalidity"), uids)
    }
}

fn settings() -> Settings {
    Settings {
        secret_key: Some(SecretKey::from_hex(&"5a".repeat(32)).expect("key")),
        ..Settings::default()
    }
}

async fn app_with_key(b: Backend) -> TestApp {
    TestApp::spawn_inbound(
        b,
        ladder_server::engine::EngineConfig {
            workers: 0,
            ..ladder_server::engine::EngineConfig::for_backend(match b {
                Backend::Sqlite => ladder_storage::Backend::Sqlite,
                Backend::Postgres => ladder_storage::Backend::Postgres,
            })
        },
        ladder_server::notify::Notifier::default(),
        ladder_server::transport::Limits::default(),
        settings(),
    )
    .await
}

on_both_databases!(
    messages_in_the_mailbox_become_tickets_once_also_across_a_restart,
    a_mailbox_needs_the_servers_key_and_an_owner,
    a_message_appended_while_the_watch_idles_becomes_a_ticket,
    taken_messages_move_to_the_processed_folder,
    without_move_taken_messages_are_copied_and_expunged,
);

async fn a_message_appended_while_the_watch_idles_becomes_a_ticket(b: Backend) {
    let dovecot = Dovecot::start().await;
    // An hour between takes: within the test only IDLE can wake the watch.
    let app = TestApp::spawn_inbound(
        b,
        ladder_server::engine::EngineConfig {
            workers: 0,
            ..ladder_server::engine::EngineConfig::for_backend(match b {
                Backend::Sqlite => ladder_storage::Backend::Sqlite,
                Backend::Postgres => ladder_storage::Backend::Postgres,
            })
        },
        ladder_server::notify::Notifier::default(),
        ladder_server::transport::Limits::default(),
        Settings {
            imap_interval: std::time::Duration::from_secs(3600),
            ..settings()
        },
    )
    .await;
    let org = app.org("Idle Clinic").await;
    let (s, m) = app
        .put(
            &org.owner,
            "/inbound/imap",
            json!({"host": "127.0.0.1", "port": dovecot.port, "tls": "none",
                   "username": USER, "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let tenant = ladder_core::TenantId(org.tenant_id.clone());
    let watch = ladder_server::inbound::imap::watch(app.state.clone(), tenant);
    // The first take (of an empty mailbox) is done: the watch idles, or is about to.
    eventually("the watch takes the mailbox once", || async {
        let (_, m) = app.get(&org.owner, "/inbound/imap").await;
        m["last_polled_at"].is_string()
    })
    .await;
    dovecot
        .append(&email(
            "cy@example.org",
            "idle-1@example.org",
            "",
            "Crown fell out",
            "It fell out again.",
        ))
        .await;
    eventually("the message appended becomes a ticket", || async {
        app.count("SELECT COUNT(*) FROM tickets").await == 1
    })
    .await;
    eventually("the message is flagged once taken", || async {
        dovecot.unseen().await.1.is_empty()
    })
    .await;
    watch.abort();
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 1);
}

/// Sets a mailbox moving taken messages to `Processed`, places two messages and one that
/// is not a message, and takes them: one of the two as if by a server that died before
/// moving it.
async fn moves_taken_messages(dovecot: &Dovecot, b: Backend) {
    let app = app_with_key(b).await;
    let org = app.org("Moving Clinic").await;
    let put = |body: serde_json::Value| {
        let app = &app;
        let owner = org.owner.clone();
        async move { app.put(&owner, "/inbound/imap", body).await }
    };
    let (s, p) = put(
        json!({"host": "127.0.0.1", "port": dovecot.port, "tls": "none",
        "username": USER, "password": PASSWORD, "processed_folder": "INBOX"}),
    )
    .await;
    assert_eq!(
        (s, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("processed_folder")),
        "{p}"
    );
    let (s, m) = put(
        json!({"host": "127.0.0.1", "port": dovecot.port, "tls": "none",
        "username": USER, "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (s, m["processed_folder"].clone()),
        (StatusCode::OK, json!(null))
    );
    // Changed without its password: the one set before is kept.
    let (s, m) = put(
        json!({"host": "127.0.0.1", "port": dovecot.port, "tls": "none",
        "username": USER, "processed_folder": "Processed"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["processed_folder"], "Processed");

    let raw = email(
        "di@example.org",
        "move-1@example.org",
        "",
        "Refund",
        "Please refund.",
    );
    dovecot.append(&raw).await;
    dovecot
        .append(&email(
            "ed@example.org",
            "move-2@example.org",
            "",
            "Pain",
            "It hurts.",
        ))
        .await;
    dovecot.append("Subject: nobody\r\n\r\nhi\r\n").await;
    let tenant = ladder_core::TenantId(org.tenant_id.clone());
    let (validity, unseen) = dovecot.unseen().await;
    inbound::receive(
        &app.db,
        &Us::of(&app.state.notifier),
        &settings(),
        &tenant,
        inbound::prepare(&settings(), raw.into_bytes()).expect("prepare"),
        Source::Imap {
            uid_validity: validity,
            uid: unseen[0],
        },
        app.now(),
    )
    .await
    .expect("taken before a crash");
    let polled = poll(&app.state, &tenant).await.expect("poll");
    assert_eq!(
        (polled.created, polled.already_taken, polled.refused),
        (1, 1, 1),
        "{polled:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 2);
    assert_eq!(
        dovecot.count("INBOX").await,
        (0, 0),
        "the folder is emptied"
    );
    assert_eq!(
        dovecot.count("Processed").await,
        (3, 3),
        "every message taken is moved, seen"
    );
    // Nothing left: nothing happens.
    let polled = poll(&app.state, &tenant).await.expect("poll");
    assert_eq!(polled, ladder_server::inbound::imap::Polled::default());
}

async fn taken_messages_move_to_the_processed_folder(b: Backend) {
    moves_taken_messages(&Dovecot::start().await, b).await;
}

async fn without_move_taken_messages_are_copied_and_expunged(b: Backend) {
    // A server that advertises neither MOVE nor UIDPLUS.
    let dovecot = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+ IDLE\n").await;
    moves_taken_messages(&dovecot, b).await;
}

async fn messages_in_the_mailbox_become_tickets_once_also_across_a_restart(b: Backend) {
    let dovecot = Dovecot::start().await;
    let app = app_with_key(b).await;
    let org = app.org("Imap Clinic").await;
    let (s, m) = app
        .put(
            &org.owner,
            "/inbound/imap",
            json!({"host": "127.0.0.1", "port": dovecot.port, "tls": "none",
                   "username": USER, "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["folder"], "INBOX");
    assert!(m.get("password").is_none(), "{m}");
    let sealed = app
        .count(
            "SELECT COUNT(*) FROM inbound_mailboxes WHERE password_sealed LIKE '%mailbox-secret%'",
        )
        .await;
    assert_eq!(sealed, 0, "the password is not stored in clear");

    let first = email(
        "ana@example.org",
        "imap-1@example.org",
        "",
        "Broken filling",
        "It broke.",
    );
    dovecot.append(&first).await;
    // The same message delivered twice into the mailbox.
    dovecot.append(&first).await;
    dovecot
        .append(&email(
            "ooo@example.org",
            "imap-2@example.org",
            "Auto-Submitted: auto-replied\r\n",
            "Away",
            "Out of office.",
        ))
        .await;
    dovecot
        .append("Subject: no sender at all\r\n\r\nhello\r\n")
        .await;
    let tenant = ladder_core::TenantId(org.tenant_id.clone());
    let polled = poll(&app.state, &tenant).await.expect("poll");
    assert_eq!(
        (
            polled.created,
            polled.already_taken,
            polled.ignored,
            polled.refused
        ),
        (1, 1, 1, 1),
        "{polled:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 1);
    let (_, unseen) = dovecot.unseen().await;
    assert!(
        unseen.is_empty(),
        "every message is flagged once taken: {unseen:?}"
    );
    let (s, m) = app.get(&org.owner, "/inbound/imap").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(
        (m["last_error"].clone(), m["last_polled_at"].is_string()),
        (json!(null), true)
    );

    // A server that took a message in and died before flagging it: the next server (a fresh
    // state on the same database, as after a restart) flags it and makes no second ticket.
    dovecot
        .append(&email(
            "bo@example.org",
            "imap-3@example.org",
            "",
            "Bill",
            "Charged twice.",
        ))
        .await;
    let (validity, unseen) = dovecot.unseen().await;
    assert_eq!(unseen.len(), 1);
    let raw = email(
        "bo@example.org",
        "imap-3@example.org",
        "",
        "Bill",
        "Charged twice.",
    );
    let taken = inbound::receive(
        &app.db,
        &Us::of(&app.state.notifier),
        &settings(),
        &tenant,
        inbound::prepare(&settings(), raw.into_bytes()).expect("prepare"),
        Source::Imap {
            uid_validity: validity,
            uid: unseen[0],
        },
        app.now(),
    )
    .await
    .expect("taken before the crash");
    assert!(!taken.duplicate);
    let restarted = ladder_server::AppState::new(
        app.db.clone(),
        ladder_server::Clock::Test(app.clock.clone()),
    )
    .with_inbound(settings());
    let polled = poll(&restarted, &tenant)
        .await
        .expect("poll after the restart");
    assert_eq!((polled.created, polled.already_taken), (0, 1), "{polled:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 2);
    assert!(dovecot.unseen().await.1.is_empty());
    // Nothing new: nothing happens.
    let polled = poll(&restarted, &tenant).await.expect("poll");
    assert_eq!(polled, ladder_server::inbound::imap::Polled::default());
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 2);

    // A wrong password is an error shown on the mailbox, and takes nothing.
    let (s, _) = app
        .put(
            &org.owner,
            "/inbound/imap",
            json!({"host": "127.0.0.1", "port": dovecot.port, "tls": "none",
                   "username": USER, "password": "wrong", "folder": "INBOX"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(poll(&app.state, &tenant).await.is_err());
    let (_, m) = app.get(&org.owner, "/inbound/imap").await;
    assert!(
        m["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("logging in"),
        "{m}"
    );
}

async fn a_mailbox_needs_the_servers_key_and_an_owner(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Keyless Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let body = json!({"host": "127.0.0.1", "port": 143, "tls": "starttls", "username": "u", "password": "p"});
    let (s, p) = app.put(&org.owner, "/inbound/imap", body.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(
        p["detail"].as_str().unwrap_or("").contains("--secret-key"),
        "{p}"
    );
    let (s, _) = app.put(&agent, "/inbound/imap", body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get(&org.owner, "/inbound/imap").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let keyed = app_with_key(b).await;
    let org = keyed.org("Keyed Clinic").await;
    let mut bad = body;
    bad["tls"] = json!("sometimes");
    let (s, p) = keyed.put(&org.owner, "/inbound/imap", bad.clone()).await;
    assert_eq!(
        (s, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("tls"))
    );
    bad["tls"] = json!("tls");
    bad["host"] = json!("bad host!");
    bad["password"] = json!("");
    let (s, p) = keyed.put(&org.owner, "/inbound/imap", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(
        keyed.count("SELECT COUNT(*) FROM inbound_mailboxes").await,
        0
    );
}
