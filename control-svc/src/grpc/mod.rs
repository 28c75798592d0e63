//! The gRPC service relays call: `Authorize` (and `AuthorizeSession` for the playground), `ReportUsage`,
//! `WatchConfig`, `WatchJobs`/`ReportJob`, `Lease`/`ReturnLease`, and (in `admin/`) the admin service for the
//! operator's own backends. Generated types stay in this module.

pub mod admin;
mod authorize;
pub mod jobs;
mod leases;
pub mod relay_settings;
mod session;
pub mod tls;
mod usage;
mod watch;

use std::pin::Pin;

use futures::Stream;
use subtle::ConstantTimeEq;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;
use veloera_proto::v1::control_server::{Control, ControlServer};
use veloera_proto::v1::{
    AuthorizeRequest, AuthorizeResponse, AuthorizeSessionRequest, ChannelJob, ConfigEvent, JobAck, JobResult,
    LeaseReply, LeaseRequest, ReturnLeaseReply, ReturnLeaseRequest, UsageAck, UsageBatch, WatchConfigRequest,
    WatchJobsRequest,
};
use veloera_proto::{INTERNAL_SECRET_HEADER, REQUEST_ID_HEADER};

use crate::state::AppState;

/// The gRPC `Control` service over the shared state.
pub struct ControlGrpc {
    state: AppState,
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Control for ControlGrpc {
    async fn authorize(&self, request: Request<AuthorizeRequest>) -> Result<Response<AuthorizeResponse>, Status> {
        let span = span_of("authorize", &request);
        let answer = authorize::decide(&self.state, request.into_inner()).instrument(span).await?;
        self.state.metrics().authorized(authorize::denial_of(&answer));
        Ok(Response::new(answer))
    }

    type ReportUsageStream = BoxStream<UsageAck>;

    async fn report_usage(
        &self,
        request: Request<Streaming<UsageBatch>>,
    ) -> Result<Response<Self::ReportUsageStream>, Status> {
        Ok(Response::new(usage::acknowledge(self.state.clone(), request.into_inner())))
    }

    type WatchConfigStream = BoxStream<ConfigEvent>;

    async fn watch_config(
        &self,
        request: Request<WatchConfigRequest>,
    ) -> Result<Response<Self::WatchConfigStream>, Status> {
        tracing::info!(relay = %request.get_ref().relay_id, "relay subscribed to config changes");
        Ok(Response::new(watch::events(&self.state)))
    }

    type WatchJobsStream = BoxStream<ChannelJob>;

    async fn watch_jobs(&self, request: Request<WatchJobsRequest>) -> Result<Response<Self::WatchJobsStream>, Status> {
        tracing::info!(relay = %request.get_ref().relay_id, "relay subscribed to channel jobs");
        Ok(Response::new(jobs::stream(&self.state)))
    }

    async fn report_job(&self, request: Request<JobResult>) -> Result<Response<JobAck>, Status> {
        self.state.jobs().complete(request.into_inner());
        Ok(Response::new(JobAck {}))
    }

    async fn lease(&self, request: Request<LeaseRequest>) -> Result<Response<LeaseReply>, Status> {
        let span = span_of("lease", &request);
        Ok(Response::new(leases::grant(&self.state, request.into_inner()).instrument(span).await?))
    }

    async fn return_lease(&self, request: Request<ReturnLeaseRequest>) -> Result<Response<ReturnLeaseReply>, Status> {
        Ok(Response::new(leases::give_back(&self.state, request.into_inner()).await?))
    }

    async fn authorize_session(
        &self,
        request: Request<AuthorizeSessionRequest>,
    ) -> Result<Response<AuthorizeResponse>, Status> {
        let span = span_of("authorize_session", &request);
        Ok(Response::new(session::decide(&self.state, request.into_inner()).instrument(span).await?))
    }
}

/// The span of a call a relay makes for one client request: the relay names that request in the metadata, so
/// this call's log lines carry its id (escaped: it is only as trustworthy as the relay).
fn span_of<T>(call: &'static str, request: &Request<T>) -> tracing::Span {
    let request_id = request.metadata().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    tracing::info_span!("relay_call", call, request_id = ?request_id)
}

/// Rejects any call without the internal secret in its metadata.
#[derive(Clone)]
pub struct RequireSecret {
    secret: std::sync::Arc<str>,
}

impl tonic::service::Interceptor for RequireSecret {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let given = request.metadata().get(INTERNAL_SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if bool::from(given.ct_eq(self.secret.as_bytes())) {
            Ok(request)
        } else {
            Err(Status::unauthenticated("missing or wrong internal secret"))
        }
    }
}

/// The service as the server mounts it: secret-checked.
pub fn service(state: AppState, secret: &str) -> InterceptedService<ControlServer<ControlGrpc>, RequireSecret> {
    ControlServer::with_interceptor(ControlGrpc { state }, RequireSecret { secret: secret.into() })
}

/// Server reflection (v1 and v1alpha, which older `grpcurl` and `grpcio-reflection` clients ask) for the admin
/// service and `grpc.health.v1`. The relay contract is internal and stays out of it.
pub fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    crate::error::ControlError,
> {
    let failed = |e: tonic_reflection::server::Error| crate::error::ControlError::Internal(format!("reflection: {e}"));
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(veloera_proto::admin_v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(failed)?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(veloera_proto::admin_v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(failed)?;
    Ok((v1, v1alpha))
}
