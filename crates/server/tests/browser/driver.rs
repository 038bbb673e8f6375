//! Real headless Chromium for the browser tests, driven over WebDriver.
//!
//! One chromedriver per test binary, started on first use on a free loopback port and ended
//! when the binary exits (see [`driver`]); one Chromium session per person ([`Browser`]), each
//! with its own profile, so two people can sit side by side in one test.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long a page may take to reach a state a test waits for. Pages render on loopback in
/// milliseconds and live updates must arrive within 2 s: anything slower is a failure.
pub const WAIT: Duration = Duration::from_secs(5);

/// The window every session gets, so screenshots and layouts are the same on every run.
pub const WINDOW: (u32, u32) = (1280, 900);

/// The width of a phone held upright, for the pages' narrow layout.
pub const PHONE: (u32, u32) = (390, 844);

fn chromedriver_path() -> PathBuf {
    std::env::var_os("LADDER_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

fn chromium_path() -> PathBuf {
    std::env::var_os("LADDER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// The chromedriver this test binary shares: its address, and the pipe that keeps it alive.
pub struct Driver {
    pub url: String,
    _child: Child,
    /// Never written: it only has to stay open while the binary runs.
    _lifeline: Mutex<ChildStdin>,
}

static DRIVER: OnceLock<Driver> = OnceLock::new();

/// The test binary's chromedriver, started on first use.
///
/// Rust runs no destructor for a static at exit, so chromedriver runs under a small shell
/// that holds the read end of a pipe whose write end only this process has: when the test
/// binary exits, however it exits, the pipe closes and the shell ends chromedriver.
pub fn driver() -> &'static Driver {
    DRIVER.get_or_init(|| {
        let chromedriver = chromedriver_path();
        assert!(
            chromedriver.exists(),
            "the browser tests need chromedriver at {} (Debian: apt-get install chromium \
             chromium-driver; or set LADDER_CHROMEDRIVER)",
            chromedriver.display()
        );
        assert!(
            chromium_path().exists(),
            "the browser tests need Chromium at {} (Debian: apt-get install chromium; or set \
             LADDER_CHROMIUM)",
            chromium_path().display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port for chromedriver")
            .port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$1" --port="$2" --allowed-ips=127.0.0.1 --log-level=SEVERE >/dev/null 2>&1 & d=$!; cat >/dev/null; kill "$d""#)
            .arg("sh")
            .arg(&chromedriver)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start chromedriver");
        let lifeline = child.stdin.take().expect("chromedriver's lifeline pipe");
        let url = format!("http://127.0.0.1:{port}");
        // Wait (bounded) until it answers: plain TCP, so no runtime is needed here.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {url} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Driver {
            url,
            _child: child,
            _lifeline: Mutex::new(lifeline),
        }
    })
}

/// One person's browser: a headless Chromium session with its own profile (cookies).
pub struct Browser {
    pub client: Client,
    /// Where the pages are served, e.g. `http://127.0.0.1:1234`.
    pub base: String,
    session: String,
    driver: String,
}

impl Browser {
    /// Opens a fresh headless Chromium on pages served at `base`.
    pub async fn open(base: &str) -> Browser {
        let driver = driver();
        let (w, h) = WINDOW;
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_path(),
                "args": [
                    "--headless=new",
                    // Containers and CI run as root, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--disable-extensions",
                    "--no-first-run",
                    "--lang=en-GB",
                    format!("--window-size={w},{h}"),
                ],
            },
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!("the capabilities are an object"),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("start a Chromium session on {}: {e}", driver.url));
        let session = client
            .session_id()
            .await
            .expect("session id")
            .expect("a WebDriver session has an id");
        Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            session,
            driver: driver.url.clone(),
        }
    }

    /// Opens `path` (e.g. `/login`) on the server under test.
    pub async fn go(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path (and query) of the page shown now.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The one element matching the CSS selector.
    pub async fn css(&self, selector: &str) -> Element {
        match self.client.find(Locator::Css(selector)).await {
            Ok(e) => e,
            Err(e) => panic!(
                "no element matches {selector:?} on {}: {e}",
                self.here().await
            ),
        }
    }

    /// Every element matching the CSS selector.
    pub async fn all(&self, selector: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("find {selector:?}: {e}"))
    }

    /// The form control whose `<label>` reads `label` (the label's own text, trimmed, before
    /// any hint inside it), as a person finds it.
    pub async fn field(&self, label: &str) -> Element {
        let found = self
            .client
            .execute(
                r#"const want = arguments[0];
                   for (const l of document.querySelectorAll('label')) {
                     const own = Array.from(l.childNodes)
                       .filter(n => n.nodeType === Node.TEXT_NODE || (n.nodeType === Node.ELEMENT_NODE && !n.matches('input,select,textarea,small,.hint')))
                       .map(n => n.textContent).join(' ').replace(/\s+/g, ' ').trim();
                     if (own !== want) continue;
                     const c = l.control;
                     if (c && c.offsetParent !== null) return c;
                   }
                   return null;"#,
                vec![json!(label)],
            )
            .await
            .expect("look up a label");
        // A WebDriver element reference is an object keyed by this constant (W3C WebDriver).
        match found["element-6066-11e4-a52e-4f735466cecf"].as_str() {
            Some(id) => {
                Element::from_element_id(self.client.clone(), ElementRef::from(id.to_owned()))
            }
            None => panic!(
                "no visible field labelled {label:?} on {}",
                self.here().await
            ),
        }
    }

    /// Types `value` into the field labelled `label`, replacing what it held.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear the field");
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {label:?}: {e}"));
    }

    /// Chooses the option whose text is `option` in the select labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let field = self.field(label).await;
        field
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("choose {option:?} in {label:?}: {e}"));
    }

    /// Clicks the button (or link styled as one) whose text is `text`.
    pub async fn press(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space()={t}] | //input[@type='submit' and @value={t}] | //a[normalize-space()={t}]",
            t = xpath_literal(text)
        );
        let buttons = self
            .client
            .find_all(Locator::XPath(&xpath))
            .await
            .expect("find buttons");
        for b in buttons {
            if b.is_displayed().await.unwrap_or(false) {
                b.click()
                    .await
                    .unwrap_or_else(|e| panic!("press {text:?}: {e}"));
                return;
            }
        }
        panic!("no visible button {text:?} on {}", self.here().await);
    }

    /// Signs in through the `/login` form (the one shown, if the browser was sent there, so
    /// its `next` holds) and waits until the page after it is shown.
    pub async fn sign_in(&self, tenant: &str, email: &str, password: &str) {
        if !self.path().await.starts_with("/login") {
            self.go("/login").await;
        }
        self.css("input[name=tenant]")
            .await
            .send_keys(tenant)
            .await
            .expect("type tenant");
        self.css("input[name=email]")
            .await
            .send_keys(email)
            .await
            .expect("type email");
        self.css("input[name=password]")
            .await
            .send_keys(password)
            .await
            .expect("type password");
        self.css("form[action='/login'] button[type=submit], form[action='/login'] [type=submit]")
            .await
            .click()
            .await
            .expect("submit the login form");
        self.wait_for(
            "the page after signing in",
            "return location.pathname !== '/login' && document.readyState === 'complete'",
        )
        .await;
    }

    /// Polls the JavaScript condition `js` (a function body returning true when ready) until
    /// it holds, or fails the test naming `what` after [`WAIT`].
    pub async fn wait_for(&self, what: &str, js: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = self.client.execute(js, vec![]).await;
            if let Ok(Value::Bool(true)) = ready {
                return;
            }
            if Instant::now() >= deadline {
                // What the person would have seen, for whoever reads the failure.
                let shot = std::env::temp_dir().join(format!(
                    "ladder-browser-failure-{}-{}.png",
                    std::process::id(),
                    self.session
                ));
                self.screenshot(&shot).await;
                panic!(
                    "gave up after {WAIT:?} waiting for {what} ({js}); last answer {ready:?}, on {} \
                     (screenshot: {})",
                    self.here().await,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until an element matching `selector` contains `text`.
    pub async fn wait_for_text(&self, selector: &str, text: &str) {
        let js = format!(
            "return Array.from(document.querySelectorAll({s})).some(e => e.textContent.includes({t}))",
            s = json!(selector),
            t = json!(text)
        );
        self.wait_for(&format!("{selector:?} to show {text:?}"), &js)
            .await;
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.css("body").await.text().await.expect("page text")
    }

    /// Writes a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Writes a PNG of the whole page (not only the viewport) to `path`: for the shot the
    /// viewport is stretched to the document's height through Chromium's DevTools protocol
    /// (a headless window cannot grow past its screen), then put back.
    pub async fn screenshot_full(&self, path: &Path) {
        let size = self
            .client
            .execute(
                "return [window.innerWidth, Math.ceil(document.documentElement.scrollHeight)]",
                vec![],
            )
            .await
            .expect("page size");
        let width = size[0].as_u64().unwrap_or(u64::from(WINDOW.0));
        let height = size[1].as_u64().unwrap_or(u64::from(WINDOW.1)).min(6000);
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
        self.screenshot(path).await;
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// Sends a DevTools protocol command through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) {
        let url = format!("{}/session/{}/goog/cdp/execute", self.driver, self.session);
        let res = reqwest::Client::new()
            .post(&url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(res.status().is_success(), "{cmd}: {}", res.status());
    }

    /// Sets the value of the field labelled `label` as a script would (for controls whose
    /// typing depends on the browser's locale, such as date and time pickers).
    pub async fn set(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        self.client
            .execute(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                vec![serde_json::to_value(&field).expect("element"), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("set {label:?}: {e}"));
    }

    /// When `LADDER_SCREENSHOTS` names a directory, writes the whole page there as
    /// `<name>.png` (how `scripts/screenshots` makes the README's pictures).
    pub async fn shoot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("LADDER_SCREENSHOTS") {
            let path = PathBuf::from(dir).join(format!("{name}.png"));
            self.screenshot_full(&path).await;
        }
    }

    /// Runs axe-core on the page and fails the test on any violation of impact serious or
    /// critical, listing them.
    pub async fn assert_accessible(&self) {
        let bad = serious(&self.axe().await);
        if !bad.is_empty() {
            panic!(
                "axe-core found {} serious or critical accessibility violation(s) on {}:\n{}",
                bad.len(),
                self.here().await,
                bad.join("\n")
            );
        }
    }

    /// axe-core's violations on the page as it stands (every impact).
    pub async fn axe(&self) -> Vec<Value> {
        self.client
            .execute(axe_source(), vec![])
            .await
            .expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   axe.run(document, {resultTypes: ['violations']})
                     .then(r => done(r.violations))
                     .catch(e => done({error: String(e)}));"#,
                vec![],
            )
            .await
            .expect("run axe-core");
        match result {
            Value::Array(violations) => violations,
            other => panic!("axe-core failed: {other}"),
        }
    }

    /// What the page weighs without images: its HTML as served now plus every stylesheet
    /// and script it links, in bytes (fetched again, so a cached asset counts too).
    pub async fn weight(&self) -> u64 {
        let w = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   const urls = [location.href].concat(
                     Array.from(document.querySelectorAll('link[rel=stylesheet], script[src]'),
                                e => e.href || e.src));
                   Promise.all(urls.map(u => fetch(u, {credentials: 'same-origin'})
                       .then(r => r.arrayBuffer()).then(b => b.byteLength)))
                     .then(sizes => done(sizes.reduce((a, b) => a + b, 0)))
                     .catch(e => done(String(e)));"#,
                vec![],
            )
            .await
            .expect("weigh the page");
        w.as_u64()
            .unwrap_or_else(|| panic!("weighing {} failed: {w}", "the page"))
    }

    /// Fails unless the page weighs under 100 KB without images (the issue's limit).
    pub async fn assert_light(&self) {
        let w = self.weight().await;
        assert!(
            w < 100 * 1024,
            "{} weighs {w} bytes with its stylesheet and script",
            self.here().await
        );
    }

    /// The value of the cookie `name` this browser holds for the server, if any.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_owned())
    }

    /// Where the browser is, for failure messages.
    async fn here(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "(unknown page)".to_owned(),
        }
    }

    /// Ends the session (the test's normal end; a panicking test's session ends in `Drop`).
    pub async fn close(self) {
        let client = self.client.clone();
        std::mem::forget(self);
        let _ = client.close().await;
    }
}

impl Drop for Browser {
    /// A test that panics still ends its Chromium: the session is deleted from a thread with
    /// a runtime of its own (`Drop` cannot wait on the test's).
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.driver, self.session);
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let _ = reqwest::Client::new().delete(&url).send().await;
            });
        })
        .join();
    }
}

/// axe-core's violations of impact serious or critical, one line each: rule (impact): what
/// to do, at which elements.
pub fn serious(violations: &[Value]) -> Vec<String> {
    violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .map(|nodes| nodes.iter().map(|n| n["target"].to_string()).collect())
                .unwrap_or_default();
            format!(
                "- {} ({}): {} at {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                targets.join(", ")
            )
        })
        .collect()
}

/// axe-core's script, read once from the npm package the tests install.
fn axe_source() -> &'static str {
    static AXE: OnceLock<String> = OnceLock::new();
    AXE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        let path = dir.join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is not installed ({}: {e}); run `npm ci --prefix {}` (scripts/test does)",
                path.display(),
                dir.display()
            )
        })
    })
}

/// `text` as an XPath string literal (XPath has no escapes: quotes are joined with concat).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
