//! How control serves the built admin UI through the front door: the UI's own routes get `index.html` (so a
//! reload of `/channel/12/edit` works) and are never cached; content-hashed bundle files are cached for a year;
//! everything is compressed when the browser asks.

use std::time::Duration;

use crate::harness::Gateway;

const INDEX: &str = "<!doctype html><html><head><title>ui</title><link rel=\"stylesheet\" href=\"/style-00000000000000aa.css\"></head><body><div id=\"app\"></div></body></html>";
const HASHED_JS: &str = "admin-0123456789abcdef.js";

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test timed out");
}

async fn gateway_with_ui() -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
    // Big and repetitive enough that compressing it is worth it.
    std::fs::write(dir.path().join(HASHED_JS), "export function init() { return 42; }\n".repeat(200)).unwrap();
    let ui = dir.path().to_path_buf();
    let gw = Gateway::start_bare_with(move |c| c.ui_dir = ui).await;
    (gw, dir)
}

#[tokio::test]
async fn ui_routes_get_index_html_revalidated_every_time() {
    bounded(async {
        let (gw, _dir) = gateway_with_ui().await;
        for path in ["/", "/channel/12/edit", "/token", "/index.html"] {
            let resp = gw.http.get(gw.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            assert_eq!(resp.headers()["cache-control"], "no-cache", "{path}");
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
            assert_eq!(resp.text().await.unwrap(), INDEX, "{path}");
        }
        // The API keeps its own answers: an unknown API route is not the UI.
        let resp = gw.http.get(gw.url("/api/no-such-route")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn hashed_bundle_files_are_cached_for_a_year_and_compressed() {
    bounded(async {
        let (gw, _dir) = gateway_with_ui().await;
        let url = gw.url(&format!("/{HASHED_JS}"));
        let plain = gw.http.get(&url).send().await.unwrap();
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert!(plain.headers().get("content-encoding").is_none(), "nothing asked for compression");
        let plain_len = plain.bytes().await.unwrap().len();

        for encoding in ["br", "gzip"] {
            let resp = gw.http.get(&url).header("accept-encoding", encoding).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-encoding"], encoding);
            assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
            let body = resp.bytes().await.unwrap();
            assert!(body.len() * 5 < plain_len, "{encoding}: {} of {plain_len} bytes", body.len());
        }
        // A hashed name that does not exist is the UI's fallback page, which must not be cached for a year.
        let missing = gw.http.get(gw.url("/admin-ffffffffffffffff.js")).send().await.unwrap();
        assert_eq!(missing.headers()["cache-control"], "no-cache");
    })
    .await;
}
