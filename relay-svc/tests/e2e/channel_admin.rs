//! Veloera's channel administration (`/api/channel/…`) end to end: what the admin API answers, what it
//! stores, and what the relay then does with the channels.

use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};

/// Calls the admin API, expects success, and returns `data`.
async fn ok(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, reply) = gw.api(method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {reply}");
    assert_eq!(reply["success"], true, "{method} {path}: {reply}");
    reply["data"].clone()
}

/// Calls the admin API and expects a refusal with `status` whose message contains `words`.
async fn refused(gw: &Gateway, method: &str, path: &str, body: Option<Value>, status: u16, words: &str) {
    let (got, reply) = gw.api(method, path, body).await;
    assert_eq!(got, status, "{method} {path}: {reply}");
    assert_eq!(reply["success"], false, "{method} {path}: {reply}");
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{method} {path}: {message:?} does not mention {words:?}");
}

async fn channel(gw: &Gateway, id: i64) -> Value {
    ok(gw, "GET", &format!("/api/channel/{id}"), None).await
}

/// The ids of a search's array or of a paged list's `items`, in order.
fn ids_of(list: &Value) -> Vec<i64> {
    let rows = if list.is_array() { list } else { &list["items"] };
    rows.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// The ids a channel list or search answers with, in order.
async fn listed(gw: &Gateway, path: impl AsRef<str>) -> Vec<i64> {
    ids_of(&ok(gw, "GET", path.as_ref(), None).await)
}

/// The status of a chat for `model` once the relay has applied every channel change control announced.
async fn chat_status_once_caught_up(gw: &Gateway, key: &str, model: &str) -> u16 {
    gw.wait_relay_caught_up().await;
    gw.chat("/v1", key, chat_body(model)).await.status().as_u16()
}

async fn scalar(gw: &Gateway, query: &str) -> i64 {
    let db = gw.control.state.db();
    sqlx::query_scalar::<_, i64>(&db.sql(query)).fetch_one(db.pool()).await.unwrap()
}

fn other_info(channel: &Value) -> Value {
    serde_json::from_str(channel["other_info"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn updating_a_channel_without_a_key_keeps_its_keys_and_never_shows_them() {
    let gw = Gateway::start().await;
    gw.wait_relay_caught_up().await;
    let id = gw
        .create_channel(
            json!({"name": "two keys", "type": 1, "key": "sk-first-secret-key-aaaa\nsk-second-secret-key-bbbb",
            "base_url": gw.mock.base_url(), "models": "gpt-4o", "priority": 9}),
        )
        .await;
    let renamed = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "name": "renamed", "key": ""}))).await;
    let reweighted = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "weight": 7}))).await;
    let listed = ok(&gw, "GET", "/api/channel/", None).await;
    for shown in [&renamed, &reweighted, &listed] {
        let text = shown.to_string();
        assert!(!text.contains("first-secret") && !text.contains("second-secret"), "{text}");
    }
    assert_eq!(renamed["name"], "renamed");
    assert_eq!(reweighted["name"], "renamed", "fields not given are kept");
    assert_eq!(reweighted["weight"], 7);
    assert_eq!(reweighted["priority"], 9);
    assert_eq!(reweighted["key"], "sk-f**********aaaa,sk-s**********bbbb");

    // The kept keys still reach the upstream (this channel outranks the default one for gpt-4o).
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o")).await.status(), 200);
    let used = gw.mock.received().last().unwrap().authorization.clone();
    assert!(
        used == "Bearer sk-first-secret-key-aaaa" || used == "Bearer sk-second-secret-key-bbbb",
        "upstream saw {used:?}"
    );
}

#[tokio::test]
async fn updating_a_channel_with_a_new_key_sends_requests_with_the_new_key() {
    let gw = Gateway::start().await;
    gw.wait_relay_caught_up().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    assert_eq!(gw.mock.received()[0].authorization, "Bearer sk-upstream-1");
    let id = listed(&gw, "/api/channel/").await[0];

    let updated =
        ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "key": " sk-replaced-key-9999 , sk-spare-key-0000 "})))
            .await;
    assert_eq!(updated["key"], "sk-r**********9999,sk-s**********0000");
    assert!(!updated.to_string().contains("replaced-key"));
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    let now = gw.mock.received().last().unwrap().authorization.clone();
    assert!(now == "Bearer sk-replaced-key-9999" || now == "Bearer sk-spare-key-0000", "upstream saw {now:?}");
    // The old key is gone for good.
    for _ in 0..5 {
        gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
        assert_ne!(gw.mock.received().last().unwrap().authorization, "Bearer sk-upstream-1");
    }
}

