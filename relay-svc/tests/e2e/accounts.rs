//! Accounts through the relay's front door: registration and its switches, invitations, personal access tokens,
//! GitHub and OIDC sign-in against a fake provider, verification and reset mail through a fake SMTP server,
//! first-run setup, and the production check of SESSION_SECRET.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::fake_oauth::{CLIENT_ID, CLIENT_SECRET, FakeOAuth};
use crate::fake_smtp::{FakeSmtp, send_site_mail_to};
use crate::harness::{Gateway, control_config, session_cookie, start_control};

/// One admin API call with the given headers (no cookie unless given): status, body and response headers.
async fn call(
    gw: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value, HeaderMap) {
    let mut req = gw.http.request(method.parse().unwrap(), gw.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

async fn register(gw: &Gateway, body: Value) -> (u16, Value) {
    let (status, body, _) = call(gw, "POST", "/api/user/register", &[], Some(body)).await;
    (status, body)
}

/// Signs in with a password; returns the status and the session cookie (empty when refused).
async fn login(gw: &Gateway, username: &str, password: &str) -> (u16, String) {
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookie = if status == 200 { session_cookie(&resp) } else { String::new() };
    (status, cookie)
}

/// A user row's account columns, read straight from control's database.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    role: i64,
    quota: i64,
    group_name: String,
    email: String,
    display_name: String,
    aff_code: String,
    inviter_id: i64,
    aff_count: i64,
    aff_quota: i64,
    aff_history_quota: i64,
    access_token_digest: String,
    github_id: String,
    oidc_id: String,
}

async fn row(gw: &Gateway, username: &str) -> Row {
    let db = gw.control.state.db();
    sqlx::query_as(&db.sql(
        "SELECT id, role, quota, group_name, email, display_name, aff_code, inviter_id, aff_count, aff_quota, \
         aff_history_quota, access_token_digest, github_id, oidc_id FROM users WHERE username = ?",
    ))
    .bind(username)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn user_count(gw: &Gateway) -> i64 {
    control_svc::db::users::count(gw.control.state.db()).await.unwrap()
}

fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Registration

#[tokio::test]
async fn registration_creates_a_common_user_with_the_new_user_quota_and_an_invitation_code() {
    let gw = Gateway::start_bare().await;
    gw.set_options(&[("QuotaForNewUser", "5000")]).await;
    let (status, body) = register(&gw, json!({"username": "alice", "password": "alice-pass-1"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["username"], "alice");
    let alice = row(&gw, "alice").await;
    assert_eq!((alice.role, alice.quota, alice.group_name.as_str()), (1, 5000, "default"));
    assert_eq!(alice.aff_code.len(), 4);
    assert!(alice.aff_code.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(alice.display_name, "alice");

    let (status, cookie) = login(&gw, "alice", "alice-pass-1").await;
    assert_eq!(status, 200);
    let (status, me, _) = call(&gw, "GET", "/api/user/self", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 200);
    assert_eq!((me["data"]["role"].as_i64(), me["data"]["quota"].as_i64()), (Some(1), Some(5000)));
    assert_eq!(me["data"]["must_change_password"], false);
    // A common user is no administrator.
    let (status, _, _) = call(&gw, "GET", "/api/channel/", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 403);
    // The new-user bonus is in the log, in the registration's transaction.
    let (n,): (i64,) = sqlx::query_as(
        &gw.control.state.db().sql("SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 4 AND quota = 5000"),
    )
    .bind(alice.id)
    .fetch_one(gw.control.state.db().pool())
    .await
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn registration_checks_usernames_passwords_and_duplicates() {
    let gw = Gateway::start_bare().await;
    for (username, password, why) in [
        ("", "long-enough-1", "username"),
        ("thirteen-char", "long-enough-1", "username"),
        ("with space", "long-enough-1", "username"),
        ("at@sign", "long-enough-1", "username"),
        ("bob", "short", "password"),
        ("bob", "twenty-one-characters", "password"),
    ] {
        let (status, body) = register(&gw, json!({"username": username, "password": password})).await;
        assert_eq!(status, 400, "{username:?}/{password:?}: {body}");
        assert_eq!(body["success"], false);
        assert!(body["message"].as_str().unwrap().contains(why), "{body}");
    }
    assert_eq!(register(&gw, json!({"username": "twelve-chars", "password": "exactly8"})).await.0, 200);
    let (status, body) = register(&gw, json!({"username": "twelve-chars", "password": "another-pass"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("already taken"), "{body}");
    // Case does not make a new name: `Root` cannot pose as `root`.
    let (status, _) = register(&gw, json!({"username": "Root", "password": "another-pass"})).await;
    assert_eq!(status, 409);
    let (status, _) =
        register(&gw, json!({"username": "bob", "password": "bob-pass-1", "email": "not-an-address"})).await;
    assert_eq!(status, 400);
    assert_eq!(user_count(&gw).await, 2);
}

#[tokio::test]
async fn registration_and_password_login_follow_their_switches() {
    let mut gw = Gateway::start_bare().await;
    assert_eq!(register(&gw, json!({"username": "early", "password": "early-pass"})).await.0, 200);

    gw.set_options(&[("RegisterEnabled", "false")]).await;
    let (status, body) = register(&gw, json!({"username": "late", "password": "late-pass-1"})).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("closed"));

    gw.set_options(&[("RegisterEnabled", "true"), ("PasswordRegisterEnabled", "false")]).await;
    let (status, body) = register(&gw, json!({"username": "late", "password": "late-pass-1"})).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("password"));

    gw.set_options(&[("PasswordLoginEnabled", "false")]).await;
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": "early", "password": "early-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("set-cookie").is_none());
    // Unknown names get the same answer (nothing to learn), and root still gets in: the owner is never locked out.
    assert_eq!(login(&gw, "nobody", "whatever-1").await.0, 403);
    gw.sign_in_root().await;
    assert_eq!(gw.root_self().await["username"], "root");

    gw.set_options(&[("PasswordLoginEnabled", "true")]).await;
    assert_eq!(login(&gw, "early", "early-pass").await.0, 200);
}

#[tokio::test]
async fn an_invitation_code_rewards_invitee_and_inviter_in_one_registration() {
    let gw = Gateway::start_bare().await;
    gw.set_options(&[("QuotaForNewUser", "100"), ("QuotaForInvitee", "50"), ("QuotaForInviter", "30")]).await;
    assert_eq!(register(&gw, json!({"username": "inviter", "password": "inviter-pass"})).await.0, 200);
    let inviter = row(&gw, "inviter").await;

    let (status, body) =
        register(&gw, json!({"username": "invitee", "password": "invitee-pass", "aff_code": inviter.aff_code})).await;
    assert_eq!(status, 200, "{body}");
    let invitee = row(&gw, "invitee").await;
    assert_eq!((invitee.quota, invitee.inviter_id), (150, inviter.id));
    assert_ne!(invitee.aff_code, inviter.aff_code);
    let after = row(&gw, "inviter").await;
    // The reward goes to the invitation balance, not the main quota.
    assert_eq!(after.quota, 100);
    assert_eq!((after.aff_count, after.aff_quota, after.aff_history_quota), (1, 30, 30));

    // A second invitee adds up; an unknown code registers without an inviter and without the bonus.
    register(&gw, json!({"username": "second", "password": "second-pass", "aff_code": inviter.aff_code})).await;
    let after = row(&gw, "inviter").await;
    assert_eq!((after.aff_count, after.aff_quota, after.aff_history_quota), (2, 60, 60));
    assert_eq!(
        register(&gw, json!({"username": "stranger", "password": "strange-pass", "aff_code": "zzzz9"})).await.0,
        200
    );
    let stranger = row(&gw, "stranger").await;
    assert_eq!((stranger.quota, stranger.inviter_id), (100, 0));

    // A refused registration (taken name) rewards nobody.
    let (status, _) =
        register(&gw, json!({"username": "invitee", "password": "invitee-pass", "aff_code": inviter.aff_code})).await;
    assert_eq!(status, 409);
    assert_eq!(row(&gw, "inviter").await.aff_count, 2);
}

#[tokio::test]
async fn registered_users_get_a_default_token_when_configured() {
    let gw = Gateway::start_bare_with(|c| c.generate_default_token = true).await;
    assert_eq!(register(&gw, json!({"username": "carol", "password": "carol-pass"})).await.0, 200);
    let (_, cookie) = login(&gw, "carol", "carol-pass").await;
    let (status, list, _) = call(&gw, "GET", "/api/token/", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 200);
    let tokens = list["data"]["items"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["name"], "carol的初始令牌");
    assert_eq!(tokens[0]["unlimited_quota"], true);
}

// ---------------------------------------------------------------------------------------------------------------
// Email

#[tokio::test]
async fn registration_with_email_verification_needs_the_code_that_was_mailed() {
    let gw = Gateway::start_bare().await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    gw.set_options(&[
        ("EmailVerificationEnabled", "true"),
        ("EmailDomainRestrictionEnabled", "true"),
        ("EmailDomainWhitelist", "example.com,corp.test"),
    ])
    .await;

    let (status, body) = register(&gw, json!({"username": "dave", "password": "dave-pass-1"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("verif"));

    // Outside the whitelist: no mail.
    let (status, body, _) = call(&gw, "GET", "/api/verification?email=dave@other.org", &[], None).await;
    assert_eq!(status, 400, "{body}");
    assert!(smtp.messages().is_empty());

    let (status, body, _) = call(&gw, "GET", "/api/verification?email=dave@Example.com", &[], None).await;
    assert_eq!(status, 200, "{body}");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].auth, "mailer@site.test:smtp-password");
    assert!(messages[0].from.starts_with("<mailer@site.test>"), "{}", messages[0].from);
    assert_eq!(messages[0].to, vec!["<dave@Example.com>"]);
    assert!(messages[0].data.contains("Subject: TestSite email verification"), "{}", messages[0].data);
    let code = smtp.code_sent_to("dave@Example.com");
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
    // The database holds a digest, not the code.
    let (stored,): (String,) = sqlx::query_as("SELECT code_digest FROM auth_codes WHERE purpose = 'verify_email'")
        .fetch_one(gw.control.state.db().pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&code));
    // Asking again at once is refused (no mail bombing).
    let (status, _, _) = call(&gw, "GET", "/api/verification?email=dave@example.com", &[], None).await;
    assert_eq!(status, 429);

    let wrong = json!({"username": "dave", "password": "dave-pass-1", "email": "dave@example.com", "verification_code": "AAAAAA"});
    let (status, body) = register(&gw, wrong).await;
    assert_eq!(status, 400, "{body}");
    // Typed in lower case, the right code works (and the address compares without case).
    let right = json!({"username": "dave", "password": "dave-pass-1", "email": "dave@example.com", "verification_code": code.to_lowercase()});
    let (status, body) = register(&gw, right).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(row(&gw, "dave").await.email, "dave@example.com");

    // The code worked once.
    let again =
        json!({"username": "dave2", "password": "dave-pass-1", "email": "dave@example.com", "verification_code": code});
    assert_ne!(register(&gw, again).await.0, 200);
    // The address is now taken.
    let (status, _, _) = call(&gw, "GET", "/api/verification?email=DAVE@example.com", &[], None).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_verification_code_dies_after_five_wrong_guesses() {
    let gw = Gateway::start_bare().await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    gw.set_options(&[("EmailVerificationEnabled", "true")]).await;
    assert_eq!(call(&gw, "GET", "/api/verification?email=erin@example.com", &[], None).await.0, 200);
    let code = smtp.code_sent_to("erin@example.com");
    let attempt = |c: &str| json!({"username": "erin", "password": "erin-pass-1", "email": "erin@example.com", "verification_code": c});
    for _ in 0..5 {
        assert_eq!(register(&gw, attempt("ZZZZZZ")).await.0, 400);
    }
    let (status, body) = register(&gw, attempt(&code)).await;
    assert_eq!(status, 400, "the right code after five wrong ones: {body}");
}

#[tokio::test]
async fn mail_routes_without_a_mail_server_answer_400() {
    let gw = Gateway::start_bare().await;
    for path in ["/api/verification?email=a@example.com", "/api/reset_password?email=a@example.com"] {
        let (status, body, _) = call(&gw, "GET", path, &[], None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains("SMTPServer"), "{body}");
    }
}

#[tokio::test]
async fn a_password_reset_by_mail_hands_out_a_new_random_password_once() {
    let gw = Gateway::start_bare().await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    assert_eq!(
        register(&gw, json!({"username": "frank", "password": "frank-pass-1", "email": "frank@example.com"})).await.0,
        200
    );

    // Unknown addresses get the same answer and no mail.
    let (status, unknown, _) = call(&gw, "GET", "/api/reset_password?email=nobody@example.com", &[], None).await;
    assert_eq!(status, 200);
    assert!(smtp.messages().is_empty());

    let (status, known, _) = call(&gw, "GET", "/api/reset_password?email=Frank@example.com", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(known["message"], unknown["message"]);
    let message = smtp.messages().pop().expect("a reset mail");
    let body = message.body();
    let link_start = body.find("https://gw.test/user/reset?email=").expect(&body);
    let link = body[link_start..].lines().next().unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    assert_eq!(token.len(), 32, "{}", message.data);
    assert!(link.contains("email=Frank%40example.com"), "{link}");

    let (status, _, _) =
        call(&gw, "POST", "/api/user/reset", &[], Some(json!({"email": "frank@example.com", "token": "wrong"}))).await;
    assert_eq!(status, 400);
    let (status, answer, _) =
        call(&gw, "POST", "/api/user/reset", &[], Some(json!({"email": "frank@example.com", "token": token}))).await;
    assert_eq!(status, 200, "{answer}");
    let new_password = answer["data"].as_str().unwrap().to_string();
    assert_eq!(new_password.len(), 12);
    assert_eq!(login(&gw, "frank", &new_password).await.0, 200);
    assert_eq!(login(&gw, "frank", "frank-pass-1").await.0, 401);
    // The link worked once.
    let (status, _, _) =
        call(&gw, "POST", "/api/user/reset", &[], Some(json!({"email": "frank@example.com", "token": token}))).await;
    assert_eq!(status, 400);
}

// ---------------------------------------------------------------------------------------------------------------
// Personal access tokens

#[tokio::test]
async fn an_access_token_authenticates_the_admin_api_in_place_of_the_cookie() {
    let mut gw = Gateway::start().await;
    assert_eq!(register(&gw, json!({"username": "grace", "password": "grace-pass"})).await.0, 200);
    let (_, cookie) = login(&gw, "grace", "grace-pass").await;
    let grace = row(&gw, "grace").await;

    let (status, answer, _) = call(&gw, "GET", "/api/user/token", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["data"].as_str().unwrap().to_string();
    assert!(token.len() >= 32 && !token.starts_with("sk-"), "{token}");
    // Only the SHA-256 digest is stored.
    let stored = row(&gw, "grace").await.access_token_digest;
    assert_eq!(stored, control_svc::access::access_token_digest(&token));
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, token);
    let raw_row: Vec<String> =
        sqlx::query_as::<_, (String, String, String)>("SELECT username, password_hash, access_token_digest FROM users")
            .fetch_all(gw.control.state.db().pool())
            .await
            .unwrap()
            .into_iter()
            .flat_map(|(a, b, c)| [a, b, c])
            .collect();
    assert!(raw_row.iter().all(|v| !v.contains(&token)));

    // With or without `Bearer `, on user and token routes; with the right Veloera-User too.
    let bearer = format!("Bearer {token}");
    let grace_id = grace.id.to_string();
    let (status, me, _) = call(&gw, "GET", "/api/user/self", &[("authorization", &token)], None).await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["username"], "grace");
    assert!(!me.to_string().contains(&token), "the token is never shown again");
    let (status, _, _) = call(&gw, "GET", "/api/token/", &[("authorization", &bearer)], None).await;
    assert_eq!(status, 200);
    let (status, created, _) = call(
        &gw,
        "POST",
        "/api/token/",
        &[("authorization", &bearer), ("Veloera-User", &grace_id)],
        Some(json!({"name": "via-pat"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["data"]["user_id"], grace.id);

    // A Veloera-User that is somebody else is refused.
    let (status, _, _) =
        call(&gw, "GET", "/api/user/self", &[("authorization", &token), ("Veloera-User", "1")], None).await;
    assert_eq!(status, 401);
    // A common user's token is no key to admin routes.
    let (status, _, _) = call(&gw, "GET", "/api/channel/", &[("authorization", &token)], None).await;
    assert_eq!(status, 403);
    // Relay keys, even valid ones, are never admin credentials; nor is garbage.
    let (_, sk_key) = gw.create_token(json!({"name": "relay-key"})).await;
    for bad in [sk_key.as_str(), &format!("Bearer {sk_key}"), "Bearer ", "not-a-token", "sk-whatever"] {
        let (status, _, _) = call(&gw, "GET", "/api/user/self", &[("authorization", bad)], None).await;
        assert_eq!(status, 401, "{bad}");
    }
    // A bad Authorization header is refused even beside a good cookie.
    let (status, _, _) =
        call(&gw, "GET", "/api/user/self", &[("authorization", "nope"), ("cookie", &cookie)], None).await;
    assert_eq!(status, 401);

    // A new token replaces the old one.
    let (_, again, _) = call(&gw, "GET", "/api/user/token", &[("authorization", &token)], None).await;
    let newer = again["data"].as_str().unwrap().to_string();
    assert_ne!(newer, token);
    assert_eq!(call(&gw, "GET", "/api/user/self", &[("authorization", &token)], None).await.0, 401);
    assert_eq!(call(&gw, "GET", "/api/user/self", &[("authorization", &newer)], None).await.0, 200);

    // Root's token opens admin routes; a disabled account's token opens nothing.
    let (_, root_token) = gw.api("GET", "/api/user/token", None).await;
    let root_token = root_token["data"].as_str().unwrap().to_string();
    let (status, _, _) =
        call(&gw, "GET", "/api/channel/", &[("authorization", &root_token), ("Veloera-User", "1")], None).await;
    assert_eq!(status, 200);
    gw.sql(&format!("UPDATE users SET status = 2 WHERE id = {}", grace.id)).await;
    assert_eq!(call(&gw, "GET", "/api/user/self", &[("authorization", &newer)], None).await.0, 403);
    gw.cookie.clear();
    assert_eq!(gw.api("GET", "/api/user/self", None).await.0, 401);
}

#[tokio::test]
async fn the_default_root_cannot_mint_an_access_token_before_changing_its_password() {
    let gw = Gateway::start_bare().await;
    let (status, cookie) = login(&gw, "root", "123456").await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&gw, "GET", "/api/user/token", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 403);
}

// ---------------------------------------------------------------------------------------------------------------
// OAuth

async fn oauth_gateway(fake: &FakeOAuth) -> Gateway {
    let base = fake.base();
    let gw = Gateway::start_bare_with(|c| {
        c.github = control_svc::accounts::oauth::GitHubEndpoints { oauth_base: base.clone(), api_base: base.clone() }
    })
    .await;
    gw.set_options(&[
        ("GitHubOAuthEnabled", "true"),
        ("GitHubClientId", CLIENT_ID),
        ("GitHubClientSecret", CLIENT_SECRET),
    ])
    .await;
    gw
}

/// `GET /api/oauth/state`: the state and the cookie pair that carries it.
async fn oauth_state(gw: &Gateway, query: &str) -> (String, String) {
    let (status, body, headers) = call(gw, "GET", &format!("/api/oauth/state{query}"), &[], None).await;
    assert_eq!(status, 200, "{body}");
    let set = cookie_named(&headers, "oauth_state").expect("a state cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/api/oauth"), "{set}");
    assert!(set.contains("Max-Age=600"), "{set}");
    let state = body["data"].as_str().unwrap().to_string();
    assert!(state.len() >= 32);
    assert!(!set.contains(&format!("={state};")), "the cookie is signed, not the bare state");
    (state, pair(&set))
}

async fn callback(gw: &Gateway, provider: &str, code: &str, state: &str, cookie: &str) -> (u16, Value, HeaderMap) {
    let headers: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("cookie", cookie)] };
    call(gw, "GET", &format!("/api/oauth/{provider}?code={code}&state={state}"), &headers, None).await
}

#[tokio::test]
async fn github_sign_in_creates_the_account_then_signs_it_in_again() {
    let fake = FakeOAuth::start().await;
    let gw = oauth_gateway(&fake).await;
    gw.set_options(&[("QuotaForNewUser", "700")]).await;
    let users_before = user_count(&gw).await;

    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, headers) = callback(&gw, "github", "good-7", &state, &state_cookie).await;
    assert_eq!(status, 200, "{body}");
    let session = pair(&cookie_named(&headers, "session").expect("signed in"));
    let id = body["data"]["id"].as_i64().unwrap();
    assert_eq!(body["data"]["username"], format!("github_{id}"));
    assert_eq!(body["data"]["display_name"], "octocat7");
    assert_eq!(user_count(&gw).await, users_before + 1);
    let created = row(&gw, &format!("github_{id}")).await;
    assert_eq!((created.github_id.as_str(), created.quota, created.role), ("1007", 700, 1));
    // The state cookie is cleared.
    let cleared = cookie_named(&headers, "oauth_state").expect("state cookie removed");
    assert!(cleared.contains("Max-Age=0") || cleared.contains("expires=Thu, 01 Jan 1970"), "{cleared}");
    // The provider got our client credentials and the code.
    let got = fake.received();
    assert_eq!(got[0].0, "/login/oauth/access_token");
    assert_eq!(got[0].1["client_secret"], CLIENT_SECRET);
    assert_eq!(got[0].1["code"], "good-7");
    // The session works.
    let (status, me, _) = call(&gw, "GET", "/api/user/self", &[("cookie", &session)], None).await;
    assert_eq!((status, me["data"]["id"].as_i64()), (200, Some(id)));
    // An OAuth account has no password to sign in with.
    assert_eq!(login(&gw, &format!("github_{id}"), "").await.0, 400);

    // Next time the same GitHub account signs the same user in; no new account.
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, _) = callback(&gw, "github", "good-7", &state, &state_cookie).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"].as_i64(), Some(id));
    assert_eq!(user_count(&gw).await, users_before + 1);

    // With registration closed, a known account still signs in and an unknown one is refused.
    gw.set_options(&[("RegisterEnabled", "false")]).await;
    let (state, state_cookie) = oauth_state(&gw, "").await;
    assert_eq!(callback(&gw, "github", "good-7", &state, &state_cookie).await.0, 200);
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, _) = callback(&gw, "github", "good-8", &state, &state_cookie).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(user_count(&gw).await, users_before + 1);

    // A disabled account is not signed in.
    gw.sql(&format!("UPDATE users SET status = 2 WHERE id = {id}")).await;
    let (state, state_cookie) = oauth_state(&gw, "").await;
    assert_eq!(callback(&gw, "github", "good-7", &state, &state_cookie).await.0, 403);
}

#[tokio::test]
async fn github_sign_in_refuses_missing_wrong_foreign_and_reused_states() {
    let fake = FakeOAuth::start().await;
    let gw = oauth_gateway(&fake).await;
    let (state, state_cookie) = oauth_state(&gw, "").await;

    // No cookie: the callback did not come from the browser that started.
    let (status, body, _) = callback(&gw, "github", "good-1", &state, "").await;
    assert_eq!(status, 403, "{body}");
    // A different state than the cookie's.
    let (other_state, other_cookie) = oauth_state(&gw, "").await;
    assert_eq!(callback(&gw, "github", "good-1", &other_state, &state_cookie).await.0, 403);
    assert_eq!(callback(&gw, "github", "good-1", "", &state_cookie).await.0, 403);
    // A forged (unsigned) cookie.
    let forged = format!("oauth_state={state}.{}.", control_svc::db::now_secs());
    assert_eq!(callback(&gw, "github", "good-1", &state, &forged).await.0, 403);
    // None of that reached the provider.
    assert!(fake.received().is_empty());

    // The right pair works once; replaying the same cookie and state is refused.
    assert_eq!(callback(&gw, "github", "good-1", &state, &state_cookie).await.0, 200);
    let (status, body, _) = callback(&gw, "github", "good-1", &state, &state_cookie).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("used"), "{body}");
    assert_eq!(callback(&gw, "github", "good-1", &other_state, &other_cookie).await.0, 200);

    // GitHub switched off.
    gw.set_options(&[("GitHubOAuthEnabled", "false")]).await;
    let (state, state_cookie) = oauth_state(&gw, "").await;
    assert_eq!(callback(&gw, "github", "good-1", &state, &state_cookie).await.0, 403);
}

