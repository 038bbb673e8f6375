//! The stylesheet and the script, compiled into the binary: no CDN, no build chain. Pages
//! link them with `?v=<hash of their content>`, so a browser may keep them for a year and
//! still never runs an old script against a new page.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::AppState;

const CSS: &str = include_str!("../../assets/ladder.css");
const JS: &str = include_str!("../../assets/ladder.js");

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let hash = Sha256::new()
        .chain_update(CSS.as_bytes())
        .chain_update(JS.as_bytes())
        .finalize();
    hex::encode(&hash[..6])
});

/// The assets' version, for their URLs.
pub fn version() -> &'static str {
    VERSION.as_str()
}

const CACHE: &str = "public, max-age=31536000, immutable";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/ladder.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, CACHE),
                    ],
                    CSS,
                )
                    .into_response()
            }),
        )
        .route(
            "/assets/ladder.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, CACHE),
                    ],
                    JS,
                )
                    .into_response()
            }),
        )
}