#[tokio::test]
async fn an_update_is_validated_whole_and_refused_without_changing_anything() {
    let gw = Gateway::start().await;
    let id = listed(&gw, "/api/channel/").await[0];
    let before = channel(&gw, id).await;
    for (body, status, words) in [
        (json!({"id": 999_999, "name": "x"}), 404, "channel 999999 not found"),
        (json!({"id": id, "weight": -1}), 400, "weight must not be negative"),
        (json!({"id": id, "models": " , "}), 400, "models is required"),
        (json!({"id": id, "name": ""}), 400, "name is required"),
        (json!({"id": id, "model_mapping": "[1]"}), 400, "model_mapping"),
        (json!({"id": id, "base_url": "ftp://x"}), 400, "base_url"),
        (json!({"id": id, "status": 7}), 400, "status must be"),
        (json!({"id": id, "status": 3}), 400, "status 3 (auto-disabled) is set by the gateway"),
        // The kept key is checked against the new type: an AWS key is AK|SK|region.
        (json!({"id": id, "type": 33}), 400, "AK|SK|region"),
        (json!({"id": id, "tag": "t".repeat(65)}), 400, "tag is longer than 64"),
        (json!({"name": "no id"}), 400, "invalid request body"),
    ] {
        refused(&gw, "PUT", "/api/channel/", Some(body), status, words).await;
    }
    assert_eq!(channel(&gw, id).await, before);
}

#[tokio::test]
async fn disabling_by_hand_records_why_and_enabling_clears_the_reason_and_the_circuit() {
    let gw = Gateway::start().await;
    let id = listed(&gw, "/api/channel/").await[0];
    let disabled = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "status": 2}))).await;
    assert_eq!(disabled["status"], 2);
    let info = other_info(&disabled);
    assert_eq!(info["status_reason"], "disabled by an administrator");
    let disabled_at = info["status_time"].as_i64().unwrap();
    assert!(disabled_at > 1_700_000_000, "{info}");
    // Saving the disabled channel again keeps when it was disabled.
    gw.sql(&format!("UPDATE channels SET status_time = 1234 WHERE id = {id}")).await;
    let resaved = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "status": 2, "name": "resaved"}))).await;
    assert_eq!(other_info(&resaved)["status_time"], 1234);

    // An auto-disabled channel with an open circuit, as the health checks leave it.
    gw.sql(&format!(
        "UPDATE channels SET status = 3, status_reason = 'invalid key', status_time = 5, fail_count = 4, \
         fail_window_start = 6, probe_at = 7, backoff_secs = 8 WHERE id = {id}"
    ))
    .await;
    // Saving it unchanged (the UI sends the whole channel back) is allowed and keeps the reason.
    let kept = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "status": 3}))).await;
    assert_eq!(other_info(&kept)["status_reason"], "invalid key");
    let enabled = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "status": 1}))).await;
    assert_eq!(enabled["status"], 1);
    assert_eq!(other_info(&enabled), json!({"status_reason": "", "status_time": 0}));
    let circuit = scalar(
        &gw,
        &format!("SELECT fail_count + fail_window_start + probe_at + backoff_secs FROM channels WHERE id = {id}"),
    )
    .await;
    assert_eq!(circuit, 0);
}