#[tokio::test]
async fn github_provider_errors_are_reported_without_signing_in() {
    let fake = FakeOAuth::start().await;
    let gw = oauth_gateway(&fake).await;
    let users_before = user_count(&gw).await;

    // A refused code is the caller's problem: 400 with GitHub's reason.
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, headers) = callback(&gw, "github", "bad", &state, &state_cookie).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("bad_verification_code"), "{body}");
    assert!(cookie_named(&headers, "session").is_none());

    // A failing provider is a 502 that does not show its internals.
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, _) = callback(&gw, "github", "boom", &state, &state_cookie).await;
    assert_eq!(status, 502, "{body}");
    assert!(!body.to_string().contains("10.0.0.7"), "{body}");

    // Wrong client credentials configured.
    gw.set_options(&[("GitHubClientSecret", "not-the-secret")]).await;
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, _) = callback(&gw, "github", "good-2", &state, &state_cookie).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(user_count(&gw).await, users_before);
}

#[tokio::test]
async fn oauth_sign_up_applies_the_invitation_code_given_with_the_state() {
    let fake = FakeOAuth::start().await;
    let gw = oauth_gateway(&fake).await;
    gw.set_options(&[("QuotaForInvitee", "40"), ("QuotaForInviter", "25")]).await;
    assert_eq!(register(&gw, json!({"username": "host", "password": "host-pass-1"})).await.0, 200);
    let host = row(&gw, "host").await;

    let (state, state_cookie) = oauth_state(&gw, &format!("?aff={}", host.aff_code)).await;
    let (status, body, _) = callback(&gw, "github", "good-3", &state, &state_cookie).await;
    assert_eq!(status, 200, "{body}");
    let guest = row(&gw, body["data"]["username"].as_str().unwrap()).await;
    assert_eq!((guest.inviter_id, guest.quota), (host.id, 40));
    let host = row(&gw, "host").await;
    assert_eq!((host.aff_count, host.aff_quota), (1, 25));
}

