//! `veloera.admin.v1.AdminService`: the administration surface for the operator's own backends. Each method
//! authenticates the caller's personal access token, asks `crate::access` whether the caller may do it, and then
//! calls the same cores and database functions the admin REST handlers call. Generated types stay in this module.
//!
//! Layout: `caller.rs` (credentials from metadata), `errors.rs` (error details), `users.rs`, `tokens.rs`,
//! `redemptions.rs`, `usage.rs` (log queries and totals), `watch.rs` (the resumable usage stream), `channels.rs`,
//! `size_limit.rs` (the status of an oversized request).

mod caller;
mod channels;
mod errors;
mod redemptions;
mod size_limit;
mod tokens;
mod usage;
mod users;
mod watch;

use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use veloera_proto::admin_v1::admin_service_server::{AdminService, AdminServiceServer};
use veloera_proto::admin_v1::*;

use crate::access::Need;
use crate::state::AppState;
pub use caller::RefuseInternalSecret;
pub use size_limit::SizeLimited;

/// The admin service over the shared state.
pub struct AdminGrpc {
    state: AppState,
}

/// The largest request message the admin service decodes; larger ones are RESOURCE_EXHAUSTED.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The service as the server mounts it: the internal secret refused, request size bounded (RESOURCE_EXHAUSTED).
pub fn service(
    state: AppState,
    internal_secret: &str,
) -> SizeLimited<InterceptedService<AdminServiceServer<AdminGrpc>, RefuseInternalSecret>> {
    let server = AdminServiceServer::new(AdminGrpc { state }).max_decoding_message_size(MAX_REQUEST_BYTES);
    SizeLimited::new(InterceptedService::new(server, RefuseInternalSecret::new(internal_secret)))
}

type Answer<T> = Result<Response<T>, Status>;

impl AdminGrpc {
    /// The authenticated caller of `request`, refused unless it meets `need`.
    async fn caller<T>(&self, request: &Request<T>, need: Need) -> Result<crate::db::users::UserRow, Status> {
        caller::authenticate(&self.state, request.metadata(), need).await
    }
}

#[tonic::async_trait]
impl AdminService for AdminGrpc {
    async fn create_user(&self, request: Request<CreateUserRequest>) -> Answer<User> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::create(&self.state, &actor, request.into_inner()).await?))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Answer<User> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::get(&self.state, &actor, request.into_inner().id).await?))
    }

    async fn find_user(&self, request: Request<FindUserRequest>) -> Answer<User> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::find(&self.state, &actor, request.into_inner()).await?))
    }

    async fn list_users(&self, request: Request<ListUsersRequest>) -> Answer<ListUsersResponse> {
        self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::list(&self.state, request.into_inner()).await?))
    }

    async fn set_user_group(&self, request: Request<SetUserGroupRequest>) -> Answer<User> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::set_group(&self.state, &actor, request.into_inner()).await?))
    }

    async fn adjust_user_quota(&self, request: Request<AdjustUserQuotaRequest>) -> Answer<User> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::adjust_quota(&self.state, &actor, request.into_inner()).await?))
    }

    async fn set_user_status(&self, request: Request<SetUserStatusRequest>) -> Answer<User> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(users::set_status(&self.state, &actor, request.into_inner()).await?))
    }

    async fn create_token(&self, request: Request<CreateTokenRequest>) -> Answer<CreateTokenResponse> {
        let actor = self.caller(&request, Need::Active).await?;
        Ok(Response::new(tokens::create(&self.state, &actor, request.into_inner()).await?))
    }

    async fn list_tokens(&self, request: Request<ListTokensRequest>) -> Answer<ListTokensResponse> {
        let actor = self.caller(&request, Need::Active).await?;
        Ok(Response::new(tokens::list(&self.state, &actor, request.into_inner()).await?))
    }

    async fn update_token_limits(&self, request: Request<UpdateTokenLimitsRequest>) -> Answer<Token> {
        let actor = self.caller(&request, Need::Active).await?;
        Ok(Response::new(tokens::update_limits(&self.state, &actor, request.into_inner()).await?))
    }

    async fn revoke_token(&self, request: Request<RevokeTokenRequest>) -> Answer<RevokeTokenResponse> {
        let actor = self.caller(&request, Need::Active).await?;
        tokens::revoke(&self.state, &actor, request.into_inner().id).await?;
        Ok(Response::new(RevokeTokenResponse {}))
    }

    async fn create_redemptions(
        &self,
        request: Request<CreateRedemptionsRequest>,
    ) -> Answer<CreateRedemptionsResponse> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(redemptions::create(&self.state, &actor, request.into_inner()).await?))
    }

    async fn disable_redemption(&self, request: Request<DisableRedemptionRequest>) -> Answer<Redemption> {
        self.caller(&request, Need::Admin).await?;
        Ok(Response::new(redemptions::disable(&self.state, request.into_inner().id).await?))
    }

    async fn get_redemption(&self, request: Request<GetRedemptionRequest>) -> Answer<Redemption> {
        self.caller(&request, Need::Admin).await?;
        Ok(Response::new(redemptions::get(&self.state, request.into_inner().id).await?))
    }

    async fn query_logs(&self, request: Request<QueryLogsRequest>) -> Answer<QueryLogsResponse> {
        let actor = self.caller(&request, Need::Active).await?;
        Ok(Response::new(usage::query(&self.state, &actor, request.into_inner()).await?))
    }

    async fn aggregate_usage(&self, request: Request<AggregateUsageRequest>) -> Answer<AggregateUsageResponse> {
        let actor = self.caller(&request, Need::Active).await?;
        Ok(Response::new(usage::aggregate(&self.state, &actor, request.into_inner()).await?))
    }

    type WatchUsageStream = watch::UsageStream;

    async fn watch_usage(&self, request: Request<WatchUsageRequest>) -> Answer<Self::WatchUsageStream> {
        let actor = self.caller(&request, Need::Active).await?;
        let timeout = watch::grpc_timeout(request.metadata());
        Ok(Response::new(watch::follow(&self.state, &actor, request.into_inner(), timeout).await?))
    }

    async fn list_channels(&self, request: Request<ListChannelsRequest>) -> Answer<ListChannelsResponse> {
        self.caller(&request, Need::Admin).await?;
        Ok(Response::new(channels::list(&self.state, request.into_inner()).await?))
    }

    async fn set_channel_status(&self, request: Request<SetChannelStatusRequest>) -> Answer<ChannelHealth> {
        self.caller(&request, Need::Admin).await?;
        Ok(Response::new(channels::set_status(&self.state, request.into_inner()).await?))
    }

    async fn set_channel_key_status(&self, request: Request<SetChannelKeyStatusRequest>) -> Answer<ChannelHealth> {
        let actor = self.caller(&request, Need::Admin).await?;
        Ok(Response::new(channels::set_key_status(&self.state, &actor, request.into_inner()).await?))
    }
}

/// A `PageRequest` as an offset and a size: page from 1 (0 means 1), size 1 to 100 (0 means 10).
fn window(page: Option<PageRequest>) -> Result<(i64, i64), Status> {
    let page = page.unwrap_or_default();
    if page.page < 0 {
        return Err(errors::invalid("page.page", "page counts from 1 (0 means 1)"));
    }
    let size = if page.page_size == 0 { crate::admin::paging::DEFAULT_SIZE } else { page.page_size };
    if !(1..=crate::admin::paging::MAX_SIZE).contains(&size) {
        return Err(errors::invalid("page.page_size", "page_size must be 1 to 100 (0 means 10)"));
    }
    let number = page.page.max(1);
    Ok(((number - 1).saturating_mul(size), size))
}