#[tokio::test]
async fn disabling_a_tag_stops_its_channels_while_the_others_serve_and_enabling_restores_them() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.wait_relay_caught_up().await;
    let base = gw.mock.base_url();
    let blue_a = gw
        .create_channel(json!({"name": "blue a", "type": 1, "key": "sk-blue-a", "base_url": base, "models": "gpt-4o", "tag": "blue"}))
        .await;
    let blue_b = gw
        .create_channel(json!({"name": "blue b", "type": 1, "key": "sk-blue-b", "base_url": base, "models": "gpt-4o", "tag": "blue"}))
        .await;
    gw.create_channel(
        json!({"name": "plain", "type": 1, "key": "sk-plain", "base_url": base, "models": "gpt-4o-mini"}),
    )
    .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o")).await.status(), 200);

    assert_eq!(ok(&gw, "POST", "/api/channel/tag/disabled", Some(json!({"tag": "blue"}))).await, 2);
    assert_eq!(chat_status_once_caught_up(&gw, &key, "gpt-4o").await, 503);
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    assert_eq!(gw.mock.received().last().unwrap().authorization, "Bearer sk-plain");
    for id in [blue_a, blue_b] {
        let c = channel(&gw, id).await;
        assert_eq!(c["status"], 2);
        assert_eq!(other_info(&c)["status_reason"], "disabled by an administrator");
    }

    gw.sql(&format!("UPDATE channels SET fail_count = 3, probe_at = 99 WHERE id = {blue_a}")).await;
    assert_eq!(ok(&gw, "POST", "/api/channel/tag/enabled", Some(json!({"tag": "blue"}))).await, 2);
    assert_eq!(chat_status_once_caught_up(&gw, &key, "gpt-4o").await, 200);
    let blue_key = gw.mock.received().last().unwrap().authorization.clone();
    assert!(blue_key == "Bearer sk-blue-a" || blue_key == "Bearer sk-blue-b", "{blue_key}");
    for id in [blue_a, blue_b] {
        let c = channel(&gw, id).await;
        assert_eq!(c["status"], 1);
        assert_eq!(other_info(&c), json!({"status_reason": "", "status_time": 0}));
    }
    assert_eq!(scalar(&gw, &format!("SELECT fail_count + probe_at FROM channels WHERE id = {blue_a}")).await, 0);
}

#[tokio::test]
async fn tags_are_listed_set_in_batches_and_edited_together() {
    let gw = Gateway::start().await;
    let spec = |name: &str| json!({"name": name, "type": 1, "key": "sk-k", "base_url": gw.mock.base_url(), "models": "gpt-4o"});
    let a = gw.create_channel(spec("a")).await;
    let b = gw.create_channel(spec("b")).await;
    let c = gw.create_channel(spec("c")).await;
    assert_eq!(ok(&gw, "GET", "/api/channel/tags", None).await, json!([]));

    assert_eq!(ok(&gw, "POST", "/api/channel/batch/tag", Some(json!({"ids": [a, b, a], "tag": " blue "}))).await, 2);
    assert_eq!(ok(&gw, "POST", "/api/channel/batch/tag", Some(json!({"ids": [c], "tag": "amber"}))).await, 1);
    assert_eq!(ok(&gw, "GET", "/api/channel/tags", None).await, json!(["amber", "blue"]));

    let edit = json!({"tag": "blue", "new_tag": "green", "priority": 5, "weight": 3, "models": "gpt-4o, gpt-4o-mini",
        "groups": "default,vip", "model_mapping": "{\"gpt-4o\": \"gpt-4o-2024-08-06\"}"});
    assert_eq!(ok(&gw, "PUT", "/api/channel/tag", Some(edit)).await, 2);
    for id in [a, b] {
        let ch = channel(&gw, id).await;
        assert_eq!(
            (&ch["tag"], &ch["priority"], &ch["weight"], &ch["models"], &ch["group"]),
            (&json!("green"), &json!(5), &json!(3), &json!("gpt-4o,gpt-4o-mini"), &json!("default,vip"))
        );
        assert_eq!(ch["model_mapping"], "{\"gpt-4o\": \"gpt-4o-2024-08-06\"}");
    }
    let untouched = channel(&gw, c).await;
    assert_eq!(
        (&untouched["tag"], &untouched["priority"], &untouched["models"]),
        (&json!("amber"), &json!(0), &json!("gpt-4o"))
    );
    assert_eq!(ok(&gw, "GET", "/api/channel/tags", None).await, json!(["amber", "green"]));

    // Only the fields given change.
    assert_eq!(ok(&gw, "PUT", "/api/channel/tag", Some(json!({"tag": "green", "weight": 0}))).await, 2);
    assert_eq!(channel(&gw, a).await["priority"], 5);
    assert_eq!(channel(&gw, a).await["weight"], 0);

    // An empty tag removes it.
    assert_eq!(ok(&gw, "POST", "/api/channel/batch/tag", Some(json!({"ids": [a, b, c], "tag": ""}))).await, 3);
    assert_eq!(ok(&gw, "GET", "/api/channel/tags", None).await, json!([]));
}