#[tokio::test]
async fn oidc_sign_in_uses_the_discovery_document_and_the_userinfo_identity() {
    let fake = FakeOAuth::start().await;
    let gw = Gateway::start_bare().await;
    gw.set_options(&[
        ("OidcEnabled", "true"),
        ("OidcClientId", CLIENT_ID),
        ("OidcClientSecret", CLIENT_SECRET),
        ("OidcWellKnown", &format!("{}/.well-known/openid-configuration", fake.base())),
        ("ServerAddress", "https://gw.test"),
    ])
    .await;
    let (_, status, _) = call(&gw, "GET", "/api/status", &[], None).await;
    assert_eq!(status["data"]["oidc_enabled"], true);
    assert_eq!(status["data"]["oidc_client_id"], CLIENT_ID);
    assert_eq!(status["data"]["oidc_authorization_endpoint"], format!("{}/authorize", fake.base()));

    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, headers) = callback(&gw, "oidc", "good-5", &state, &state_cookie).await;
    assert_eq!(status, 200, "{body}");
    assert!(cookie_named(&headers, "session").is_some());
    let id = body["data"]["id"].as_i64().unwrap();
    assert_eq!(body["data"]["username"], format!("oidc_{id}"));
    let created = row(&gw, &format!("oidc_{id}")).await;
    assert_eq!(created.oidc_id, "subject-5");
    assert_eq!(created.email, "person5@idp.test");
    assert_eq!(created.display_name, "person5");
    let token_request = fake.received().into_iter().find(|(p, _)| p == "/token").unwrap().1;
    assert_eq!(token_request["redirect_uri"], "https://gw.test/oauth/oidc");
    assert_eq!(token_request["code"], "good-5");

    // Same subject, same account; a refused code is a 400; a reused state a 403.
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (_, again, _) = callback(&gw, "oidc", "good-5", &state, &state_cookie).await;
    assert_eq!(again["data"]["id"].as_i64(), Some(id));
    assert_eq!(callback(&gw, "oidc", "good-5", &state, &state_cookie).await.0, 403);
    let (state, state_cookie) = oauth_state(&gw, "").await;
    let (status, body, _) = callback(&gw, "oidc", "expired", &state, &state_cookie).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("invalid_grant"), "{body}");

    // Explicit endpoints win over discovery (here: a userinfo endpoint that does not exist).
    gw.set_options(&[("OidcUserInfoEndpoint", &format!("{}/missing", fake.base()))]).await;
    let (state, state_cookie) = oauth_state(&gw, "").await;
    assert_eq!(callback(&gw, "oidc", "good-5", &state, &state_cookie).await.0, 400);
}

