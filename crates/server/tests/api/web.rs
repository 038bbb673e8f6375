//! The web pages over HTTP, as a browser without JavaScript uses them: signing in sets the
//! session cookie, forms carry their CSRF token, the cookie reads the API but never writes
//! it, and the clinic's escalation runs through the pages' forms.

use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, Org, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    an_escalation_moves_up_and_back_down_through_the_pages,
    signing_in_sets_an_http_only_same_site_cookie,
    pages_without_a_session_send_to_the_sign_in_form,
    a_page_post_without_its_csrf_token_is_refused_and_changes_nothing,
    signing_out_revokes_the_session,
    the_cookie_reads_the_api_but_never_writes_it,
    another_organisations_ticket_is_a_404_page,
    a_server_configured_for_tls_marks_the_cookie_secure,
    a_session_cookie_expires_with_its_session,
    a_missed_deadline_shows_red_in_the_queue_and_the_rail,
    a_queue_pages_by_its_cursor_and_filters,
    an_escalation_runs_through_the_pages_forms,
    the_sign_in_form_is_throttled_like_the_api,
    the_timeline_says_chain_verified_only_when_it_is,
    the_resolve_button_asks_for_approval_only_above_ones_authority,
    the_rail_counts_what_each_person_has,
    the_mailbox_page_sets_the_mailbox_and_shows_a_new_token_once,
    the_customers_page_searches_names_emails_and_phones,
);

/// A browser without JavaScript: follows nothing by itself, keeps its cookies.
struct Browser {
    client: reqwest::Client,
    base: String,
    /// The session cookie, `ladder_session=…`.
    cookie: Option<String>,
    /// Any other cookie (the one-time message a redirect leaves).
    others: std::collections::BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let at = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        self.body[at..].split('"').next().expect("token").to_owned()
    }
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
            cookie: None,
            others: Default::default(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut jar: Vec<String> = self.cookie.iter().cloned().collect();
        jar.extend(self.others.iter().map(|(k, v)| format!("{k}={v}")));
        let req = if jar.is_empty() {
            req
        } else {
            req.header("cookie", jar.join("; "))
        };
        let res = req.send().await.expect("request");
        let page = Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.expect("body"),
        };
        for c in page.set_cookies() {
            let pair = c.split(';').next().unwrap_or("");
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name == "ladder_session" {
                self.cookie = (!value.is_empty()).then(|| format!("ladder_session={value}"));
            } else if value.is_empty() {
                self.others.remove(name);
            } else {
                self.others.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    async fn sign_in(&mut self, tenant: &str, email: &str, password: &str) -> Page {
        self.post(
            "/login",
            &[("tenant", tenant), ("email", email), ("password", password)],
        )
        .await
    }
}

fn owner_email(org: &Org) -> String {
    format!("owner@{}.example", org.slug)
}

async fn signing_in_sets_an_http_only_same_site_cookie(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Cookie Clinic").await;
    let mut browser = Browser::new(&app);

    let form = browser.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    for field in ["name=\"tenant\"", "name=\"email\"", "name=\"password\""] {
        assert!(form.body.contains(field), "the form has {field}");
    }

    // A wrong password: the form again, saying so next to the password, and no cookie.
    let refused = browser
        .sign_in(&org.slug, &owner_email(&org), "not-it")
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("id=\"password-error\""),
        "{}",
        refused.body
    );
    assert!(refused
        .body
        .contains("Unknown organisation, email or password"));
    assert!(refused.set_cookies().is_empty());
    // A blank field is named.
    let blank = browser.sign_in("", &owner_email(&org), "x").await;
    assert!(blank.body.contains("id=\"tenant-error\""), "{}", blank.body);

    let signed_in = browser
        .post(
            "/login",
            &[
                ("tenant", org.slug.as_str()),
                ("email", &owner_email(&org)),
                ("password", "owner-password"),
                ("next", "/queues/watching"),
            ],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/queues/watching");
    let cookie = signed_in.set_cookies().join("\n");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // The session is a session row like a bearer login's, expiring with it.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
            .await,
        2
    );

    // A sign-in posted from another site's page is refused (login CSRF).
    let req = browser
        .client
        .post(format!("{}/login", app.base))
        .header("origin", "https://elsewhere.example")
        .form(&[
            ("tenant", org.slug.as_str()),
            ("email", &owner_email(&org)),
            ("password", "owner-password"),
        ]);
    let foreign = browser.send(req).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(foreign.set_cookies().is_empty());
    let req = browser
        .client
        .post(format!("{}/login", app.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("tenant", org.slug.as_str()),
            ("email", &owner_email(&org)),
            ("password", "owner-password"),
        ]);
    assert_eq!(browser.send(req).await.status, StatusCode::FORBIDDEN);

    // Behind a TLS proxy the cookie is Secure; a `next` off the site goes home instead.
    let req = browser
        .client
        .post(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("tenant", org.slug.as_str()),
            ("email", &owner_email(&org)),
            ("password", "owner-password"),
            ("next", "//elsewhere.example/"),
        ]);
    let over_tls = browser.send(req).await;
    assert!(over_tls.set_cookies().join("\n").contains("; Secure"));
    assert_eq!(over_tls.location(), "/");

    let page = browser.get("/queues/watching").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Cookie Clinic Owner"),
        "the top bar names who is signed in"
    );
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    for directive in [
        "default-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(page.body.len() < 100 * 1024);
}