#[tokio::test]
async fn channels_are_deleted_one_at_a_time_in_batches_and_all_disabled_at_once() {
    let gw = Gateway::start().await;
    let spec = |name: &str| json!({"name": name, "type": 1, "key": "sk-k", "base_url": gw.mock.base_url(), "models": "gpt-4o"});
    let mut ids = Vec::new();
    for name in ["one", "two", "three", "four", "five", "six"] {
        ids.push(gw.create_channel(spec(name)).await);
    }
    let [one, two, three, four, five, six] = ids[..] else { unreachable!() };
    for id in &ids {
        gw.sql(&format!("INSERT INTO channel_keys (channel_id, key_digest) VALUES ({id}, 'digest-{id}')")).await;
    }
    let keys_of = |id: i64| format!("SELECT COUNT(*) FROM channel_keys WHERE channel_id = {id}");

    let (status, reply) = gw.api("DELETE", &format!("/api/channel/{one}"), None).await;
    assert_eq!((status, &reply["success"]), (200, &json!(true)), "{reply}");
    refused(&gw, "GET", &format!("/api/channel/{one}"), None, 404, &format!("channel {one} not found")).await;
    refused(&gw, "DELETE", &format!("/api/channel/{one}"), None, 404, &format!("channel {one} not found")).await;
    assert_eq!(scalar(&gw, &keys_of(one)).await, 0);

    assert_eq!(ok(&gw, "POST", "/api/channel/batch", Some(json!({"ids": [two, three, two]}))).await, 2);
    assert_eq!(scalar(&gw, &keys_of(two)).await + scalar(&gw, &keys_of(three)).await, 0);
    // One unknown id and nothing is deleted.
    let four_keys = scalar(&gw, &keys_of(four)).await;
    assert!(four_keys >= 1);
    refused(&gw, "POST", "/api/channel/batch", Some(json!({"ids": [four, 424242]})), 404, "channel 424242 not found")
        .await;
    assert_eq!(channel(&gw, four).await["id"], four);
    assert_eq!(scalar(&gw, &keys_of(four)).await, four_keys);

    ok(&gw, "PUT", "/api/channel/", Some(json!({"id": four, "status": 2}))).await;
    gw.sql(&format!("UPDATE channels SET status = 3 WHERE id = {five}")).await;
    assert_eq!(ok(&gw, "DELETE", "/api/channel/disabled", None).await, 2);
    assert_eq!(scalar(&gw, &keys_of(four)).await + scalar(&gw, &keys_of(five)).await, 0);
    assert!(scalar(&gw, &keys_of(six)).await >= 1, "the enabled channel keeps its key rows");
    let left = listed(&gw, "/api/channel/?id_sort=true").await;
    assert_eq!(left.len(), 2, "the default channel and six remain: {left:?}");
    assert_eq!(left[0], six);
    assert_eq!(ok(&gw, "DELETE", "/api/channel/disabled", None).await, 0);
}