#[tokio::test]
async fn status_shows_the_sign_in_options() {
    let gw = Gateway::start_bare().await;
    let (_, before, _) = call(&gw, "GET", "/api/status", &[], None).await;
    assert_eq!(before["data"]["github_oauth"], false);
    assert_eq!(before["data"]["github_client_id"], "");
    assert_eq!(before["data"]["oidc_enabled"], false);
    assert_eq!(before["data"]["email_verification"], false);
    assert_eq!(before["data"]["setup"], true);
    gw.set_options(&[
        ("GitHubOAuthEnabled", "true"),
        ("GitHubClientId", "gh-id"),
        ("GitHubClientSecret", "gh-secret"),
        ("OidcEnabled", "true"),
        ("OidcClientId", "oidc-id"),
        ("OidcClientSecret", "oidc-secret"),
        ("OidcAuthorizationEndpoint", "https://idp.test/authorize"),
        ("EmailVerificationEnabled", "true"),
    ])
    .await;
    let (_, after, _) = call(&gw, "GET", "/api/status", &[], None).await;
    let data = &after["data"];
    assert_eq!((data["github_oauth"].as_bool(), data["github_client_id"].as_str()), (Some(true), Some("gh-id")));
    assert_eq!((data["oidc_enabled"].as_bool(), data["oidc_client_id"].as_str()), (Some(true), Some("oidc-id")));
    assert_eq!(data["oidc_authorization_endpoint"], "https://idp.test/authorize");
    assert_eq!(data["email_verification"], true);
    assert!(!after.to_string().contains("secret"), "{after}");
}

