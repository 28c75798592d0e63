//! The relay's link to control-svc: the gRPC client, the caches fed by `WatchConfig`, and the usage outbox.

pub mod cache;
pub mod jobs;
pub mod leases;
pub mod outbox;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use veloera_proto::INTERNAL_SECRET_HEADER;
use veloera_proto::rules::{CallerAsk, check_caller_with};
use veloera_proto::v1::authorize_response::Outcome;
use veloera_proto::v1::control_client::ControlClient;
use veloera_proto::v1::{AuthorizeRequest, AuthorizeSessionRequest, DenialReason, EndpointKind, Pricing};

use crate::error::RelayError;
use cache::{AuthCache, CallerEntry, KeyState, Route, RouteEntry};

/// Adds the internal secret to every call.
#[derive(Clone)]
pub struct AddSecret(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for AddSecret {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(INTERNAL_SECRET_HEADER, self.0.clone());
        Ok(request)
    }
}

pub type Client = ControlClient<InterceptedService<Channel, AddSecret>>;

/// Builds a lazily connecting client (control may start after the relay). An `https://` URL speaks TLS,
/// trusting `ca` (PEM) when given, else the public web roots.
pub fn client(url: &str, secret: &str, ca: Option<&[u8]>) -> Result<Client, String> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("CONTROL_GRPC_URL {url:?}: {e}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(3))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if url.starts_with("https://") {
        let tls = match ca {
            Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
            None => ClientTlsConfig::new().with_webpki_roots(),
        };
        endpoint = endpoint.tls_config(tls).map_err(|e| format!("CONTROL_GRPC_URL {url:?}: TLS: {e}"))?;
    } else if ca.is_some() {
        return Err(format!("CONTROL_GRPC_CA is set but CONTROL_GRPC_URL {url:?} is not https://"));
    }
    let secret =
        MetadataValue::try_from(secret).map_err(|_| "the internal secret must be printable ASCII".to_string())?;
    Ok(ControlClient::with_interceptor(endpoint.connect_lazy(), AddSecret(secret)))
}

/// The outcome of authorizing one request.
pub struct Authorized {
    pub caller: Arc<CallerEntry>,
    /// Present when a model was asked for.
    pub route: Option<Arc<RouteEntry>>,
}

impl Authorized {
    pub fn candidates(&self) -> &[crate::channel::Channel] {
        self.route.as_ref().map(|r| r.candidates.as_slice()).unwrap_or_default()
    }

    pub fn pricing(&self) -> Option<&Pricing> {
        self.route.as_ref().map(|r| &r.pricing)
    }

    pub fn max_retries(&self) -> u32 {
        self.route.as_ref().map_or(0, |r| r.max_retries)
    }
}

/// What one request asks for.
pub struct Ask<'a> {
    pub digest: [u8; 32],
    /// The playground's session, authorized by `AuthorizeSession` instead of a key.
    pub session: Option<&'a crate::auth::SessionCredential>,
    pub model: &'a str,
    pub client_ip: &'a str,
    pub endpoint: EndpointKind,
    pub pinned_channel: Option<i64>,
    /// The client request this is for, passed to control in the call's metadata so both logs name it.
    pub request_id: Option<&'a str>,
}

pub struct ControlLink {
    client: Client,
    pub cache: AuthCache,
    pub leases: leases::Leases,
    /// Blocked words, as control last sent them.
    pub guard: crate::guard::Guard,
    /// Whether prompts and answers are recorded, as control last sent it.
    pub content: crate::content::ContentLog,
    pub metrics: crate::metrics::Metrics,
}