#[tokio::test]
async fn the_channel_list_pages_from_zero_with_its_total_and_sorts_by_priority_or_id() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let mut ids = Vec::new();
    for (name, priority) in [("low", 0), ("high", 10), ("mid", 5), ("high too", 10)] {
        ids.push(
            gw.create_channel(json!({"name": name, "type": 1, "key": "sk-k", "base_url": gw.mock.base_url(), "models": "gpt-4o", "priority": priority}))
                .await,
        );
    }
    let [low, high, mid, high_too] = ids[..] else { unreachable!() };
    let list = |q: &str| listed(&gw, format!("/api/channel/{q}"));
    assert_eq!(list("").await, vec![high_too, high, mid, low], "priority first, then newest");
    // Veloera's channel pages count from 0: its UI's second page is p=1.
    assert_eq!(list("?p=0&page_size=2").await, vec![high_too, high]);
    assert_eq!(list("?p=1&page_size=2").await, vec![mid, low]);
    assert_eq!(list("?p=2&page_size=2").await, Vec::<i64>::new());
    assert_eq!(list("?p=0&page_size=3&id_sort=true&tag_mode=false").await, vec![high_too, mid, high]);
    assert_eq!(list("?p=0").await.len(), 4, "ten rows by default");
    let page = ok(&gw, "GET", "/api/channel/?p=1&page_size=2", None).await;
    assert_eq!(
        (page["total"].clone(), page["page"].clone(), page["page_size"].clone()),
        (json!(4), json!(1), json!(2))
    );
    // Unreadable numbers are the first page and the default size, as Veloera's `strconv.Atoi` makes them.
    assert_eq!(list("?p=NaN&page_size=abc").await, vec![high_too, high, mid, low]);
    assert_eq!(list("?p=-3&page_size=1.5").await.len(), 4);
}

#[tokio::test]
async fn search_matches_id_name_or_base_url_and_filters_groups_and_models_exactly() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let alpha = gw
        .create_channel(json!({"name": "Alpha 100%", "type": 1, "key": "k", "base_url": "https://alpha.example/v1",
            "models": "gpt-4o,claude-3", "group": "default,vip"}))
        .await;
    let beta = gw
        .create_channel(json!({"name": "beta_one", "type": 1, "key": "k", "base_url": "https://beta.example",
            "models": "gpt-4o-mini", "group": "default"}))
        .await;
    let search = |q: &str| listed(&gw, format!("/api/channel/search?{q}"));
    assert_eq!(search("keyword=ALPHA").await, vec![alpha], "case-insensitive name");
    assert_eq!(search("keyword=beta.example").await, vec![beta], "base URL");
    assert_eq!(search(&format!("keyword={beta}")).await, vec![beta], "id");
    assert_eq!(search("keyword=100%25").await, vec![alpha], "a literal percent sign");
    assert_eq!(search("keyword=alpha_100").await, Vec::<i64>::new(), "underscore is not a wildcard");
    assert_eq!(search("keyword=a%25o").await, Vec::<i64>::new(), "percent is not a wildcard");
    assert_eq!(search("keyword=a_one").await, vec![beta]);
    assert_eq!(search("group=vip").await, vec![alpha]);
    assert_eq!(search("group=vi").await, Vec::<i64>::new(), "groups match whole names");
    assert_eq!(search("model=gpt-4o").await, vec![alpha], "models match whole names");
    assert_eq!(search("model=gpt-4o-mini&group=default").await, vec![beta]);
    assert_eq!(search("keyword=example&group=default&id_sort=true").await, vec![beta, alpha]);
    assert_eq!(search("keyword=&group=&model=").await.len(), 2);
    assert_eq!(search("keyword=nothing-like-this").await, Vec::<i64>::new());
}

#[tokio::test]
async fn models_enabled_lists_the_models_of_enabled_channels_sorted_once() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let base = gw.mock.base_url();
    gw.create_channel(json!({"name": "a", "type": 1, "key": "k", "base_url": base, "models": "zeta,alpha"})).await;
    gw.create_channel(json!({"name": "b", "type": 1, "key": "k", "base_url": base, "models": "alpha,mid"})).await;
    gw.create_channel(json!({"name": "off", "type": 1, "key": "k", "base_url": base, "models": "hidden", "status": 2}))
        .await;
    assert_eq!(ok(&gw, "GET", "/api/channel/models_enabled", None).await, json!(["alpha", "mid", "zeta"]));
}

