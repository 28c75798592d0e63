//! Issue 12's account findings, end to end: sessions end on logout, password change, reset, disabling and
//! "log out everywhere"; password guessing is throttled per account whatever the address; an email address is
//! changed only with a code sent to it and the current password; and the reset mail answers the same for every
//! address even when the mail server is down.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_smtp::{FakeSmtp, send_site_mail_to};
use crate::harness::{Gateway, session_cookie};

/// Signs in; returns the status and the session cookie (empty when refused).
async fn login(gw: &Gateway, username: &str, password: &str) -> (u16, String) {
    let resp =
        gw.http.post(gw.url("/api/user/login")).json(&json!({"username": username, "password": password})).send().await;
    let resp = resp.unwrap();
    let status = resp.status().as_u16();
    (status, if status == 200 { session_cookie(&resp) } else { String::new() })
}

/// The status `GET /api/user/self` answers with this cookie.
async fn self_status(gw: &Gateway, cookie: &str) -> u16 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.0
}

async fn user_id(gw: &Gateway, cookie: &str) -> i64 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap()
}

/// A login straight to control's listener, as if the front door had seen the client at `client_ip`.
async fn login_from(gw: &Gateway, client_ip: &str, username: &str, password: &str) -> (u16, Value) {
    let resp = gw
        .http
        .post(format!("http://{}/api/user/login", gw.control.http_addr))
        .header("x-veloera-client-ip", client_ip)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn scalar(gw: &Gateway, query: &str) -> i64 {
    let db = gw.control.state.db();
    sqlx::query_scalar::<_, i64>(&db.sql(query)).fetch_one(db.pool()).await.unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn logout_ends_the_session_for_every_copy_of_the_cookie() {
    let gw = Gateway::start().await;
    let cookie = gw.create_user("alice", "a-long-password").await;
    assert_eq!(self_status(&gw, &cookie).await, 200);
    let (status, body) = gw.api_as(Some(&cookie), "GET", "/api/user/logout", None).await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    // The browser was told to forget it, but a copy of the cookie is dead as well.
    assert_eq!(self_status(&gw, &cookie).await, 401);
    // Logging out again, or without any session, answers the same.
    assert_eq!(gw.api_as(Some(&cookie), "GET", "/api/user/logout", None).await.0, 200);
    assert_eq!(gw.api_as(None, "GET", "/api/user/logout", None).await.0, 200);
    // The cookie holds a random session id, not the user id: the database keeps only its digest.
    let (_, fresh) = login(&gw, "alice", "a-long-password").await;
    let value = fresh.split_once('=').unwrap().1.to_string();
    let db = gw.control.state.db();
    let digests: Vec<String> = sqlx::query_scalar("SELECT id_digest FROM sessions").fetch_all(db.pool()).await.unwrap();
    assert!(digests.iter().all(|d| d.len() == 64 && !value.contains(d.as_str())), "{digests:?}");
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_but_not_the_access_token() {
    let gw = Gateway::start().await;
    let here = gw.create_user("alice", "a-long-password").await;
    let (_, elsewhere) = login(&gw, "alice", "a-long-password").await;
    let (status, token) = gw.api_as(Some(&here), "GET", "/api/user/token", None).await;
    assert_eq!(status, 200, "{token}");
    let token = token["data"].as_str().unwrap().to_string();

    let change = json!({"original_password": "a-long-password", "password": "a-newer-password"});
    let (status, body) = gw.api_as(Some(&here), "PUT", "/api/user/self", Some(change)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(self_status(&gw, &here).await, 200, "the session that changed the password stays");
    assert_eq!(self_status(&gw, &elsewhere).await, 401, "another session ends");
    let by_token = gw.http.get(gw.url("/api/user/self")).header("authorization", &token).send().await.unwrap();
    assert_eq!(by_token.status(), 200, "personal access tokens are not sessions");
}

#[tokio::test]
async fn an_administrator_reset_and_disabling_end_the_users_sessions() {
    let gw = Gateway::start().await;
    let first = gw.create_user("alice", "a-long-password").await;
    let id = user_id(&gw, &first).await;
    let (status, body) = gw.api("PUT", "/api/user/", Some(json!({"id": id, "password": "set-by-root"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(self_status(&gw, &first).await, 401);

    let (status, second) = login(&gw, "alice", "set-by-root").await;
    assert_eq!(status, 200);
    let (_, token) = gw.api_as(Some(&second), "GET", "/api/user/token", None).await;
    let token = token["data"].as_str().unwrap().to_string();
    for action in ["disable", "enable"] {
        let (status, body) = gw.api("POST", "/api/user/manage", Some(json!({"id": id, "action": action}))).await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    // Enabled again, but the session from before the disabling does not come back; the token does.
    assert_eq!(self_status(&gw, &second).await, 401);
    let by_token = gw.http.get(gw.url("/api/user/self")).header("authorization", &token).send().await.unwrap();
    assert_eq!(by_token.status(), 200);
    gw.api("POST", "/api/user/manage", Some(json!({"id": id, "action": "disable"}))).await;
    let by_token = gw.http.get(gw.url("/api/user/self")).header("authorization", &token).send().await.unwrap();
    assert_eq!(by_token.status(), 403, "a disabled account's token is refused");
}

#[tokio::test]
async fn log_out_everywhere_keeps_only_the_calling_session() {
    let gw = Gateway::start().await;
    let here = gw.create_user("alice", "a-long-password").await;
    let (_, laptop) = login(&gw, "alice", "a-long-password").await;
    let (_, phone) = login(&gw, "alice", "a-long-password").await;
    let bob = gw.create_user("bob", "a-long-password").await;
    let (status, body) = gw.api_as(Some(&here), "POST", "/api/user/logout_all", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], 2, "{body}");
    assert_eq!(self_status(&gw, &here).await, 200);
    assert_eq!(self_status(&gw, &laptop).await, 401);
    assert_eq!(self_status(&gw, &phone).await, 401);
    assert_eq!(self_status(&gw, &bob).await, 200, "other accounts keep their sessions");
    assert_eq!(gw.api_as(None, "POST", "/api/user/logout_all", None).await.0, 401);
}

#[tokio::test]
async fn a_password_reset_by_mail_ends_every_session() {
    let gw = Gateway::start().await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    let cookie = gw.create_user("alice", "a-long-password").await;
    gw.sql("UPDATE users SET email = 'alice@example.com' WHERE username = 'alice'").await;
    assert_eq!(gw.api_as(None, "GET", "/api/reset_password?email=alice@example.com", None).await.0, 200);
    let body = smtp.messages().pop().expect("a reset mail").body();
    let token = body.split("token=").nth(1).unwrap().lines().next().unwrap().trim().to_string();
    let reset = json!({"email": "alice@example.com", "token": token});
    let (status, answer) = gw.api_as(None, "POST", "/api/user/reset", Some(reset)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(self_status(&gw, &cookie).await, 401);
}

// ---------------------------------------------------------------------------------------------------------------
// Per-account throttle

#[tokio::test]
async fn guesses_from_many_addresses_lock_the_account_after_five_failures() {
    let gw = Gateway::start_bare_with(|c| {
        // Each address is well inside the per-address limit: only the per-account count can stop this.
        c.critical_rate_limit =
            control_svc::config::RateLimit { enabled: true, count: 3, period: Duration::from_secs(600) };
    })
    .await;
    let mut answers = Vec::new();
    for n in 1..=25 {
        answers.push(login_from(&gw, &format!("198.51.100.{n}"), "root", &format!("guess-{n}")).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses[..4], [401; 4], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "{statuses:?}");
    let message = answers[4].1["message"].as_str().unwrap();
    assert!(message.contains("locked for 15 more minute"), "{message}");
    // While locked, even the right password is refused, and from a fresh address.
    let (status, body) = login_from(&gw, "203.0.113.77", "root", "123456").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["success"], false);
    // The lock is in the log, once.
    let locks =
        scalar(&gw, "SELECT COUNT(*) FROM logs WHERE user_id = 1 AND type = 4 AND content LIKE '%locked%'").await;
    assert_eq!(locks, 1);

    // Once the lock has run out, the right password gets in and clears the count; the next lock lasts longer.
    gw.sql("UPDATE login_throttle SET locked_until = 0").await;
    assert_eq!(login_from(&gw, "203.0.113.78", "root", "123456").await.0, 200);
    assert_eq!(scalar(&gw, "SELECT COUNT(*) FROM login_throttle").await, 0);
    for n in 1..=4 {
        assert_eq!(login_from(&gw, &format!("192.0.2.{n}"), "root", "wrong").await.0, 401);
    }
    gw.sql("UPDATE login_throttle SET locks = 1").await;
    let (status, body) = login_from(&gw, "192.0.2.5", "root", "wrong").await;
    assert_eq!(status, 429);
    assert!(body["message"].as_str().unwrap().contains("locked for 30 more minute"), "{body}");
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_count() {
    let gw = Gateway::start_bare().await;
    let guesses = (1..=25).map(|n| {
        let gw = &gw;
        async move { login_from(gw, &format!("198.51.100.{n}"), "root", &format!("guess-{n}")).await.0 }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 4, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 21, "{statuses:?}");
}

#[tokio::test]
async fn unknown_names_are_locked_alike_and_a_right_password_clears_the_count() {
    let gw = Gateway::start().await;
    gw.create_user("alice", "a-long-password").await;
    for _ in 0..4 {
        assert_eq!(login(&gw, "nobody", "wrong-password").await.0, 401);
        assert_eq!(login(&gw, "alice", "wrong-password").await.0, 401);
    }
    // Four failures, then the right password: the count starts again.
    assert_eq!(login(&gw, "alice", "a-long-password").await.0, 200);
    for _ in 0..4 {
        assert_eq!(login(&gw, "alice", "wrong-password").await.0, 401);
    }
    // The count ignores case: `ALICE` is the fifth failure of `alice`, and the lock holds for both.
    assert_eq!(login(&gw, "ALICE", "wrong-password").await.0, 429);
    assert_eq!(login(&gw, "alice", "a-long-password").await.0, 429);
    // An unknown name locks exactly like a real one, so the lock tells nobody which names exist.
    let (status, body) =
        gw.api_as(None, "POST", "/api/user/login", Some(json!({"username": "nobody", "password": "x"}))).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["message"].as_str().unwrap().contains("locked"), "{body}");
    // The table holds digests, not names.
    let db = gw.control.state.db();
    let subjects: Vec<String> =
        sqlx::query_scalar("SELECT subject FROM login_throttle").fetch_all(db.pool()).await.unwrap();
    assert!(subjects.iter().all(|s| s.len() == 64 && !s.contains("nobody")), "{subjects:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Email changes

async fn email_of(gw: &Gateway, username: &str) -> String {
    let db = gw.control.state.db();
    sqlx::query_scalar(&db.sql("SELECT email FROM users WHERE username = ?"))
        .bind(username)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_alone_cannot_change_the_email_address() {
    let gw = Gateway::start().await;
    let cookie = gw.create_user("alice", "a-long-password").await;
    gw.sql("UPDATE users SET email = 'alice@example.com' WHERE username = 'alice'").await;
    let (status, body) =
        gw.api_as(Some(&cookie), "PUT", "/api/user/self", Some(json!({"email": "attacker@evil.test"}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("/api/oauth/email/bind"), "{body}");
    assert_eq!(email_of(&gw, "alice").await, "alice@example.com");
    // Sending the current address back with the rest of the profile (as Veloera's UI does) is fine.
    let same = json!({"email": "Alice@example.com", "display_name": "Alice A."});
    let (status, body) = gw.api_as(Some(&cookie), "PUT", "/api/user/self", Some(same)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["display_name"], "Alice A.");
    assert_eq!(email_of(&gw, "alice").await, "alice@example.com");
}

#[tokio::test]
async fn binding_an_email_needs_the_code_sent_to_it_and_the_current_password() {
    let gw = Gateway::start().await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    let cookie = gw.create_user("alice", "a-long-password").await;
    let bind = |email: &str, code: &str, password: &str| {
        format!("/api/oauth/email/bind?email={email}&code={code}&password={password}")
    };

    assert_eq!(gw.api_as(None, "GET", "/api/verification?email=new@example.com", None).await.0, 200);
    let code = smtp.code_sent_to("new@example.com");
    // No password, a wrong password, a wrong code: refused, nothing changes.
    for (path, words) in [
        (format!("/api/oauth/email/bind?email=new@example.com&code={code}"), "password"),
        (bind("new@example.com", &code, "not-my-password"), "password is wrong"),
        (bind("new@example.com", "ZZZZZZ", "a-long-password"), "wrong or expired"),
        (bind("other@example.com", &code, "a-long-password"), "wrong or expired"),
    ] {
        let (status, body) = gw.api_as(Some(&cookie), "GET", &path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{path}: {body}");
    }
    assert_eq!(email_of(&gw, "alice").await, "");
    // Anonymous callers are refused before anything is checked.
    assert_eq!(gw.api_as(None, "GET", &bind("new@example.com", &code, "a-long-password"), None).await.0, 401);

    let (status, body) =
        gw.api_as(Some(&cookie), "GET", &bind("new@example.com", &code, "a-long-password"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(email_of(&gw, "alice").await, "new@example.com");
    let logged = scalar(&gw, "SELECT COUNT(*) FROM logs WHERE type = 4 AND content LIKE '%new@example.com%'").await;
    assert_eq!(logged, 1);
    // The code worked once.
    let (status, _) = gw.api_as(Some(&cookie), "GET", &bind("new@example.com", &code, "a-long-password"), None).await;
    assert_eq!(status, 400);

    // POST with a JSON body keeps the password out of the URL.
    assert_eq!(gw.api_as(None, "GET", "/api/verification?email=newer@example.com", None).await.0, 200);
    let code = smtp.code_sent_to("newer@example.com");
    let body = json!({"email": "newer@example.com", "code": code, "password": "a-long-password"});
    let (status, reply) = gw.api_as(Some(&cookie), "POST", "/api/oauth/email/bind", Some(body)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(email_of(&gw, "alice").await, "newer@example.com");
}

#[tokio::test]
async fn wrong_passwords_at_the_email_bind_count_towards_the_account_lock() {
    let gw = Gateway::start().await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    let cookie = gw.create_user("alice", "a-long-password").await;
    let path = "/api/oauth/email/bind?email=new@example.com&code=AAAAAA&password=guess";
    for _ in 0..4 {
        assert_eq!(gw.api_as(Some(&cookie), "GET", path, None).await.0, 400);
    }
    assert_eq!(gw.api_as(Some(&cookie), "GET", path, None).await.0, 429);
    assert_eq!(login(&gw, "alice", "a-long-password").await.0, 429);
}

// ---------------------------------------------------------------------------------------------------------------
// Reset mail

#[tokio::test]
async fn the_reset_mail_answers_alike_for_every_address_even_when_the_mail_server_fails() {
    let gw = Gateway::start().await;
    // A port nothing listens on: every mail fails.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    send_site_mail_to(&gw, port).await;
    gw.create_user("alice", "a-long-password").await;
    gw.sql("UPDATE users SET email = 'alice@example.com' WHERE username = 'alice'").await;

    let known = gw.api_as(None, "GET", "/api/reset_password?email=alice@example.com", None).await;
    let unknown = gw.api_as(None, "GET", "/api/reset_password?email=nobody@example.com", None).await;
    assert_eq!(known.0, 200, "{}", known.1);
    assert_eq!(known, unknown);
    // Asking again at once (inside the resend cooldown) answers alike as well.
    let again = gw.api_as(None, "GET", "/api/reset_password?email=alice@example.com", None).await;
    assert_eq!(again, unknown);
}
