//! The gRPC admin service (`veloera.admin.v1`) through a real tonic client on control's gRPC listener: every
//! method, the permission matrix, paging, the usage stream (fed by requests made through the relay, resumed from a
//! cursor), error codes with their details, health and reflection.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;
use veloera_proto::admin_v1::admin_service_client::AdminServiceClient;
use veloera_proto::admin_v1::*;

use crate::harness::{Gateway, chat_body};

/// A client of the admin service on control's gRPC listener.
async fn client(gw: &Gateway) -> AdminServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", gw.control.grpc_addr)).unwrap().connect().await.unwrap();
    AdminServiceClient::new(channel)
}

/// `message` with `token` as its bearer credential (none when empty).
fn with<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if !token.is_empty() {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// A personal access token of the session `cookie`.
async fn personal_token(gw: &Gateway, cookie: &str) -> String {
    let (status, body) = gw.api_as(Some(cookie), "GET", "/api/user/token", None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_str().unwrap().to_string()
}

/// The id of the user called `name`.
async fn user_id(gw: &Gateway, name: &str) -> i64 {
    control_svc::db::users::find_by_username(gw.control.state.db(), name).await.unwrap().unwrap().id
}

/// Callers of every role: tokens of root, an administrator and an ordinary user, and their ids.
struct Callers {
    root: String,
    admin: String,
    admin_id: i64,
    user: String,
    user_id: i64,
    user_cookie: String,
}

async fn callers(gw: &Gateway) -> Callers {
    let root = personal_token(gw, &gw.cookie).await;
    let admin_cookie = gw.create_user("opsadmin", "ops-password-1").await;
    let admin_id = user_id(gw, "opsadmin").await;
    let (status, body) = gw.api("POST", "/api/user/manage", Some(json!({"id": admin_id, "action": "promote"}))).await;
    assert_eq!(status, 200, "{body}");
    let admin = personal_token(gw, &admin_cookie).await;
    let user_cookie = gw.create_user("alice", "alice-password").await;
    let user = personal_token(gw, &user_cookie).await;
    Callers { root, admin, admin_id, user, user_id: user_id(gw, "alice").await, user_cookie }
}

/// The field the status's `google.rpc.BadRequest` detail names.
fn bad_field(status: &Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad = details.bad_request().expect("INVALID_ARGUMENT carries a BadRequest detail");
    bad.field_violations.first().map(|v| v.field.clone()).unwrap_or_default()
}

#[tokio::test]
async fn every_role_is_admitted_or_refused_as_the_rest_api_would() {
    let gw = Gateway::start().await;
    let who = callers(&gw).await;
    let mut admin = client(&gw).await;
    let page = || Some(PageRequest { page: 1, page_size: 10 });
    // Administrator-only methods: anonymous is unauthenticated, a user is denied, admin and root are served.
    for (token, code) in [
        ("", Code::Unauthenticated),
        ("not-a-token", Code::Unauthenticated),
        (who.user.as_str(), Code::PermissionDenied),
    ] {
        let got = admin.list_users(with(token, ListUsersRequest { page: page() })).await.unwrap_err();
        assert_eq!(got.code(), code, "{got:?}");
        let got = admin.list_channels(with(token, ListChannelsRequest { page: page() })).await.unwrap_err();
        assert_eq!(got.code(), code, "{got:?}");
        let got = admin.get_redemption(with(token, GetRedemptionRequest { id: 1 })).await.unwrap_err();
        assert_eq!(got.code(), code, "{got:?}");
    }
    for token in [&who.admin, &who.root] {
        admin.list_users(with(token, ListUsersRequest { page: page() })).await.unwrap();
        admin.list_channels(with(token, ListChannelsRequest { page: page() })).await.unwrap();
    }
    // An administrator manages users of a lower role only; root manages administrators.
    let got = admin.get_user(with(&who.admin, GetUserRequest { id: who.admin_id })).await.unwrap_err();
    assert_eq!(got.code(), Code::PermissionDenied, "{got:?}");
    admin.get_user(with(&who.admin, GetUserRequest { id: who.user_id })).await.unwrap();
    admin.get_user(with(&who.root, GetUserRequest { id: who.admin_id })).await.unwrap();
    let promote = CreateUserRequest {
        username: "newadmin".into(),
        password: "new-admin-pass".into(),
        role: Role::Admin as i32,
        ..Default::default()
    };
    let got = admin.create_user(with(&who.admin, promote.clone())).await.unwrap_err();
    assert_eq!(got.code(), Code::PermissionDenied, "{got:?}");
    assert_eq!(admin.create_user(with(&who.root, promote)).await.unwrap().into_inner().role, 10);
    // A user manages its own tokens and reads its own logs, nobody else's.
    let mine = ListTokensRequest { user_id: who.user_id, page: page() };
    admin.list_tokens(with(&who.user, mine)).await.unwrap();
    let theirs = ListTokensRequest { user_id: who.admin_id, page: page() };
    let got = admin.list_tokens(with(&who.user, theirs)).await.unwrap_err();
    assert_eq!(got.code(), Code::PermissionDenied, "{got:?}");
    let filter = UsageFilter { user_id: who.admin_id, ..Default::default() };
    let got = admin.query_logs(with(&who.user, QueryLogsRequest { filter: Some(filter), page: page() })).await;
    assert_eq!(got.unwrap_err().code(), Code::PermissionDenied);
    let by_channel = AggregateUsageRequest { filter: None, group_by: GroupBy::Channel as i32 };
    let got = admin.aggregate_usage(with(&who.user, by_channel)).await.unwrap_err();
    assert_eq!(got.code(), Code::PermissionDenied, "{got:?}");
    let own = AggregateUsageRequest { filter: None, group_by: GroupBy::Model as i32 };
    admin.aggregate_usage(with(&who.user, own)).await.unwrap();
    // A disabled account's token stops working at once.
    admin.set_user_status(with(&who.admin, SetUserStatusRequest { id: who.user_id, enabled: false })).await.unwrap();
    let got = admin.list_tokens(with(&who.user, mine)).await.unwrap_err();
    assert_eq!(got.code(), Code::PermissionDenied, "{got:?}");
    let _ = who.user_cookie;
}

#[tokio::test]
async fn the_internal_secret_opens_only_the_relay_contract_and_a_personal_token_only_the_admin_service() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let mut admin = client(&gw).await;
    let mut by_header = Request::new(ListUsersRequest::default());
    by_header.metadata_mut().insert(veloera_proto::INTERNAL_SECRET_HEADER, gw.control.secret.parse().unwrap());
    by_header.metadata_mut().insert("authorization", format!("Bearer {root}").parse().unwrap());
    assert_eq!(admin.list_users(by_header).await.unwrap_err().code(), Code::Unauthenticated);
    let as_bearer = with(&gw.control.secret, ListUsersRequest::default());
    assert_eq!(admin.list_users(as_bearer).await.unwrap_err().code(), Code::Unauthenticated);

    let channel = Channel::from_shared(format!("http://{}", gw.control.grpc_addr)).unwrap().connect().await.unwrap();
    let mut relay_contract = veloera_proto::v1::control_client::ControlClient::new(channel);
    let ask = veloera_proto::v1::AuthorizeRequest::default();
    let got = relay_contract.authorize(with(&root, ask)).await.unwrap_err();
    assert_eq!(got.code(), Code::Unauthenticated, "{got:?}");
}

#[tokio::test]
async fn users_are_created_found_regrouped_credited_with_a_reason_and_disabled() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let mut admin = client(&gw).await;
    let create = CreateUserRequest {
        username: "billing_bob".into(),
        password: "bob-password".into(),
        display_name: "Bob".into(),
        role: Role::Unspecified as i32,
    };
    let bob = admin.create_user(with(&root, create.clone())).await.unwrap().into_inner();
    assert_eq!((bob.username.as_str(), bob.role, bob.status, bob.display_name.as_str()), ("billing_bob", 1, 1, "Bob"));
    assert_eq!(admin.create_user(with(&root, create)).await.unwrap_err().code(), Code::AlreadyExists);

    let got = admin.get_user(with(&root, GetUserRequest { id: bob.id })).await.unwrap().into_inner();
    assert_eq!(got.username, "billing_bob");
    let by_name = FindUserRequest { by: Some(find_user_request::By::Username("billing_bob".into())) };
    assert_eq!(admin.find_user(with(&root, by_name)).await.unwrap().into_inner().id, bob.id);
    let nobody = FindUserRequest { by: Some(find_user_request::By::Email("nobody@example.com".into())) };
    assert_eq!(admin.find_user(with(&root, nobody)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(admin.get_user(with(&root, GetUserRequest { id: 9999 })).await.unwrap_err().code(), Code::NotFound);

    let group = SetUserGroupRequest { id: bob.id, group: "vip".into() };
    assert_eq!(admin.set_user_group(with(&root, group)).await.unwrap().into_inner().group, "vip");

    let credit = AdjustUserQuotaRequest {
        id: bob.id,
        delta: 5000,
        reason: "invoice 2026-0042 paid".into(),
        balance: Balance::Unspecified as i32,
    };
    assert_eq!(admin.adjust_user_quota(with(&root, credit)).await.unwrap().into_inner().quota, 5000);
    let overdraw = AdjustUserQuotaRequest {
        id: bob.id,
        delta: -6000,
        reason: "refund".into(),
        balance: Balance::Unspecified as i32,
    };
    assert_eq!(admin.adjust_user_quota(with(&root, overdraw)).await.unwrap_err().code(), Code::FailedPrecondition);
    let manage = UsageFilter { user_id: bob.id, r#type: 3, ..Default::default() };
    let logs = admin
        .query_logs(with(&root, QueryLogsRequest { filter: Some(manage), page: None }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(logs.total, 1);
    assert!(logs.entries[0].content.contains("invoice 2026-0042 paid"), "{:?}", logs.entries[0]);
    assert_eq!(logs.entries[0].quota, 5000);

    let off = admin.set_user_status(with(&root, SetUserStatusRequest { id: bob.id, enabled: false })).await.unwrap();
    assert_eq!(off.into_inner().status, 2);
    let on = admin.set_user_status(with(&root, SetUserStatusRequest { id: bob.id, enabled: true })).await.unwrap();
    assert_eq!(on.into_inner().status, 1);
    let root_id = user_id(&gw, "root").await;
    let got = admin.set_user_status(with(&root, SetUserStatusRequest { id: root_id, enabled: false })).await;
    assert_eq!(got.unwrap_err().code(), Code::PermissionDenied);
}

#[tokio::test]
async fn user_pages_are_disjoint_and_the_total_counts_every_user() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let mut admin = client(&gw).await;
    for i in 0..5 {
        let create = CreateUserRequest {
            username: format!("pager{i}"),
            password: "pager-password".into(),
            ..Default::default()
        };
        admin.create_user(with(&root, create)).await.unwrap();
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let request = ListUsersRequest { page: Some(PageRequest { page, page_size: 2 }) };
        let answer = admin.list_users(with(&root, request)).await.unwrap().into_inner();
        assert_eq!(answer.total, 6, "five users and root");
        assert_eq!(answer.users.len(), 2);
        seen.extend(answer.users.into_iter().map(|u| u.id));
    }
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");
    let past = ListUsersRequest { page: Some(PageRequest { page: 4, page_size: 2 }) };
    assert!(admin.list_users(with(&root, past)).await.unwrap().into_inner().users.is_empty());
}

#[tokio::test]
async fn a_token_created_for_a_user_works_once_shown_is_listed_masked_limited_and_revoked() {
    let gw = Gateway::start().await;
    let who = callers(&gw).await;
    let mut admin = client(&gw).await;
    let create =
        CreateTokenRequest { user_id: who.user_id, name: "portal".into(), remain_quota: 100_000, ..Default::default() };
    let created = admin.create_token(with(&who.admin, create)).await.unwrap().into_inner();
    assert!(created.key.starts_with("sk-") && created.key.len() > 20, "{}", created.key);
    let token = created.token.unwrap();
    assert_eq!(token.user_id, who.user_id);
    assert_ne!(token.key, created.key, "the token itself carries the masked key");
    assert_eq!(gw.chat("/v1", &created.key, chat_body("gpt-4o-mini")).await.status(), 200);
    // Settled before the limits are set, so its charge does not land on the 42 read back below.
    gw.wait_settled(1).await;

    let list = ListTokensRequest { user_id: who.user_id, page: None };
    let listed = admin.list_tokens(with(&who.user, list)).await.unwrap().into_inner();
    assert_eq!(listed.total, 1);
    assert!(!listed.tokens[0].key.contains(&created.key[3..]), "listed keys are masked: {}", listed.tokens[0].key);

    let limits = UpdateTokenLimitsRequest {
        id: token.id,
        remain_quota: Some(42),
        model_limits: Some("gpt-4o".into()),
        ..Default::default()
    };
    let limited = admin.update_token_limits(with(&who.user, limits)).await.unwrap().into_inner();
    assert_eq!(
        (limited.remain_quota, limited.model_limits.as_str(), limited.model_limits_enabled),
        (42, "gpt-4o", true)
    );
    let negative = UpdateTokenLimitsRequest { id: token.id, remain_quota: Some(-1), ..Default::default() };
    assert_eq!(bad_field(&admin.update_token_limits(with(&who.user, negative)).await.unwrap_err()), "remain_quota");

    // The token's own request limit, as the REST API sets it.
    let rate = UpdateTokenLimitsRequest {
        id: token.id,
        rate_limit_enabled: Some(true),
        rate_limit_period: Some(60),
        rate_limit_count: Some(5),
        rate_limit_success: Some(2),
        ..Default::default()
    };
    let rated = admin.update_token_limits(with(&who.user, rate)).await.unwrap().into_inner();
    assert_eq!(
        (rated.rate_limit_enabled, rated.rate_limit_period, rated.rate_limit_count, rated.rate_limit_success),
        (true, 60, 5, 2)
    );
    let stored = admin.list_tokens(with(&who.user, list)).await.unwrap().into_inner().tokens.remove(0);
    assert_eq!((stored.rate_limit_enabled, stored.rate_limit_count), (true, 5), "the limit was stored");
    let zero_window = UpdateTokenLimitsRequest { id: token.id, rate_limit_period: Some(0), ..Default::default() };
    assert_eq!(
        bad_field(&admin.update_token_limits(with(&who.user, zero_window)).await.unwrap_err()),
        "rate_limit_period"
    );

    // Someone else's token is missing, not forbidden; the owner (or its administrator) revokes it.
    let stranger = gw.create_user("mallory", "mallory-password").await;
    let stranger = personal_token(&gw, &stranger).await;
    let got = admin.revoke_token(with(&stranger, RevokeTokenRequest { id: token.id })).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
    admin.revoke_token(with(&who.admin, RevokeTokenRequest { id: token.id })).await.unwrap();
    assert_eq!(admin.list_tokens(with(&who.user, list)).await.unwrap().into_inner().total, 0);
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &created.key, chat_body("gpt-4o-mini")).await.status(), 401);
}

#[tokio::test]
async fn redemption_codes_are_created_in_batches_disabled_and_looked_up_with_their_use() {
    let gw = Gateway::start().await;
    let who = callers(&gw).await;
    let mut admin = client(&gw).await;
    let batch = CreateRedemptionsRequest { name: "promo".into(), quota: 1000, count: 3, ..Default::default() };
    let keys = admin.create_redemptions(with(&who.admin, batch)).await.unwrap().into_inner().keys;
    assert_eq!(keys.len(), 3);
    let gift = CreateRedemptionsRequest {
        name: "gift".into(),
        quota: 10,
        key: "gift-code-for-everyone-0123456789abcdef".into(),
        is_gift: true,
        max_uses: 5,
        ..Default::default()
    };
    assert_eq!(admin.create_redemptions(with(&who.admin, gift)).await.unwrap().into_inner().keys.len(), 1);
    let too_many = CreateRedemptionsRequest { name: "x".into(), quota: 1, count: 1000, ..Default::default() };
    assert_eq!(bad_field(&admin.create_redemptions(with(&who.admin, too_many)).await.unwrap_err()), "count");

    let (status, body) =
        gw.api_as(Some(&who.user_cookie), "POST", "/api/user/topup", Some(json!({"key": keys[0]}))).await;
    assert_eq!(status, 200, "{body}");
    let rows = control_svc::db::redemptions::search(gw.control.state.db(), "promo").await.unwrap();
    let used = rows.iter().find(|r| r.code == keys[0]).unwrap().id;
    let fresh = rows.iter().find(|r| r.code == keys[1]).unwrap().id;

    let looked_up = admin.get_redemption(with(&who.admin, GetRedemptionRequest { id: used })).await.unwrap();
    let looked_up = looked_up.into_inner();
    assert_eq!((looked_up.status, looked_up.used_user_id, looked_up.used_count), (3, who.user_id, 1));
    let got = admin.disable_redemption(with(&who.admin, DisableRedemptionRequest { id: used })).await.unwrap_err();
    assert_eq!(got.code(), Code::FailedPrecondition);
    let off = admin.disable_redemption(with(&who.admin, DisableRedemptionRequest { id: fresh })).await.unwrap();
    assert_eq!(off.into_inner().status, 2);
    let got = admin.get_redemption(with(&who.admin, GetRedemptionRequest { id: 424242 })).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
}

/// Makes `n` chat requests through the relay with `key`.
async fn chats(gw: &Gateway, key: &str, n: usize) {
    for _ in 0..n {
        assert_eq!(gw.chat("/v1", key, chat_body("gpt-4o-mini")).await.status(), 200);
    }
}

/// The next `n` events of `stream`, each within 10 s.
async fn next_events(stream: &mut tonic::Streaming<UsageEvent>, n: usize) -> Vec<UsageEvent> {
    let mut out = Vec::new();
    for _ in 0..n {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a usage event within 10 s")
            .expect("the stream stays open")
            .unwrap();
        out.push(event);
    }
    out
}

#[tokio::test]
async fn the_usage_stream_follows_relay_requests_and_resumes_from_a_cursor_without_gap_or_repeat() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let key = gw.root_key().await;
    let mut admin = client(&gw).await;
    chats(&gw, &key, 2).await;
    gw.wait_for_logs(2).await;

    let mut stream = admin.watch_usage(with(&root, WatchUsageRequest { cursor: 0, user_id: 0 })).await.unwrap();
    let stored = next_events(stream.get_mut(), 2).await;
    chats(&gw, &key, 2).await;
    let live = next_events(stream.get_mut(), 2).await;
    let mut ids: Vec<i64> = stored.iter().chain(&live).map(|e| e.cursor).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(live.iter().all(|e| e.entry.as_ref().is_some_and(|x| x.r#type == 2 && x.model_name == "gpt-4o-mini")));
    drop(stream);

    // Reconnect from the second event: the two after it come again, then what was settled while away.
    let resume = stored[1].cursor;
    chats(&gw, &key, 2).await;
    let mut again = admin.watch_usage(with(&root, WatchUsageRequest { cursor: resume, user_id: 0 })).await.unwrap();
    let after = next_events(again.get_mut(), 4).await;
    let after_ids: Vec<i64> = after.iter().map(|e| e.cursor).collect();
    assert_eq!(after_ids[..2], ids[2..], "no gap and no repeat across the reconnect");
    assert!(after_ids.windows(2).all(|w| w[0] < w[1]), "{after_ids:?}");
    ids.extend(&after_ids[2..]);
    let total = admin
        .query_logs(with(
            &root,
            QueryLogsRequest { filter: Some(UsageFilter { r#type: 2, ..Default::default() }), page: None },
        ))
        .await
        .unwrap()
        .into_inner()
        .total;
    assert_eq!(total as usize, ids.len(), "every settled request was streamed exactly once: {ids:?}");

    // A live-only stream starts after everything stored.
    let mut live_only = admin.watch_usage(with(&root, WatchUsageRequest { cursor: -1, user_id: 0 })).await.unwrap();
    chats(&gw, &key, 1).await;
    let next = next_events(live_only.get_mut(), 1).await;
    assert!(next[0].cursor > *ids.last().unwrap());
}

#[tokio::test]
async fn a_usage_stream_ends_with_deadline_exceeded_when_the_callers_deadline_passes() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let mut admin = client(&gw).await;
    let mut request = with(&root, WatchUsageRequest { cursor: -1, user_id: 0 });
    // Only the `grpc-timeout` header: the client does not cut the stream itself, the server has to.
    request.set_timeout(Duration::from_millis(300));
    let mut stream = admin.watch_usage(request).await.unwrap().into_inner();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("the stream ends");
    let status = end.expect("an error, not a quiet end").unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

#[tokio::test]
async fn a_users_usage_stream_and_queries_show_only_its_own_rows() {
    let gw = Gateway::start().await;
    let who = callers(&gw).await;
    let root_key = gw.root_key().await;
    let mut admin = client(&gw).await;
    let mine =
        CreateTokenRequest { user_id: who.user_id, name: "own".into(), remain_quota: 500_000, ..Default::default() };
    let user_key = admin.create_token(with(&who.user, mine)).await.unwrap().into_inner().key;
    let mut stream = admin.watch_usage(with(&who.user, WatchUsageRequest { cursor: 0, user_id: 0 })).await.unwrap();
    chats(&gw, &root_key, 2).await;
    chats(&gw, &user_key, 1).await;
    let events = next_events(stream.get_mut(), 1).await;
    let entry = events[0].entry.clone().unwrap();
    assert_eq!((entry.user_id, entry.channel_id), (who.user_id, 0), "own row, sanitised: {entry:?}");
    gw.wait_for_logs(3).await;

    let own = admin.query_logs(with(&who.user, QueryLogsRequest::default())).await.unwrap().into_inner();
    assert_eq!(own.total, 1);
    let per_model = AggregateUsageRequest { filter: None, group_by: GroupBy::Model as i32 };
    let totals = admin.aggregate_usage(with(&who.user, per_model.clone())).await.unwrap().into_inner().totals;
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].key.as_str(), totals[0].requests), ("gpt-4o-mini", 1));
    let all = admin.aggregate_usage(with(&who.root, per_model)).await.unwrap().into_inner().totals;
    assert_eq!(all[0].requests, 3);
    let per_user = AggregateUsageRequest { filter: None, group_by: GroupBy::User as i32 };
    let users = admin.aggregate_usage(with(&who.admin, per_user)).await.unwrap().into_inner().totals;
    assert_eq!(users.len(), 2, "{users:?}");
    assert_eq!(users.iter().map(|t| t.requests).sum::<i64>(), 3);
    let per_token = AggregateUsageRequest { filter: None, group_by: GroupBy::Token as i32 };
    let tokens = admin.aggregate_usage(with(&who.root, per_token)).await.unwrap().into_inner().totals;
    assert!(tokens.iter().any(|t| t.name == "own" && t.requests == 1), "{tokens:?}");
}

#[tokio::test]
async fn channels_are_listed_with_key_health_and_a_channel_or_one_key_switched_off_and_on() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let mut admin = client(&gw).await;
    let spec = json!({"name": "two-keys", "type": 1, "key": "sk-first-key-1\nsk-second-key-2", "base_url": gw.mock.base_url(), "models": "gpt-4o"});
    let id = gw.create_channel(spec).await;
    let listed = admin.list_channels(with(&root, ListChannelsRequest { page: None })).await.unwrap().into_inner();
    assert_eq!(listed.total, 2);
    let channel = listed.channels.iter().find(|c| c.id == id).unwrap();
    assert_eq!(channel.keys.len(), 2);
    assert!(channel.keys.iter().all(|k| k.status == 1 && !k.key.contains("first-key")), "{:?}", channel.keys);

    let off = admin.set_channel_status(with(&root, SetChannelStatusRequest { id, enabled: false })).await.unwrap();
    assert_eq!(off.into_inner().status, 2);
    let on = admin.set_channel_status(with(&root, SetChannelStatusRequest { id, enabled: true })).await.unwrap();
    assert_eq!(on.into_inner().status, 1);
    let key_off = SetChannelKeyStatusRequest { channel_id: id, slot: 1, enabled: false };
    let health = admin.set_channel_key_status(with(&root, key_off)).await.unwrap().into_inner();
    assert_eq!(health.keys.iter().map(|k| k.status).collect::<Vec<_>>(), vec![1, 2]);
    let no_slot = SetChannelKeyStatusRequest { channel_id: id, slot: 7, enabled: false };
    assert_eq!(bad_field(&admin.set_channel_key_status(with(&root, no_slot)).await.unwrap_err()), "slot");
    let missing = SetChannelStatusRequest { id: 9999, enabled: true };
    assert_eq!(admin.set_channel_status(with(&root, missing)).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field_and_an_oversized_message_is_resource_exhausted() {
    let gw = Gateway::start().await;
    let root = personal_token(&gw, &gw.cookie).await;
    let mut admin = client(&gw).await;
    let huge_page = ListUsersRequest { page: Some(PageRequest { page: 1, page_size: 1000 }) };
    assert_eq!(bad_field(&admin.list_users(with(&root, huge_page)).await.unwrap_err()), "page.page_size");
    let bad_name =
        CreateUserRequest { username: "no spaces!".into(), password: "long-enough".into(), ..Default::default() };
    assert_eq!(bad_field(&admin.create_user(with(&root, bad_name)).await.unwrap_err()), "username");
    let zero = AdjustUserQuotaRequest { id: 1, delta: 0, reason: "x".into(), balance: 0 };
    assert_eq!(bad_field(&admin.adjust_user_quota(with(&root, zero)).await.unwrap_err()), "delta");
    let no_group = AggregateUsageRequest { filter: None, group_by: 0 };
    assert_eq!(bad_field(&admin.aggregate_usage(with(&root, no_group)).await.unwrap_err()), "group_by");
    let backwards = UsageFilter { start_time: 200, end_time: 100, ..Default::default() };
    let got = admin.query_logs(with(&root, QueryLogsRequest { filter: Some(backwards), page: None })).await;
    assert_eq!(bad_field(&got.unwrap_err()), "filter.start_time");
    let got = admin.watch_usage(with(&root, WatchUsageRequest { cursor: -5, user_id: 0 })).await.unwrap_err();
    assert_eq!(bad_field(&got), "cursor");
    let no_by = FindUserRequest { by: None };
    assert_eq!(bad_field(&admin.find_user(with(&root, no_by)).await.unwrap_err()), "by");

    let oversized =
        CreateUserRequest { username: "x".repeat(100_000), password: "long-enough".into(), ..Default::default() };
    let got = admin.create_user(with(&root, oversized)).await.unwrap_err();
    assert_eq!(got.code(), Code::ResourceExhausted, "{got:?}");
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_admin_service() {
    let gw = Gateway::start_bare().await;
    let channel = Channel::from_shared(format!("http://{}", gw.control.grpc_addr)).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "veloera.admin.v1.AdminService"] {
        let ask = tonic_health::pb::HealthCheckRequest { service: service.into() };
        let answer = health.check(ask).await.unwrap().into_inner();
        assert_eq!(answer.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service}");
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection.server_reflection_info(futures::stream::iter([ask])).await.unwrap().into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else { panic!("{answer:?}") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"veloera.admin.v1.AdminService".to_string()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("veloera.control")), "the relay contract stays unlisted: {names:?}");
}