async fn pages_without_a_session_send_to_the_sign_in_form(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut browser = Browser::new(&app);
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/login");
    let queue = browser.get("/queues/mine?status=open").await;
    assert_eq!(queue.status, StatusCode::SEE_OTHER);
    assert_eq!(
        queue.location(),
        "/login?next=%2Fqueues%2Fmine%3Fstatus%3Dopen"
    );
    // A forged or stale cookie is no session either.
    browser.cookie = Some("ladder_session=ldr_forged".into());
    let forged = browser.get("/queues/escalations").await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    // The assets are public, cached, and the only script and style the pages use.
    let css = browser.get("/assets/ladder.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["cache-control"]
        .to_str()
        .expect("cache")
        .contains("max-age"));
    assert_eq!(
        browser.get("/assets/ladder.js").await.headers[CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
}

async fn a_page_post_without_its_csrf_token_is_refused_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Forge Clinic").await;
    let customer = org.customer(&app, "Fay").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &org.owner).await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let page = browser.get(&format!("/tickets/{ticket}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = page.csrf();

    let before = app.snapshot().await;
    let path = format!("/tickets/{ticket}/reply");
    let missing = browser
        .post(&path, &[("kind", "note"), ("body", "forged")])
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(
        missing.body.contains("nothing was changed"),
        "{}",
        missing.body
    );
    let wrong = "0".repeat(token.len());
    let forged = browser
        .post(
            &path,
            &[
                ("csrf", wrong.as_str()),
                ("kind", "note"),
                ("body", "forged"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Another session's token is not this session's.
    let mut other = Browser::new(&app);
    other
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let theirs = other.get(&format!("/tickets/{ticket}")).await.csrf();
    assert_ne!(theirs, token);
    let crossed = browser
        .post(
            &path,
            &[
                ("csrf", theirs.as_str()),
                ("kind", "note"),
                ("body", "forged"),
            ],
        )
        .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    let escalate = browser
        .post(
            &format!("/tickets/{ticket}/escalate"),
            &[
                ("category", "legal"),
                ("note", "forged"),
                ("contact_method", "call"),
                ("urgency", "urgent"),
            ],
        )
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused post changed something"
    );

    // With its token the same post is a note, written by the flow with its audit event.
    let sent = browser
        .post(
            &path,
            &[
                ("csrf", token.as_str()),
                ("kind", "note"),
                ("body", "Check the X-ray."),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(sent.location(), format!("/tickets/{ticket}"));
    let events = app.events(&org.owner, &ticket).await;
    assert_eq!(events.last().expect("an event")["kind"], "note_added");
    let shown = browser.get(&format!("/tickets/{ticket}")).await;
    assert!(shown.body.contains("Check the X-ray."));
    assert!(shown.body.contains("Internal note added."), "the flash");
    // A blank message comes back with the message next to the field, nothing written.
    let before = app.snapshot().await;
    let blank = browser
        .post(
            &path,
            &[("csrf", token.as_str()), ("kind", "public"), ("body", "  ")],
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank.body.contains("id=\"reply-body-error\""),
        "{}",
        blank.body
    );
    assert_eq!(app.snapshot().await, before);
}

async fn signing_out_revokes_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Leave Clinic").await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let page = browser.get("/queues/escalations").await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = browser.cookie.clone().expect("signed in");

    // Signing out is a form too: without its token it is refused.
    assert_eq!(
        browser.post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let out = browser
        .post("/logout", &[("csrf", page.csrf().as_str())])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/login");
    assert!(out.set_cookies().join("\n").contains("Max-Age=0"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL")
            .await,
        1
    );

    // The old cookie opens nothing: pages send to the sign-in form, the API answers 401.
    browser.cookie = Some(cookie.clone());
    assert_eq!(
        browser.get("/queues/escalations").await.status,
        StatusCode::SEE_OTHER
    );
    let api = browser.get("/api/v1/queues/mine").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let token = cookie.trim_start_matches("ladder_session=");
    let bearer = app
        .client
        .get(format!("{}/api/v1/queues/mine", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
}

async fn the_cookie_reads_the_api_but_never_writes_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Read Clinic").await;
    let customer = org.customer(&app, "Rae").await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;

    let read = browser.get("/api/v1/queues/mine").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);

    let before = app.snapshot().await;
    let body = json!({"subject": "Forged", "description": "Made by another site", "customer_id": customer, "channel": "web"});
    let req = browser
        .client
        .post(format!("{}/api/v1/tickets", app.base))
        .json(&body);
    let write = browser.send(req).await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED, "{}", write.body);
    assert_eq!(write.headers[CONTENT_TYPE], "application/problem+json");
    assert!(
        write.body.contains("Bearer"),
        "says what would work: {}",
        write.body
    );
    assert_eq!(app.snapshot().await, before);

    // A bearer token wins over the cookie when both come.
    let req = browser
        .client
        .get(format!("{}/api/v1/queues/mine", app.base))
        .bearer_auth("ldr_not-a-token");
    assert_eq!(browser.send(req).await.status, StatusCode::UNAUTHORIZED);
}

async fn another_organisations_ticket_is_a_404_page(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ours = app.org("Our Clinic").await;
    let theirs = app.org("Their Clinic").await;
    let customer = theirs.customer(&app, "Tom").await;
    let ticket = TicketBuilder::new(&customer)
        .open(&app, &theirs.owner)
        .await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&ours.slug, &owner_email(&ours), "owner-password")
        .await;

    for path in [format!("/tickets/{ticket}"), "/no-such-page".to_owned()] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.headers[CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/html"));
        assert!(page.body.contains("Not found"), "{}", page.body);
        assert!(!page.body.contains("Tom"));
    }
    // Their forms cannot reach it either.
    let token = browser.get("/queues/mine").await.csrf();
    let before = app.snapshot().await;
    let post = browser
        .post(
            &format!("/tickets/{ticket}/reply"),
            &[
                ("csrf", token.as_str()),
                ("kind", "note"),
                ("body", "Hello"),
            ],
        )
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot().await, before);
}

async fn an_escalation_runs_through_the_pages_forms(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Smile Clinic").await;
    let _reception = org.user(&app, "Rita Front", "agent").await;
    let customer = org.customer(&app, "Maria Lopez").await;
    let mut rita = Browser::new(&app);
    let signed = rita
        .sign_in(
            &org.slug,
            &format!("rita.front@{}.example", org.slug),
            "password-123",
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let rita_session = _reception;
    let ticket = TicketBuilder::new(&customer)
        .about("Charged for a crown I never had")
        .saying("I was billed for a crown but only had a cleaning. I'll sue for false advertising.")
        .open(&app, &rita_session)
        .await;

    // The banner quotes the customer's words and marks them in the message.
    let page = rita.get(&format!("/tickets/{ticket}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Legal threat"), "{}", page.body);
    assert!(
        page.body.contains("<mark>I&#39;ll sue</mark>")
            || page.body.contains("<mark>I'll sue</mark>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Escalate with these"));
    assert!(
        page.body.len() < 100 * 1024,
        "the ticket page weighs {} bytes",
        page.body.len()
    );
    let token = page.csrf();
    let path = format!("/tickets/{ticket}/escalate");

    // A blank note: the form again, open, with the message beside the note; nothing written.
    let before = app.snapshot().await;
    let blank = rita
        .post(
            &path,
            &[
                ("csrf", token.as_str()),
                ("target", "owner"),
                ("category", "legal"),
                ("note", ""),
                ("contact_method", "call"),
                ("urgency", "urgent"),
            ],
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank.body.contains("id=\"esc-note-error\""),
        "{}",
        blank.body
    );
    assert!(blank.body.contains("data-open"));
    assert_eq!(app.snapshot().await, before);

    let sent = rita
        .post(
            &path,
            &[
                ("csrf", token.as_str()),
                ("target", "owner"),
                ("category", "legal"),
                (
                    "note",
                    "Says she was charged for a crown she never had; threatens to sue.",
                ),
                ("tried", "Checked the visit notes."),
                ("contact_method", "call"),
                ("urgency", "urgent"),
                ("triggers", "legal_threat"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let page = rita.get(&format!("/tickets/{ticket}")).await;
    assert!(
        page.body
            .contains("Escalated to Smile Clinic Owner. You&#39;ll find it under Watching.")
            || page
                .body
                .contains("Escalated to Smile Clinic Owner. You'll find it under Watching."),
        "{}",
        page.body
    );
    // The same escalation the API makes: its fields, its audit event.
    let (_, t) = app.get(&org.owner, &format!("/tickets/{ticket}")).await;
    let escalation = t["active_escalation"].clone();
    assert_eq!(escalation["category"], "legal");
    assert_eq!(escalation["contact_method"], "call");
    assert_eq!(escalation["tried"], "Checked the visit notes.");
    let kinds: Vec<String> = app
        .events(&org.owner, &ticket)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(kinds.contains(&"escalated".to_owned()), "{kinds:?}");

    // The owner's escalations queue lists it with its deadline.
    let mut owner = Browser::new(&app);
    owner
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let queue = owner.get("/").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(
        queue.body.contains("Charged for a crown I never had"),
        "{}",
        queue.body
    );
    assert!(queue.body.contains("unowned"));
    assert!(queue.body.contains("(business time)"));
    let filtered = owner
        .get("/queues/escalations?status=&category=billing")
        .await;
    assert!(filtered.body.contains("Nothing is escalated to you."));

    // The owner acknowledges; the receptionist's reply box is locked with their name.
    let page = owner.get(&format!("/tickets/{ticket}")).await;
    let owner_token = page.csrf();
    let escalation_id = escalation["id"].as_str().expect("escalation id");
    let ack = owner
        .post(
            &format!("/tickets/{ticket}/acknowledge"),
            &[
                ("csrf", owner_token.as_str()),
                ("escalation_id", escalation_id),
            ],
        )
        .await;
    assert_eq!(ack.status, StatusCode::SEE_OTHER, "{}", ack.body);
    let page = rita.get(&format!("/tickets/{ticket}")).await;
    assert!(
        page.body.contains(
            "Replies are locked while Smile Clinic Owner handles this legal escalation. Add an internal note instead."
        ),
        "{}",
        page.body
    );
    // …and a public reply posted anyway is refused by the flow, shown on the form.
    let before = app.snapshot().await;
    let refused = rita
        .post(
            &format!("/tickets/{ticket}/reply"),
            &[
                ("csrf", token.as_str()),
                ("kind", "public"),
                ("body", "We will refund you."),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.snapshot().await, before);

    // Resolving needs a summary; with one, the escalation is resolved.
    let resolve = format!("/tickets/{ticket}/resolve");
    let missing = owner
        .post(
            &resolve,
            &[
                ("csrf", owner_token.as_str()),
                ("escalation_id", escalation_id),
                ("summary", ""),
            ],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("id=\"res-summary-error\""));
    let done = owner
        .post(
            &resolve,
            &[
                ("csrf", owner_token.as_str()),
                ("escalation_id", escalation_id),
                (
                    "summary",
                    "Billing error; the charge was reversed and she was called.",
                ),
                ("compensation", "none"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (_, e) = app
        .get(&org.owner, &format!("/escalations/{escalation_id}"))
        .await;
    assert_eq!(e["state"], "resolved");

    // The receptionist's Watching page shows it resolved.
    let watching = rita.get("/queues/watching").await;
    assert!(watching.body.contains("Charged for a crown I never had"));
    assert!(
        watching.body.contains("status-resolved"),
        "{}",
        watching.body
    );
}

async fn a_server_configured_for_tls_marks_the_cookie_secure(b: Backend) {
    // The harness's server, but started with `--secure-cookies`.
    let (url, _scratch) = crate::harness::fresh_database(b).await;
    let db = ladder_storage::Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let start = crate::harness::START;
    ladder_server::provision::create_tenant(
        &db,
        "Tls Clinic",
        None,
        "owner@tls-clinic.example",
        "Tls Owner",
        "owner-password",
        start,
    )
    .await
    .expect("tenant");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = ladder_server::AppState::new(
        db.clone(),
        ladder_server::Clock::Test(ladder_server::TestClock::at(start)),
    )
    .with_secure_cookies(true);
    let engine = ladder_server::engine::EngineConfig {
        workers: 0,
        ..ladder_server::engine::EngineConfig::for_backend(db.backend())
    };
    tokio::spawn(async move {
        ladder_server::serve_state(state, listener, std::future::pending(), engine)
            .await
            .expect("server");
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("tenant", "tls-clinic"),
            ("email", "owner@tls-clinic.example"),
            ("password", "owner-password"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()[SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

async fn a_session_cookie_expires_with_its_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Late Clinic").await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    assert_eq!(browser.get("/queues/mine").await.status, StatusCode::OK);
    app.clock.advance(jiff::SignedDuration::from_hours(12));
    let expired = browser.get("/queues/mine").await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    assert_eq!(expired.location(), "/login?next=%2Fqueues%2Fmine");
    assert_eq!(
        browser.get("/api/v1/queues/mine").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_missed_deadline_shows_red_in_the_queue_and_the_rail(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Late Desk").await;
    let customer = org.customer(&app, "Lou").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Broken crown")
        .open(&app, &org.owner)
        .await;
    let (status, made) = app
        .post(
            &org.owner,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": "complaint", "note": "Angry", "contact_method": "call", "urgency": "urgent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let fresh = browser.get("/queues/escalations").await;
    assert!(fresh.body.contains("(business time)"), "{}", fresh.body);
    assert!(!fresh.body.contains("count overdue"));
    // The clock alone (no timer fired): the acknowledgement deadline has passed.
    app.clock.advance(jiff::SignedDuration::from_hours(3));
    let late = browser.get("/queues/escalations").await;
    assert!(late.body.contains("chip clock breached"), "{}", late.body);
    assert!(
        late.body.contains(" ago</span>"),
        "says how long ago: {}",
        late.body
    );
    assert!(
        late.body.contains("count overdue"),
        "the rail marks the queue"
    );
    let page = browser.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains("Acknowledge: breached"), "{}", page.body);
}

async fn a_queue_pages_by_its_cursor_and_filters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Busy Desk").await;
    let customer = org.customer(&app, "Pat").await;
    // One more than a page; each ticket is assigned to its creator, the owner.
    for i in 0..51 {
        TicketBuilder::new(&customer)
            .about(&format!("Question number {i:02}"))
            .open(&app, &org.owner)
            .await;
    }
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let first = browser.get("/queues/mine").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.matches("<tr data-key=").count(), 50);
    assert!(first.body.contains("Question number 00"));
    assert!(!first.body.contains("Question number 50"));
    let marker = "cursor=";
    let at = first.body.find(marker).expect("a next page link") + marker.len();
    let cursor = first.body[at..].split('"').next().expect("cursor");
    let second = browser
        .get(&format!("/queues/mine?status=&category=&cursor={cursor}"))
        .await;
    assert_eq!(second.body.matches("<tr data-key=").count(), 1);
    assert!(second.body.contains("Question number 50"));
    assert!(second.body.contains("First page"));
    // Filters are GET parameters; a wrong one is said, not ignored.
    let pending = browser.get("/queues/mine?status=pending").await;
    assert!(pending.body.contains("Nothing is assigned to you."));
    let wrong = browser.get("/queues/mine?category=shouting").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("category"), "{}", wrong.body);
}

/// The form is no way around the sign-in throttle: past the account's limit it answers 429
/// with `Retry-After`, even to the right password, until the window passes.
async fn the_sign_in_form_is_throttled_like_the_api(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Throttled Clinic").await;
    let mut browser = Browser::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let page = browser
            .sign_in(&org.slug, &owner_email(&org), "wrong-password")
            .await;
        statuses.push(page.status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let refused = browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(
        refused.body.contains("Too many failed sign-ins"),
        "{}",
        refused.body
    );
    assert!(refused.set_cookies().is_empty());

    app.advance(jiff::SignedDuration::from_hours(1)).await;
    let signed_in = browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
}

/// A number of the rail, as shown.
fn count(page: &Page, name: &str) -> String {
    let marker = format!("data-count=\"{name}\">");
    let at = page.body.find(&marker).expect(&marker) + marker.len();
    page.body[at..].split('<').next().expect("count").to_owned()
}

/// The seq and id of a ticket's events, oldest first.
async fn seqs_of(app: &TestApp, ticket: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT seq, id FROM audit_events WHERE ticket_id = $1 ORDER BY seq")
        .bind(ticket)
        .fetch_all(app.db.pool())
        .await
        .expect("the ticket's events")
}

async fn set_payload(app: &TestApp, event: &str, payload: &str) {
    sqlx::query("UPDATE audit_events SET payload = $1 WHERE id = $2")
        .bind(payload)
        .bind(event)
        .execute(app.db.pool())
        .await
        .expect("edit an event");
}

async fn payload_of(app: &TestApp, event: &str) -> String {
    let (p,): (String,) = sqlx::query_as("SELECT payload FROM audit_events WHERE id = $1")
        .bind(event)
        .fetch_one(app.db.pool())
        .await
        .expect("payload");
    p
}

/// "chain verified" is said only of a trail that checks: an edit to one of the ticket's
/// events, or to another ticket's event between them, turns it into "chain broken".
async fn the_timeline_says_chain_verified_only_when_it_is(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Chain Clinic").await;
    let customer = org.customer(&app, "Ada").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Crown fell off")
        .open(&app, &org.owner)
        .await;
    // Another ticket's event between this one's, and one after them.
    let between = TicketBuilder::new(&customer)
        .about("Another matter")
        .open(&app, &org.owner)
        .await;
    let (status, body) = app
        .post(
            &org.owner,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": "complaint", "note": "Upset", "contact_method": "call", "urgency": "standard"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    TicketBuilder::new(&customer)
        .about("A later matter")
        .open(&app, &org.owner)
        .await;

    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let page = browser.get(&format!("/tickets/{ticket}")).await;
    assert!(
        page.body.contains(">chain verified</span>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("chain broken"));

    // One of the ticket's own events edited.
    let own = seqs_of(&app, &ticket).await;
    let (_, escalated) = own.last().expect("the escalation's event").clone();
    let original = payload_of(&app, &escalated).await;
    set_payload(&app, &escalated, &original.replace("Upset", "Calm")).await;
    let page = browser.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains("chain broken"), "{}", page.body);
    assert!(!page.body.contains(">chain verified<"));
    set_payload(&app, &escalated, &original).await;
    let page = browser.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains(">chain verified</span>"), "restored");

    // Another ticket's event, lying between this ticket's events, edited.
    let (other_seq, other) = seqs_of(&app, &between).await[0].clone();
    assert!(own[0].0 < other_seq && other_seq < own[own.len() - 1].0);
    let original = payload_of(&app, &other).await;
    set_payload(&app, &other, &original.replace("Another", "Altered")).await;
    let page = browser.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains("chain broken"), "{}", page.body);
    set_payload(&app, &other, &original).await;
}

/// A specialist may grant up to 200.00 alone (the built-in policy): above it the Resolve
/// button reads "Request approval" and says who approves, by the amount; below it, "Resolve".
/// The owner, whose authority has no limit, never sees it.
async fn the_resolve_button_asks_for_approval_only_above_ones_authority(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Refund Clinic").await;
    let spec = org.user(&app, "Sam Specialist", "specialist").await;
    let team = org.team(&app, "Refunds", &[&spec]).await;
    let customer = org.customer(&app, "Ben").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Charged twice")
        .open(&app, &org.owner)
        .await;
    let (status, esc) = app
        .post(
            &org.owner,
            &format!("/tickets/{ticket}/escalate"),
            json!({"target": {"kind": "team", "id": team}, "category": "billing",
                   "note": "Charged twice", "contact_method": "call", "urgency": "standard"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{esc}");
    let id = esc["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .post(&spec, &format!("/escalations/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut owner = Browser::new(&app);
    owner
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let page = owner.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains(">Resolve</button>"), "{}", page.body);
    assert!(!page.body.contains("data-limit"), "no limit to pass");

    let mut sam = Browser::new(&app);
    sam.sign_in(
        &org.slug,
        &format!("sam.specialist@{}.example", org.slug),
        "password-123",
    )
    .await;
    let page = sam.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains(">Resolve</button>"), "{}", page.body);
    assert!(page.body.contains("data-limit=\"20000\""), "{}", page.body);
    assert!(!page.body.contains("Request approval"));
    let token = page.csrf();
    let path = format!("/tickets/{ticket}/resolve");
    // The form comes back (no summary) with the amount it was sent with: the button says
    // what sending it will do.
    for (amount, button, says) in [
        ("150", "Resolve", None),
        (
            "450",
            "Request approval",
            Some("An admin&#39;s approval is needed first"),
        ),
        (
            "2000",
            "Request approval",
            Some("An owner&#39;s approval is needed first"),
        ),
    ] {
        let back = sam
            .post(
                &path,
                &[
                    ("csrf", token.as_str()),
                    ("escalation_id", id.as_str()),
                    ("summary", ""),
                    ("compensation", "refund"),
                    ("amount", amount),
                ],
            )
            .await;
        assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY, "{amount}");
        assert!(
            back.body.contains(&format!(">{button}</button>")),
            "{amount}: {}",
            back.body
        );
        match says {
            Some(s) => assert!(back.body.contains(s), "{amount}: {}", back.body),
            None => assert!(
                back.body.contains("id=\"res-approver\" hidden></p>"),
                "{amount}: {}",
                back.body
            ),
        }
    }
    // Sent: it waits for an admin, and the form gives way to what is waiting.
    let sent = sam
        .post(
            &path,
            &[
                ("csrf", token.as_str()),
                ("escalation_id", id.as_str()),
                ("summary", "Refund the double charge"),
                ("compensation", "refund"),
                ("amount", "450"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let page = sam.get(&format!("/tickets/{ticket}")).await;
    assert!(page.body.contains("waits for an admin"), "{}", page.body);
    assert!(page.body.contains("waiting for an admin"), "{}", page.body);
    assert!(
        !page.body.contains("id=\"resolve-submit\""),
        "{}",
        page.body
    );
    // The rail counts it for whoever may decide it, not for the one who asked.
    assert_eq!(count(&page, "approvals"), "0");
    let page = owner.get("/queues/mine").await;
    assert_eq!(count(&page, "approvals"), "1");
}

/// The rail's numbers are the person's own: the owner's escalations and approvals to decide,
/// the desk's watched tickets; an approval the desk cannot decide is not counted for them.
async fn the_rail_counts_what_each_person_has(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Rail Clinic").await;
    let desk = org.user(&app, "Dee Desk", "agent").await;
    let customer = org.customer(&app, "Cy").await;
    for n in 0..3 {
        let ticket = TicketBuilder::new(&customer)
            .about(&format!("Matter {n}"))
            .open(&app, &desk)
            .await;
        if n < 2 {
            let (status, body) = app
                .post(
                    &desk,
                    &format!("/tickets/{ticket}/escalate"),
                    json!({"category": "billing", "note": "Needs the owner",
                           "contact_method": "call", "urgency": "standard"}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
    let mut owner = Browser::new(&app);
    owner
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let page = owner.get("/queues/escalations").await;
    assert_eq!(count(&page, "escalations"), "2");
    assert_eq!(count(&page, "approvals"), "0");
    assert!(page
        .body
        .contains("Escalations <span class=\"muted\">(2)</span>"));
    let mut dee = Browser::new(&app);
    dee.sign_in(
        &org.slug,
        &format!("dee.desk@{}.example", org.slug),
        "password-123",
    )
    .await;
    let page = dee.get("/queues/watching").await;
    assert_eq!(count(&page, "watching"), "2");
    assert_eq!(count(&page, "mine"), "1", "the one not escalated away");
    assert_eq!(count(&page, "escalations"), "0");
    assert!(page
        .body
        .contains("Watching <span class=\"muted\">(2)</span>"));
    let filtered = dee.get("/queues/watching?status=resolved").await;
    assert!(filtered
        .body
        .contains("Watching <span class=\"muted\">(0)</span>"));
}

/// The panel's "Move up" and "De-escalate" forms: a blank reason or note is the form again
/// with nothing changed; with one, the flow runs and the page says where the escalation went.
async fn an_escalation_moves_up_and_back_down_through_the_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Harbour Dental").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Lee").await;
    let mut owner = Browser::new(&app);
    owner
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let escalate = |ticket: String| {
        let (app, agent) = (&app, &agent);
        async move {
            let (s, esc) = app
                .post(
                    agent,
                    &format!("/tickets/{ticket}/escalate"),
                    json!({"target": {"kind": "owner"}, "category": "legal", "note": "Solicitor's letter", "contact_method": "email", "urgency": "standard"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{esc}");
            esc["id"].as_str().expect("escalation id").to_owned()
        }
    };

    // Moving up: the note is required; with it, the owner's escalation goes to the admins.
    let ticket = TicketBuilder::new(&customer)
        .about("Letter from a solicitor")
        .open(&app, &agent)
        .await;
    let esc = escalate(ticket.clone()).await;
    let token = owner.get(&format!("/tickets/{ticket}")).await.csrf();
    let path = format!("/tickets/{ticket}/re-escalate");
    let before = app.snapshot().await;
    let blank = owner
        .post(
            &path,
            &[("csrf", &token), ("escalation_id", &esc), ("note", "")],
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank.body.contains("Say why it must go higher."),
        "{}",
        blank.body
    );
    assert_eq!(app.snapshot().await, before);
    let up = owner
        .post(
            &path,
            &[
                ("csrf", &token),
                ("escalation_id", &esc),
                ("note", "Beyond us"),
            ],
        )
        .await;
    assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
    let (_, t) = app.get(&agent, &format!("/tickets/{ticket}")).await;
    assert_ne!(t["active_escalation_id"], esc.as_str(), "{t}");
    let (_, moved) = app.get(&org.owner, &format!("/escalations/{esc}")).await;
    assert_eq!(moved["state"], "superseded", "{moved}");

    // De-escalating: the reason is required; with it, the ticket has no active escalation.
    let ticket = TicketBuilder::new(&customer)
        .about("Question about a letter")
        .open(&app, &agent)
        .await;
    let esc = escalate(ticket.clone()).await;
    let token = owner.get(&format!("/tickets/{ticket}")).await.csrf();
    let path = format!("/tickets/{ticket}/de-escalate");
    let before = app.snapshot().await;
    let blank = owner
        .post(
            &path,
            &[("csrf", &token), ("escalation_id", &esc), ("reason", "")],
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank.body.contains("Say why this did not need escalating."),
        "{}",
        blank.body
    );
    assert_eq!(app.snapshot().await, before);
    let down = owner
        .post(
            &path,
            &[
                ("csrf", &token),
                ("escalation_id", &esc),
                ("reason", "Only a question about the letter's date"),
            ],
        )
        .await;
    assert_eq!(down.status, StatusCode::SEE_OTHER, "{}", down.body);
    let (_, t) = app.get(&agent, &format!("/tickets/{ticket}")).await;
    assert!(t["active_escalation_id"].is_null(), "{t}");
}

async fn the_mailbox_page_sets_the_mailbox_and_shows_a_new_token_once(b: Backend) {
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
        ladder_server::inbound::Settings {
            secret_key: Some(
                ladder_server::inbound::secret::SecretKey::from_hex(&"4b".repeat(32)).expect("key"),
            ),
            ..Default::default()
        },
    )
    .await;
    let org = app.org("Mail Clinic").await;
    org.user(&app, "Ann Agent", "agent").await;
    let mut agent_browser = Browser::new(&app);
    agent_browser
        .sign_in(
            &org.slug,
            &format!("ann.agent@{}.example", org.slug),
            "password-123",
        )
        .await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    let page = browser.get("/mailbox").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("No mailbox yet"), "{}", page.body);
    assert!(page.body.contains("No token yet"));
    assert!(page
        .body
        .contains("href=\"/mailbox\" aria-current=\"page\""));
    let token = page.csrf();

    // A bad port and no password: the form again with both named, nothing stored.
    let bad = browser
        .post(
            "/mailbox",
            &[
                ("csrf", token.as_str()),
                ("host", "imap.example.org"),
                ("tls", "tls"),
                ("port", "99999"),
                ("username", "help"),
                ("password", ""),
                ("folder", "INBOX"),
                ("processed_folder", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"m-port-error\""), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"imap.example.org\""),
        "the form keeps what was typed"
    );
    let bad = browser
        .post(
            "/mailbox",
            &[
                ("csrf", token.as_str()),
                ("host", "imap.example.org"),
                ("tls", "tls"),
                ("port", "993"),
                ("username", "help"),
                ("password", ""),
                ("folder", "INBOX"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"m-password-error\""), "{}", bad.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM inbound_mailboxes").await, 0);
    // Without the CSRF token: refused.
    let forged = browser
        .post(
            "/mailbox",
            &[
                ("host", "evil.example"),
                ("tls", "none"),
                ("port", "143"),
                ("username", "x"),
                ("password", "y"),
                ("folder", "INBOX"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let saved = browser
        .post(
            "/mailbox",
            &[
                ("csrf", token.as_str()),
                ("host", "imap.example.org"),
                ("tls", "tls"),
                ("port", "993"),
                ("username", "help"),
                ("password", "pw-of-the-mailbox"),
                ("folder", "INBOX"),
                ("processed_folder", "Done"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = browser.get("/mailbox").await;
    assert!(page.body.contains("Mailbox saved."), "{}", page.body);
    assert!(page.body.contains("value=\"imap.example.org\""));
    assert!(page.body.contains("value=\"Done\""));
    assert!(page.body.contains("Waiting for the first read"));
    assert!(
        !page.body.contains("pw-of-the-mailbox"),
        "the password is never shown"
    );
    let sealed = || async {
        let (s,): (String,) = sqlx::query_as("SELECT password_sealed FROM inbound_mailboxes")
            .fetch_one(app.db.pool())
            .await
            .expect("the mailbox");
        s
    };
    let before = sealed().await;
    // Saved again without a password: the one before is kept.
    let saved = browser
        .post(
            "/mailbox",
            &[
                ("csrf", token.as_str()),
                ("host", "imap.example.org"),
                ("tls", "tls"),
                ("port", "993"),
                ("username", "help"),
                ("password", ""),
                ("folder", "Support"),
                ("processed_folder", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(sealed().await, before);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM inbound_mailboxes WHERE folder = 'Support' AND processed_folder IS NULL").await,
        1
    );
    // The last read's error is on the page.
    ladder_storage::inbound::mark_polled(
        &app.db,
        &ladder_core::TenantId(org.tenant_id.clone()),
        Some("logging in as \"help\": authentication failed"),
        app.now(),
    )
    .await
    .expect("mark");
    let page = browser.get("/mailbox").await;
    assert!(
        page.body
            .contains("The last read failed: logging in as &#34;help&#34;: authentication failed")
            || page.body.contains(
                "The last read failed: logging in as &quot;help&quot;: authentication failed"
            ),
        "{}",
        page.body
    );
    assert!(page.body.contains("Failing"));

    // A token: shown once, and it takes email.
    let made = browser
        .post("/mailbox/token", &[("csrf", token.as_str())])
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert_eq!(made.headers["cache-control"], "no-store");
    let marker = "<code id=\"new-token\" class=\"secret\">";
    let at = made.body.find(marker).expect("the new token") + marker.len();
    let inbound_token = made.body[at..].split('<').next().unwrap_or("").to_owned();
    assert!(inbound_token.starts_with("ldr_in_"), "{inbound_token}");
    let (s, r) = crate::inbound::post_email(
        &app,
        &inbound_token,
        crate::inbound::email(
            "zed@example.org",
            "page-token-1@example.org",
            "",
            "Hello",
            "Hi.",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let page = browser.get("/mailbox").await;
    assert!(!page.body.contains(&inbound_token), "shown once only");
    assert!(page.body.contains("A token was made"));
    assert!(page.body.contains("Replace the token"));
    assert!(
        !made.body.contains("no longer works"),
        "the first replaces nothing"
    );
    // Replaced: the one before stops working.
    let again = browser
        .post("/mailbox/token", &[("csrf", token.as_str())])
        .await;
    assert!(
        again.body.contains("The token before it no longer works."),
        "{}",
        again.body
    );
    let (s, _) = crate::inbound::post_email(
        &app,
        &inbound_token,
        crate::inbound::email(
            "zed@example.org",
            "page-token-2@example.org",
            "",
            "Again",
            "Hi.",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Only owners and admins: not in an agent's rail, and the page is refused.
    let page = agent_browser.get("/mailbox").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    let queue = agent_browser.get("/queues/mine").await;
    assert!(!queue.body.contains("href=\"/mailbox\""));
}

async fn the_customers_page_searches_names_emails_and_phones(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Finder Clinic").await;
    for (name, email, phone) in [
        ("Olivia Stone", "olivia@example.org", "+44 20 7946 0123"),
        ("Omar Reed", "omar@example.org", "+44 20 7946 0999"),
    ] {
        let (s, c) = app
            .post(
                &org.owner,
                "/customers",
                json!({"name": name, "email": email, "phone": phone, "tier": "standard"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let mut browser = Browser::new(&app);
    browser
        .sign_in(&org.slug, &owner_email(&org), "owner-password")
        .await;
    // By the phone's digits, whatever the spacing: the customer search, not the old lookup.
    let page = browser.get("/customers?q=79460123").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Olivia Stone"), "{}", page.body);
    assert!(!page.body.contains("Omar Reed"), "{}", page.body);
    let page = browser.get("/customers?q=omar%40exa").await;
    assert!(page.body.contains("Omar Reed") && !page.body.contains("Olivia Stone"));
    let page = browser.get("/customers?q=nobody").await;
    assert!(
        page.body
            .contains("No customer's name, email or phone contains"),
        "{}",
        page.body
    );
    let page = browser.get("/customers").await;
    assert!(page.body.contains("Olivia Stone") && page.body.contains("Omar Reed"));
}