#[tokio::test]
async fn bad_channel_admin_requests_get_a_clear_message() {
    let gw = Gateway::start().await;
    let too_many: Vec<i64> = (1..=1001).collect();
    for (method, path, body, status, words) in [
        ("POST", "/api/channel/batch", json!({"ids": []}), 400, "ids must list at least one channel id"),
        ("POST", "/api/channel/batch", json!({}), 400, "ids must list at least one channel id"),
        ("POST", "/api/channel/batch", json!({"ids": too_many}), 400, "at most 1000"),
        ("POST", "/api/channel/batch", json!({"ids": "1,2"}), 400, "invalid request body"),
        ("POST", "/api/channel/batch/tag", json!({"ids": [], "tag": "x"}), 400, "ids must list"),
        ("POST", "/api/channel/batch/tag", json!({"ids": [404404], "tag": "x"}), 404, "channel 404404 not found"),
        ("POST", "/api/channel/tag/disabled", json!({"tag": " "}), 400, "tag is required"),
        ("POST", "/api/channel/tag/enabled", json!({}), 400, "tag is required"),
        ("POST", "/api/channel/tag/enabled", json!({"tag": "nope"}), 404, "no channel has the tag \"nope\""),
        ("PUT", "/api/channel/tag", json!({"tag": "nope"}), 400, "nothing to change"),
        ("PUT", "/api/channel/tag", json!({"tag": "nope", "weight": -2}), 400, "weight must not be negative"),
        ("PUT", "/api/channel/tag", json!({"tag": "nope", "models": ""}), 400, "models is required"),
        ("PUT", "/api/channel/tag", json!({"tag": "nope", "new_tag": ""}), 400, "new_tag must not be empty"),
        ("PUT", "/api/channel/tag", json!({"tag": "nope", "model_mapping": "x"}), 400, "model_mapping"),
        ("PUT", "/api/channel/tag", json!({"tag": "nope", "priority": 1}), 404, "no channel has the tag"),
    ] {
        refused(&gw, method, path, Some(body), status, words).await;
    }
    refused(&gw, "DELETE", "/api/channel/abc", None, 400, "the channel id in the path must be a number").await;
    refused(&gw, "GET", "/api/channel/abc", None, 400, "the channel id in the path must be a number").await;
    refused(&gw, "DELETE", "/api/channel/777", None, 404, "channel 777 not found").await;
}

#[tokio::test]
async fn channel_administration_is_for_administrators_only() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bobs-password").await;
    for (method, path) in [
        ("PUT", "/api/channel/"),
        ("DELETE", "/api/channel/1"),
        ("POST", "/api/channel/batch"),
        ("DELETE", "/api/channel/disabled"),
        ("GET", "/api/channel/tags"),
        ("POST", "/api/channel/tag/disabled"),
        ("POST", "/api/channel/tag/enabled"),
        ("PUT", "/api/channel/tag"),
        ("POST", "/api/channel/batch/tag"),
        ("GET", "/api/channel/search?keyword=mock"),
        ("GET", "/api/channel/models_enabled"),
    ] {
        let resp = gw
            .http
            .request(method.parse().unwrap(), gw.url(path))
            .header("cookie", &bob)
            .json(&json!({"id": 1, "ids": [1], "tag": "x", "status": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
    }
    assert_eq!(channel(&gw, 1).await["status"], 1, "nothing changed");
}

/// An administrator (not root) signed in, with its cookie.
async fn administrator(gw: &Gateway, username: &str) -> String {
    let cookie = gw.create_user(username, "a-long-password").await;
    let (_, me) = gw.api_as(Some(&cookie), "GET", "/api/user/self", None).await;
    let id = me["data"]["id"].as_i64().unwrap();
    ok(gw, "POST", "/api/user/manage", Some(json!({"id": id, "action": "promote"}))).await;
    cookie
}

async fn manage_logs(gw: &Gateway) -> Vec<String> {
    let db = gw.control.state.db();
    sqlx::query_scalar("SELECT content FROM logs WHERE type = 3 ORDER BY id").fetch_all(db.pool()).await.unwrap()
}

#[tokio::test]
async fn an_administrator_cannot_send_stored_keys_to_a_new_destination() {
    let gw = Gateway::start().await;
    let admin = administrator(&gw, "admin").await;
    let id = gw
        .create_channel(json!({"name": "root-owned", "type": 1, "key": "sk-root-secret", "base_url": gw.mock.base_url(), "models": "m1"}))
        .await;
    let before = channel(&gw, id).await;
    for (change, field) in [
        (json!({"id": id, "base_url": "http://attacker.test", "key": ""}), "base_url"),
        (json!({"id": id, "base_url": "http://attacker.test"}), "base_url"),
        (json!({"id": id, "type": 8}), "type"),
        (json!({"id": id, "setting": r#"{"proxy":"http://attacker.test:3128"}"#}), "proxy"),
    ] {
        let (status, reply) = gw.api_as(Some(&admin), "PUT", "/api/channel/", Some(change.clone())).await;
        assert_eq!(status, 403, "{change}: {reply}");
        let message = reply["message"].as_str().unwrap();
        assert!(message.contains(field) && message.contains("key"), "{change}: {message}");
    }
    assert_eq!(channel(&gw, id).await, before, "nothing changed");
    assert!(manage_logs(&gw).await.iter().all(|l| !l.contains("root-owned")));

    // Other fields need no keys and leave no destination log.
    let (status, reply) = gw.api_as(Some(&admin), "PUT", "/api/channel/", Some(json!({"id": id, "weight": 3}))).await;
    assert_eq!(status, 200, "{reply}");
    assert!(manage_logs(&gw).await.iter().all(|l| !l.contains("root-owned")));

    // With the keys entered again the administrator may move the channel; root may without them. Both are logged.
    let moved = json!({"id": id, "base_url": "http://elsewhere.test", "key": "sk-admins-own"});
    let (status, reply) = gw.api_as(Some(&admin), "PUT", "/api/channel/", Some(moved)).await;
    assert_eq!(status, 200, "{reply}");
    ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "base_url": gw.mock.base_url()}))).await;
    let logs: Vec<String> = manage_logs(&gw).await.into_iter().filter(|l| l.contains("root-owned")).collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs[0].contains("administrator admin") && logs[0].contains("http://elsewhere.test"), "{logs:?}");
    assert!(logs[0].contains("keys entered again"), "{logs:?}");
    assert!(logs[1].contains("administrator root") && logs[1].contains("keys kept"), "{logs:?}");
}