// ---------------------------------------------------------------------------------------------------------------
// First-run setup and secrets

#[tokio::test]
async fn setup_is_done_and_refused_when_the_default_root_exists() {
    let gw = Gateway::start_bare().await;
    let (status, body, _) = call(&gw, "GET", "/api/setup", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!({"status": true, "root_init": true, "database_type": "sqlite"}));
    let (status, _, _) = call(
        &gw,
        "POST",
        "/api/setup",
        &[],
        Some(json!({"username": "owner", "password": "owner-pass", "confirmPassword": "owner-pass"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(user_count(&gw).await, 1);
}

#[tokio::test]
async fn setup_creates_root_once_when_started_without_a_default_root() {
    let gw = Gateway::start_bare_with(|c| c.create_default_root = false).await;
    assert_eq!(user_count(&gw).await, 0);
    let (_, body, _) = call(&gw, "GET", "/api/setup", &[], None).await;
    assert_eq!(body["data"], json!({"status": false, "root_init": false, "database_type": "sqlite"}));
    let (_, status, _) = call(&gw, "GET", "/api/status", &[], None).await;
    assert_eq!(status["data"]["setup"], false);

    let setup = |password: &str, confirm: &str| json!({"username": "owner", "password": password, "confirmPassword": confirm, "SelfUseModeEnabled": true});
    assert_eq!(call(&gw, "POST", "/api/setup", &[], Some(setup("owner-pass", "other-pass"))).await.0, 400);
    assert_eq!(call(&gw, "POST", "/api/setup", &[], Some(setup("short", "short"))).await.0, 400);
    let (status, body, _) = call(&gw, "POST", "/api/setup", &[], Some(setup("owner-pass", "owner-pass"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["role"], 100);

    // The chosen password needs no forced change; the site mode was stored.
    let (status, cookie) = login(&gw, "owner", "owner-pass").await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&gw, "GET", "/api/channel/", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 200);
    let options = control_svc::db::options::all(gw.control.state.db()).await.unwrap();
    assert_eq!(options.get("SelfUseModeEnabled").map(String::as_str), Some("true"));
    assert_eq!(options.get("DemoSiteEnabled").map(String::as_str), Some("false"));
    assert_eq!(row(&gw, "owner").await.quota, 100_000_000);

    let (_, body, _) = call(&gw, "GET", "/api/setup", &[], None).await;
    assert_eq!(body["data"]["status"], true);
    let (status, _, _) = call(&gw, "POST", "/api/setup", &[], Some(setup("owner-pass", "owner-pass"))).await;
    assert_eq!(status, 403);
    assert_eq!(user_count(&gw).await, 1);
}

#[tokio::test]
async fn concurrent_setups_create_one_root() {
    let gw = Gateway::start_bare_with(|c| c.create_default_root = false).await;
    let attempts = (0..4).map(|i| {
        let body = json!({"username": format!("owner{i}"), "password": "owner-pass", "confirmPassword": "owner-pass"});
        call(&gw, "POST", "/api/setup", &[], Some(body))
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.into_iter().map(|r| r.0).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 403), "{statuses:?}");
    assert_eq!(user_count(&gw).await, 1);
}

#[tokio::test]
async fn production_refuses_to_start_without_a_session_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = control_config(dir.path());
    config.production = true;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = control_svc::Application::build_with_listeners(config.clone(), http, grpc).await;
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("SESSION_SECRET"), "{message}");
    // Nothing was generated on the way.
    assert!(!dir.path().join("session_secret").exists());

    config.session_secret = Some("random_string".into());
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    assert!(control_svc::Application::build_with_listeners(config.clone(), http, grpc).await.is_err());

    config.session_secret = Some("a-long-shared-session-secret".into());
    let mut control = start_control(config).await;
    control.stop().await;
}
