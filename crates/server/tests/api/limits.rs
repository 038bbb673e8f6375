//! Floods refused: idle, slow-header and slow-body connections closed after their timeouts
//! while everyone else is served, and sign-ins throttled per account and per address.

use std::time::Duration;

use jiff::SignedDuration;
use ladder_server::engine::EngineConfig;
use ladder_server::throttle::{ThrottleLimits, TrustedProxies};
use ladder_server::transport::Limits;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Backend, TestApp, PATIENCE};
use crate::on_both_databases;

on_both_databases!(
    a_flood_of_idle_connections_is_served_around_and_closed,
    a_slow_body_is_cut_off_at_its_deadline,
    a_connection_carries_a_bounded_number_of_requests,
    connections_past_the_cap_wait_for_one_to_close,
    wrong_passwords_are_throttled_per_account_until_the_window_passes,
    a_forwarded_address_from_an_untrusted_peer_is_ignored,
    a_trusted_proxy_names_the_client_it_forwards,
);

/// Short timeouts, so that the test sees them pass; a cap high enough for the flood.
fn short(max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(2),
        body_read_timeout: Duration::from_secs(2),
        max_connections,
        max_requests_per_connection: 1000,
        shutdown_grace: Duration::from_secs(1),
    }
}

async fn spawn(b: Backend, limits: Limits) -> TestApp {
    let engine = EngineConfig {
        workers: 0,
        ..EngineConfig::for_backend(match b {
            Backend::Sqlite => ladder_storage::Backend::Sqlite,
            Backend::Postgres => ladder_storage::Backend::Postgres,
        })
    };
    TestApp::spawn_limited(b, engine, limits).await
}

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection, and returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out)).await;
    match read {
        Ok(Ok(_)) => {}
        // A reset is a close too.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(e)) => panic!("reading: {e}"),
        Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn a_flood_of_idle_connections_is_served_around_and_closed(b: Backend) {
    // The test process holds both ends of every socket, and other tests run beside it.
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("raise the open-file limit");
    let flood = usize::try_from(limit / 8).unwrap_or(2000).min(2000);
    assert!(
        flood >= 500,
        "the open-file limit ({limit}) is too low for this test"
    );
    let app = spawn(b, short(flood + 100)).await;
    let org = app.org("Flood Clinic").await;

    let mut idle = Vec::with_capacity(flood);
    for _ in 0..flood {
        idle.push(
            TcpStream::connect(address(&app))
                .await
                .expect("connect an idle socket"),
        );
    }
    // One more sends half its headers and stops.
    let mut slow = TcpStream::connect(address(&app)).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half the headers");

    // Everyone else is still served, signed in or not.
    let (status, users) = app.get(&org.owner, "/users").await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);

    // And the idle and the slow are closed once the header timeout passes.
    let said = read_to_close(&mut slow).await;
    assert!(
        !said.contains("200 OK"),
        "half a request was answered: {said}"
    );
    for mut s in idle {
        read_to_close(&mut s).await;
    }
}

async fn a_slow_body_is_cut_off_at_its_deadline(b: Backend) {
    let app = spawn(b, short(100)).await;
    let org = app.org("Trickle Clinic").await;
    let before = app.snapshot().await;
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    let head = format!(
        "POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": ",
        org.owner.token
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    // The body never completes: the server answers 408 at its deadline and closes.
    let said = read_to_close(&mut stream).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("application/problem+json"), "{said}");
    assert_eq!(
        app.snapshot().await,
        before,
        "a cut-off body wrote something"
    );
}

async fn a_connection_carries_a_bounded_number_of_requests(b: Backend) {
    let app = spawn(
        b,
        Limits {
            max_requests_per_connection: 2,
            ..short(100)
        },
    )
    .await;
    let org = app.org("Reuse Clinic").await;
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    let request = format!(
        "GET /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        org.owner.token
    );
    // Three requests sent back to back: two answered, the second saying it closes.
    for _ in 0..3 {
        stream.write_all(request.as_bytes()).await.expect("write");
    }
    let said = read_to_close(&mut stream).await;
    assert_eq!(said.matches("HTTP/1.1 200 OK").count(), 2, "{said}");
    assert_eq!(said.matches("connection: close").count(), 1, "{said}");
}

async fn wrong_passwords_are_throttled_per_account_until_the_window_passes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Guard Clinic").await;
    let email = format!("owner@{}.example", org.slug);
    let login = |password: &str| json!({"tenant": org.slug, "email": email, "password": password});
    // Naming the organisation by its slug or its id, the email in any case: one account.
    let by_id = json!({"tenant": org.tenant_id, "email": email.to_uppercase(), "password": "wrong-password"});
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..20 {
        let body = if i % 2 == 0 {
            login("wrong-password")
        } else {
            by_id.clone()
        };
        let res = app
            .client
            .post(format!("{}/api/v1/auth/login", app.base))
            .json(&body)
            .send()
            .await
            .expect("login");
        statuses.push(res.status().as_u16());
        last = Some(res);
    }
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 10], "{statuses:?}");
    let last = last.expect("a response");
    assert_eq!(last.headers()["content-type"], "application/problem+json");
    let retry: u64 = last.headers()["retry-after"]
        .to_str()
        .expect("retry-after")
        .parse()
        .expect("whole seconds");
    assert!((1..=15 * 60).contains(&retry), "{retry}");

    // The right password waits too; another account of the same address does not.
    let (status, problem) = app
        .call("POST", None, "/auth/login", Some(login("owner-password")))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    let other = app.org("Calm Clinic").await;
    let (status, _) = app.get(&other.owner, "/users").await;
    assert_eq!(status, StatusCode::OK);

    // Once the window has passed, the right password works again.
    app.advance(SignedDuration::from_secs(
        i64::try_from(retry).expect("secs"),
    ))
    .await;
    let session = app.login(&org.slug, &email, "owner-password").await;
    assert_eq!(session.id, org.owner.id);
}

