//! A webhook receiver on 127.0.0.1:0 for the notice tests: answers with scripted statuses (200 once the script
//! runs out), records every delivery, and checks signatures with its own HMAC-SHA256, as a user's receiver
//! would.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Answer {
    Status(u16),
    /// A redirect (307 keeps the POST) to this location.
    Redirect(String),
}

/// One delivery as it arrived.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub body: Value,
}

impl Delivery {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }

    /// Whether `X-Webhook-Signature` is the HMAC-SHA256 (hex) of the raw body under `secret`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let Ok(signature) = hex::decode(self.header("x-webhook-signature")) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.raw);
        mac.verify_slice(&signature).is_ok()
    }
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// Every delivery, in a watch so tests wake when one arrives.
    received: Arc<tokio::sync::watch::Sender<Vec<Delivery>>>,
}

/// How long a test waits for a delivery (notices are retried with a back-off) before it fails.
const DELIVERY_BOUND: Duration = Duration::from_secs(30);

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Shared { script: Arc::default(), received: Arc::new(tokio::sync::watch::Sender::new(Vec::new())) };
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, shared }
    }

    pub fn script(&self, answer: Answer) {
        self.shared.script.lock().unwrap().push_back(answer);
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.shared.received.borrow().clone()
    }

    /// Waits (bounded) until `n` deliveries arrived, and returns them in order.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        self.wait_until(&format!("{n} deliveries"), |got| got.len() >= n).await
    }

    /// Waits (bounded), waking at each delivery, until `done` holds for all received so far; returns them.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let mut arrived = self.shared.received.subscribe();
        let waited =
            tokio::time::timeout(DELIVERY_BOUND, arrived.wait_for(|got| done(got))).await.is_ok_and(|r| r.is_ok());
        assert!(waited, "no {what} after {DELIVERY_BOUND:?}: {:?}", self.received());
        self.received()
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, raw: Bytes) -> Response {
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    shared.received.send_modify(|got| got.push(Delivery { headers, raw, body }));
    match shared.script.lock().unwrap().pop_front() {
        None => StatusCode::OK.into_response(),
        Some(Answer::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
        Some(Answer::Redirect(to)) => (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response(),
    }
}