#[tokio::test]
async fn a_proxy_password_is_write_only() {
    let gw = Gateway::start().await;
    let setting = r#"{"proxy":"http://user:s3cret@127.0.0.1:9","force_format":true}"#;
    let id = gw
        .create_channel(json!({"name": "proxied", "type": 1, "key": "sk-p", "base_url": gw.mock.base_url(), "models": "m1", "setting": setting}))
        .await;
    let stored = || async {
        let db = gw.control.state.db();
        sqlx::query_scalar::<_, String>(&db.sql("SELECT setting FROM channels WHERE id = ?"))
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap()
    };
    let shown = channel(&gw, id).await;
    let shown_setting = shown["setting"].as_str().unwrap().to_string();
    assert!(!shown_setting.contains("s3cret"), "{shown_setting}");
    assert!(shown_setting.contains("http://user:********@127.0.0.1:9"), "{shown_setting}");
    for path in ["/api/channel/?p=1&page_size=100", "/api/channel/search?keyword=proxied"] {
        let (_, listed) = gw.api("GET", path, None).await;
        assert!(!listed.to_string().contains("s3cret"), "{path}: {listed}");
    }

    // Sending back what was shown keeps the stored password.
    ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "setting": shown_setting, "name": "proxied-2"}))).await;
    assert!(stored().await.contains("user:s3cret@127.0.0.1:9"), "{}", stored().await);
    // The placeholder cannot carry the password to another proxy, nor stand for one that was never stored.
    let elsewhere = r#"{"proxy":"http://user:********@attacker.test:9"}"#;
    refused(
        &gw,
        "PUT",
        "/api/channel/",
        Some(json!({"id": id, "setting": elsewhere})),
        400,
        "enter the proxy password again",
    )
    .await;
    let fresh = json!({"name": "new", "type": 1, "key": "sk-n", "base_url": gw.mock.base_url(), "models": "m1", "setting": r#"{"proxy":"http://u:********@127.0.0.1:9"}"#});
    refused(&gw, "POST", "/api/channel/", Some(fresh), 400, "enter the proxy password again").await;
    // A new password replaces the old one, and is not shown either.
    let replaced = r#"{"proxy":"http://user:n3w-pass@127.0.0.1:9"}"#;
    let shown = ok(&gw, "PUT", "/api/channel/", Some(json!({"id": id, "setting": replaced}))).await;
    assert!(!shown.to_string().contains("n3w-pass"), "{shown}");
    assert!(stored().await.contains("n3w-pass"));
}
