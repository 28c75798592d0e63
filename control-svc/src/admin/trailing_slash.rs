//! Gin's trailing-slash leniency for `/api`: Veloera's router redirects `/x/5/` to `/x/5` (and `/x` to `/x/`)
//! whenever only the other form is registered, and Veloera's UI and scripts rely on it
//! (`DELETE /api/channel/{id}/`, `GET /api/log/self/?…`). Axum matches paths exactly, so a request that
//! matches no route is routed once more with its trailing slash toggled, instead of answering 404. Nothing is
//! redirected: the client gets the answer of the route it meant, whatever its method and body.

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::error::ControlError;

/// `path` with one trailing slash removed, or one added; `None` for the root.
fn toggled(path: &str) -> Option<String> {
    match path.strip_suffix('/') {
        Some("") => None,
        Some(trimmed) => Some(trimmed.to_string()),
        None => Some(format!("{path}/")),
    }
}

/// The fallback of the `/api` router: routes `req` through `routes` (the same routes, whose own fallback is
/// "no such API route") under the other form of its path.
pub async fn retry(routes: Router, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(path) = toggled(parts.uri.path()) else {
        return ControlError::NotFound("no such API route".into()).into_response();
    };
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut uri = parts.uri.into_parts();
    uri.path_and_query = match path_and_query.parse() {
        Ok(pq) => Some(pq),
        Err(_) => return ControlError::NotFound("no such API route".into()).into_response(),
    };
    parts.uri = match Uri::from_parts(uri) {
        Ok(uri) => uri,
        Err(_) => return ControlError::NotFound("no such API route".into()).into_response(),
    };
    match routes.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::toggled;

    #[test]
    fn one_trailing_slash_is_removed_or_added() {
        assert_eq!(toggled("/channel/5/").as_deref(), Some("/channel/5"));
        assert_eq!(toggled("/log/self").as_deref(), Some("/log/self/"));
        assert_eq!(toggled("/channel//").as_deref(), Some("/channel/"));
        assert_eq!(toggled("/"), None);
    }
}
