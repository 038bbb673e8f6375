//! The harness itself: two people's browsers side by side, labels, waits, screenshots and
//! axe-core, on a page this test serves.

use axum::response::Html;
use axum::routing::get;

use crate::driver::{serious, Browser};

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness</title></head>
<body><main>
<h1>Harness</h1>
<form>
  <label for="note">Note <small class="hint">what happened</small></label>
  <input id="note" name="note">
  <label>Urgency <select name="urgency"><option>standard</option><option>urgent</option></select></label>
  <button type="button" id="go">Show it</button>
</form>
<p id="out" role="status"></p>
<script>
  document.getElementById('go').addEventListener('click', () => {
    // Later than the click, as a live update would be.
    setTimeout(() => {
      const f = document.forms[0];
      document.getElementById('out').textContent = f.note.value + ' / ' + f.urgency.value;
    }, 150);
  });
</script>
</main></body></html>"#;

const BAD_PAGE: &str = r#"<!doctype html><html><head><title>Bad</title></head>
<body><input name="unlabelled"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></body></html>"#;

async fn serve() -> String {
    let app = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/bad", get(|| async { Html(BAD_PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_fill_forms_wait_and_check_accessibility() {
    let base = serve().await;
    let (a, b) = tokio::join!(Browser::open(&base), Browser::open(&base));
    a.go("/").await;
    b.go("/").await;

    // Each person has their own profile: a cookie set in one browser is not in the other.
    a.client
        .execute("document.cookie = 'who=a; path=/'", vec![])
        .await
        .expect("set a cookie");
    assert_eq!(a.cookie("who").await.as_deref(), Some("a"));
    assert_eq!(b.cookie("who").await, None);

    a.fill("Note", "called twice").await;
    a.choose("Urgency", "urgent").await;
    a.press("Show it").await;
    a.wait_for_text("#out", "called twice / urgent").await;
    assert_eq!(b.css("#out").await.text().await.expect("text"), "");

    a.assert_accessible().await;
    let shot = std::env::temp_dir().join(format!("ladder-harness-{}.png", std::process::id()));
    a.screenshot(&shot).await;
    let png = std::fs::read(&shot).expect("read the screenshot");
    let _ = std::fs::remove_file(&shot);
    assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");

    // The check can fail: an unlabelled field and an image without text are serious.
    b.go("/bad").await;
    let found = serious(&b.axe().await).join("\n");
    assert!(found.contains("- label (critical)"), "{found}");
    assert!(found.contains("- image-alt (critical)"), "{found}");

    a.close().await;
    b.close().await;
}