impl ControlLink {
    pub fn new(client: Client, cache: AuthCache, relay_id: String, metrics: crate::metrics::Metrics) -> Self {
        ControlLink {
            metrics,
            leases: leases::Leases::new(client.clone(), relay_id),
            client,
            cache,
            guard: crate::guard::Guard::default(),
            content: crate::content::ContentLog::default(),
        }
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Warm: answered from the caches with no call. Cold: exactly one `Authorize` call.
    pub async fn authorize(&self, ask: &Ask<'_>) -> Result<Authorized, RelayError> {
        match self.cache.key(&ask.digest) {
            Some(KeyState::Denied { reason, message, .. }) => {
                self.metrics.auth_cache(true);
                return Err(RelayError::Denied { reason, message });
            }
            Some(KeyState::Known(entry)) => {
                check_locally(&entry, ask)?;
                if ask.model.is_empty() {
                    self.metrics.auth_cache(true);
                    return Ok(Authorized { caller: entry, route: None });
                }
                let accept_unset = entry.caller.accept_unset_model_ratio_model;
                if let Some(route) = self.cache.route(&entry.caller.group, ask.model, ask.pinned_channel, accept_unset)
                {
                    self.metrics.auth_cache(true);
                    return Ok(Authorized { caller: entry, route: Some(route) });
                }
            }
            None => {}
        }
        self.metrics.auth_cache(false);
        self.authorize_cold(ask).await
    }

    async fn authorize_cold(&self, ask: &Ask<'_>) -> Result<Authorized, RelayError> {
        let generation = self.cache.generation();
        let mut client = self.client.clone();
        let answer = match ask.session {
            None => {
                let request = AuthorizeRequest {
                    key_digest: ask.digest.to_vec(),
                    model: ask.model.to_string(),
                    client_ip: ask.client_ip.to_string(),
                    endpoint: ask.endpoint as i32,
                    pinned_channel_id: ask.pinned_channel,
                };
                client.authorize(with_request_id(request, ask.request_id)).await
            }
            Some(session) => {
                let request = AuthorizeSessionRequest {
                    cookie: session.cookie.clone(),
                    authorization: session.authorization.clone(),
                    claimed_user: session.claimed_user.clone(),
                    group: session.group.clone(),
                    model: ask.model.to_string(),
                    client_ip: ask.client_ip.to_string(),
                    endpoint: ask.endpoint as i32,
                };
                client.authorize_session(with_request_id(request, ask.request_id)).await
            }
        }
        .map_err(|s| RelayError::ControlUnavailable(format!("{}: {}", s.code(), s.message())))?
        .into_inner();
        match answer.outcome {
            Some(Outcome::Grant(grant)) => {
                let caller =
                    grant.caller.ok_or_else(|| RelayError::ControlUnavailable("grant without caller".into()))?;
                let route = match (ask.model.is_empty(), grant.pricing) {
                    (false, Some(pricing)) => Some(Route {
                        model: ask.model.to_string(),
                        pinned: ask.pinned_channel,
                        candidates: grant.candidates,
                        pricing,
                        max_retries: grant.retry.map_or(0, |r| r.max_retries),
                    }),
                    _ => None,
                };
                let (entry, route) = self.cache.store_grant(generation, ask.digest, caller, route);
                check_locally(&entry, ask)?;
                Ok(Authorized { caller: entry, route })
            }
            Some(Outcome::Denial(denial)) => {
                let reason = DenialReason::try_from(denial.reason).unwrap_or(DenialReason::Unspecified);
                if is_token_level(reason) {
                    self.cache.store_denial(generation, ask.digest, reason, denial.message.clone());
                }
                Err(RelayError::Denied { reason, message: denial.message })
            }
            None => Err(RelayError::ControlUnavailable("empty authorize answer".into())),
        }
    }
}

/// Denials that depend only on the key (so they can be cached per digest).
fn is_token_level(reason: DenialReason) -> bool {
    matches!(
        reason,
        DenialReason::UnknownToken
            | DenialReason::TokenDisabled
            | DenialReason::TokenExpired
            | DenialReason::TokenExhausted
            | DenialReason::UserDisabled
            | DenialReason::UserExhausted
    )
}

/// The per-request rules that need no call (`veloera_proto::rules::check_caller`, shared with control), against
/// the cached caller (its IP allow-list parsed when it was cached) with this relay's local spending counted.
fn check_locally(entry: &CallerEntry, ask: &Ask<'_>) -> Result<(), RelayError> {
    let spent = entry.spent.load(std::sync::atomic::Ordering::Relaxed);
    let limits = CallerAsk {
        model: ask.model,
        client_ip: ask.client_ip,
        pinned_channel: ask.pinned_channel,
        // The clock is read only for a token that can expire (the warm path's common case reads none).
        now: if entry.caller.expires_at == -1 { 0 } else { now_secs() },
        spent,
    };
    check_caller_with(&entry.caller, &entry.ips, &limits)
        .map_err(|(reason, message)| RelayError::Denied { reason, message })
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `message` as a gRPC request naming the client request it is asked for, so control's log lines carry its id.
pub(crate) fn with_request_id<T>(message: T, request_id: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(id) = request_id.and_then(|id| MetadataValue::try_from(id).ok()) {
        request.metadata_mut().insert(veloera_proto::REQUEST_ID_HEADER, id);
    }
    request
}

/// The PEM file `CONTROL_GRPC_CA` names, read once at start so a bad file stops the relay with the file named.
pub fn read_ca(path: Option<&std::path::Path>) -> Result<Option<Vec<u8>>, String> {
    let Some(path) = path else { return Ok(None) };
    let pem = std::fs::read(path).map_err(|e| format!("CONTROL_GRPC_CA: cannot read {}: {e}", path.display()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("CONTROL_GRPC_CA: {} holds no PEM certificate", path.display()));
    }
    Ok(Some(pem))
}