async fn connections_past_the_cap_wait_for_one_to_close(b: Backend) {
    let app = spawn(b, short(2)).await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(address(&app)).await.expect("connect"));
    }
    // The server serves two connections at once and both are idle: the third is accepted
    // only once the header timeout has closed one of them.
    let started = std::time::Instant::now();
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "answered after {waited:?}, before an idle connection could have timed out"
    );
    for mut s in idle {
        read_to_close(&mut s).await;
    }
}

/// A server allowing three failed sign-ins per client address (and many per account), with
/// `proxies` trusted to say who the client is.
async fn spawn_behind(b: Backend, proxies: &[&str]) -> TestApp {
    let engine = EngineConfig {
        workers: 0,
        ..EngineConfig::for_backend(match b {
            Backend::Sqlite => ladder_storage::Backend::Sqlite,
            Backend::Postgres => ladder_storage::Backend::Postgres,
        })
    };
    let proxies = TrustedProxies::parse(proxies).expect("trusted proxies");
    TestApp::spawn_configured(
        b,
        engine,
        ladder_server::notify::Notifier::default(),
        Limits::default(),
        ladder_server::inbound::Settings::default(),
        |state| {
            state
                .with_trusted_proxies(proxies)
                .with_login_limits(ThrottleLimits {
                    per_account: 100,
                    per_address: 3,
                    window: SignedDuration::from_mins(15),
                })
        },
    )
    .await
}

/// A wrong sign-in as a new user of `org` (so that only the address's count can refuse it),
/// with `forwarded` as its X-Forwarded-For; returns the status.
async fn wrong_login(app: &TestApp, slug: &str, n: usize, forwarded: Option<&str>) -> u16 {
    let mut req = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"tenant": slug, "email": format!("user{n}@{slug}.example"), "password": "wrong-password"}));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.expect("login").status().as_u16()
}

async fn a_forwarded_address_from_an_untrusted_peer_is_ignored(b: Backend) {
    // The tests' server is reached from loopback, which is not among the trusted proxies.
    let app = spawn_behind(b, &["10.0.0.0/8"]).await;
    let org = app.org("Spoof Clinic").await;
    let mut statuses = Vec::new();
    for n in 0..4 {
        // Each attempt claims another client: were the header believed, none would be
        // refused.
        let claimed = format!("203.0.113.{n}");
        statuses.push(wrong_login(&app, &org.slug, n, Some(&claimed)).await);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    // The right password from that address waits too, whatever it claims.
    let (status, _) = app
        .call(
            "POST",
            None,
            "/auth/login",
            Some(json!({"tenant": org.slug, "email": format!("owner@{}.example", org.slug), "password": "owner-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

async fn a_trusted_proxy_names_the_client_it_forwards(b: Backend) {
    let app = spawn_behind(b, &["127.0.0.1", "192.0.2.0/24"]).await;
    let org = app.org("Proxy Clinic").await;
    let slug = org.slug.as_str();
    // Three failures from 203.0.113.7, each reaching the proxy with what the client wrote
    // itself on the left, and once through a second listed proxy.
    let from_client = [
        "203.0.113.7",
        "198.51.100.1, 203.0.113.7",
        "203.0.113.7, 192.0.2.9",
    ];
    for (n, forwarded) in from_client.iter().enumerate() {
        assert_eq!(wrong_login(&app, slug, n, Some(forwarded)).await, 401);
    }
    // That client is now refused, whatever it writes on the left of the header.
    assert_eq!(
        wrong_login(&app, slug, 10, Some("198.51.100.2, 203.0.113.7")).await,
        429
    );
    // Another client behind the same proxy is not, nor the proxy's own requests.
    assert_eq!(wrong_login(&app, slug, 11, Some("203.0.113.8")).await, 401);
    assert_eq!(wrong_login(&app, slug, 12, None).await, 401);
    // Nor is another client counted as the refused one for writing its address on the left.
    assert_eq!(
        wrong_login(&app, slug, 13, Some("203.0.113.7, 203.0.113.9")).await,
        401
    );
    // The other client's right password is taken; the refused one's waits.
    let login = |forwarded: &'static str| {
        app.client
            .post(format!("{}/api/v1/auth/login", app.base))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"tenant": slug, "email": format!("owner@{slug}.example"), "password": "owner-password"}))
            .send()
    };
    assert_eq!(
        login("203.0.113.8").await.expect("login").status(),
        StatusCode::OK
    );
    assert_eq!(
        login("203.0.113.7").await.expect("login").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
