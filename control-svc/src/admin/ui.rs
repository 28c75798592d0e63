//! The admin UI's files: every path outside `/api` that is not a file gets `index.html`, so the UI's own
//! routes (`/channel/12/edit`) survive a reload. Content-hashed files (`admin-<16 hex>.js`, written by
//! `cargo xtask ui`) are cached for a year; everything else, `index.html` above all, is revalidated every
//! time so a new build is picked up at once. Responses are compressed (brotli or gzip) when the browser asks.

use std::path::Path;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, get_service};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeader;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The UI at every non-API path, or a 503 that says how to build it.
pub fn service(ui_dir: &Path) -> MethodRouter {
    let index = ui_dir.join("index.html");
    if !index.is_file() {
        let dir = ui_dir.display().to_string();
        return get(move || async move {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The admin UI is not built (no index.html in {dir}). Build it with `cargo xtask ui`.\n"),
            )
                .into_response()
        });
    }
    // The fallback marks its own answer, so a missing hashed name (a stale page asking for an old build) gets
    // index.html revalidated, never cached for a year.
    let fallback = SetResponseHeader::overriding(
        ServeFile::new(index),
        header::CACHE_CONTROL,
        HeaderValue::from_static(REVALIDATE),
    );
    get_service(ServeDir::new(ui_dir).fallback(fallback))
        .layer::<_, std::convert::Infallible>(axum::middleware::from_fn(cache_control))
        .layer::<_, std::convert::Infallible>(CompressionLayer::new())
}

async fn cache_control(request: Request, next: Next) -> Response {
    let immutable = is_hashed(request.uri().path());
    let mut response = next.run(request).await;
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let policy = if immutable && response.status().is_success() { IMMUTABLE } else { REVALIDATE };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

/// Whether the last path segment is `<name>-<16 hex digits>.<ext>`, the names `cargo xtask ui` writes.
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or("");
    let Some((stem, _ext)) = file.rsplit_once('.') else { return false };
    let Some((_, hash)) = stem.rsplit_once('-') else { return false };
    hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_content_hashed_names_count_as_immutable() {
        assert!(is_hashed("/admin-0123456789abcdef.js"));
        assert!(is_hashed("/admin_bg-0123456789abcdef.wasm"));
        assert!(!is_hashed("/index.html"));
        assert!(!is_hashed("/channel/12/edit"));
        assert!(!is_hashed("/style.css"));
        assert!(!is_hashed("/admin-0123456789abcdeg.js"));
    }
}
