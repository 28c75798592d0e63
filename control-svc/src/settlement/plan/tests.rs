use super::*;
use crate::settlement::FailedAttempt;

/// gpt-4o-mini at the default prices: (100 + 50×4) × 0.075 = 22.5 → 23.
const COST: i64 = 23;

fn answered(id: &str) -> UsageReport {
    UsageReport {
        request_id: id.into(),
        user_id: 1,
        token_id: 10,
        channel_id: 5,
        model: "gpt-4o-mini".into(),
        upstream_model: "gpt-4o-mini".into(),
        prompt_tokens: 100,
        completion_tokens: 50,
        group: "default".into(),
        created_at_secs: 7200 + 5,
        outcome: Outcome::Answered,
        ..Default::default()
    }
}

fn planned<'r>(reports: &[&'r UsageReport], logs: LogSwitches, known: &Known) -> Settlement<'r> {
    let options = SettleOptions { logs, quota_remind_threshold: 0 };
    plan(reports, &PriceTable::default(), options, known).unwrap()
}

#[test]
fn answered_requests_are_charged_to_token_user_and_channel_once_per_row() {
    let (a, b) = (answered("a"), answered("b"));
    let s = planned(&[&a, &b], LogSwitches::default(), &Known::default());
    assert_eq!(s.tokens[&10], Spend { used: 2 * COST, debit: 2 * COST });
    let both = Spend { used: 2 * COST, debit: 2 * COST };
    assert_eq!(s.users[&1], UserCharge { spend: both, requests: 2, closed_lease_cover: 0, warn_below: 0 });
    assert_eq!(s.channels[&5], 2 * COST);
    let hour = s.hourly[&(1, "gpt-4o-mini".to_string(), 5, 7200)];
    assert_eq!((hour.requests, hour.tokens, hour.quota), (2, 300, 2 * COST));
    assert_eq!(s.logs.len(), 2);
}

#[test]
fn failed_and_unknown_outcomes_charge_nothing_but_count_their_attempts_as_errors() {
    let attempt =
        FailedAttempt { channel_id: 6, key_slot: 0, status_code: 502, error: "bad gateway".into(), fault: None };
    let failed = UsageReport { outcome: Outcome::Failed, failed_attempts: vec![attempt], ..answered("f") };
    let unknown = UsageReport { outcome: Outcome::Unknown, ..answered("u") };
    let s = planned(&[&failed, &unknown], LogSwitches::default(), &Known::default());
    assert!(s.tokens.is_empty() && s.users.is_empty() && s.channels.is_empty());
    assert_eq!(s.hourly[&(1, "gpt-4o-mini".to_string(), 6, 7200)].errors, 1);
    assert!(s.logs.is_empty(), "error rows only while LogErrorEnabled is on");
    let s = planned(&[&failed], LogSwitches { error: true, ..LogSwitches::default() }, &Known::default());
    assert_eq!(s.logs.len(), 1);
    assert_eq!(s.logs[0].content, "upstream request failed with HTTP 502");
    assert!(s.logs[0].other.contains("bad gateway"));
}

#[test]
fn a_cancelled_request_pays_for_what_was_reported() {
    let cancelled = UsageReport { outcome: Outcome::Cancelled, ..answered("c") };
    let s = planned(&[&cancelled], LogSwitches::default(), &Known::default());
    assert_eq!(s.tokens[&10].used, COST);
}

#[test]
fn a_lease_covers_what_it_holds_and_the_overrun_is_debited() {
    let (a, b) = (answered("a"), answered("b"));
    let (a, b) = (UsageReport { lease_id: "L".into(), ..a }, UsageReport { lease_id: "L".into(), ..b });
    let lease = LeaseState { amount: COST + 5, used: 0, closed: false };
    let known = Known { leases: BTreeMap::from([("L".to_string(), lease)]), ..Known::default() };
    let s = planned(&[&a, &b], LogSwitches::default(), &known);
    assert_eq!(s.leases[&"L"], 2 * COST);
    assert_eq!(s.tokens[&10], Spend { used: 2 * COST, debit: COST - 5 });
    assert_eq!(s.users[&1].closed_lease_cover, 0);
}

#[test]
fn an_unknown_lease_covers_nothing_and_a_closed_one_counts_its_cover() {
    let unknown = UsageReport { lease_id: "gone".into(), ..answered("a") };
    let s = planned(&[&unknown], LogSwitches::default(), &Known::default());
    assert!(s.leases.is_empty());
    assert_eq!(s.tokens[&10].debit, COST);
    let closed = UsageReport { lease_id: "L".into(), ..answered("b") };
    let lease = LeaseState { amount: 100, used: 0, closed: true };
    let known = Known { leases: BTreeMap::from([("L".to_string(), lease)]), ..Known::default() };
    let s = planned(&[&closed], LogSwitches::default(), &known);
    assert_eq!((s.tokens[&10].debit, s.users[&1].closed_lease_cover), (0, COST));
}

#[test]
fn log_rows_show_the_address_and_content_only_when_allowed() {
    let chat = ChatContent { prompt: "hi".into(), answer: "hello".into() };
    let r = UsageReport { client_ip: "192.0.2.1".into(), content: Some(chat), ..answered("a") };
    let s = planned(&[&r], LogSwitches::default(), &Known::default());
    assert_eq!((s.logs[0].client_ip, s.logs[0].chat.is_some()), ("", false));
    let user = LogUser { username: "ann".into(), show_ip: true, prefs: Preferences::default() };
    let known = Known { users: BTreeMap::from([(1, user)]), ..Known::default() };
    let s = planned(&[&r], LogSwitches { content: true, ..LogSwitches::default() }, &known);
    assert_eq!((s.logs[0].client_ip, s.logs[0].username.as_str()), ("192.0.2.1", "ann"));
    assert_eq!(s.logs[0].chat.map(|c| c.answer.as_str()), Some("hello"));
}

#[test]
fn consume_logs_carry_the_ratios_and_the_retry_trail() {
    let attempt = FailedAttempt { channel_id: 6, ..FailedAttempt::default() };
    let r = UsageReport { failed_attempts: vec![attempt], upstream_model: "mini".into(), ..answered("a") };
    let s = planned(&[&r], LogSwitches::default(), &Known::default());
    let other: serde_json::Value = serde_json::from_str(&s.logs[0].other).unwrap();
    assert_eq!(other["model_ratio"], 0.075);
    assert_eq!(other["is_model_mapped"], true);
    assert_eq!(other["admin_info"]["use_channel"], serde_json::json!([6, 5]));
    let off = LogSwitches { consume: false, ..LogSwitches::default() };
    assert!(planned(&[&r], off, &Known::default()).logs.is_empty());
}

#[test]
fn users_are_warned_below_their_own_threshold_else_the_site_one() {
    let (a, mut b) = (answered("a"), answered("b"));
    b.user_id = 2;
    let prefs = Preferences { quota_warning_threshold: 500, ..Preferences::default() };
    let user = LogUser { prefs, ..LogUser::default() };
    let known = Known { users: BTreeMap::from([(1, user)]), ..Known::default() };
    let options = SettleOptions { logs: LogSwitches::default(), quota_remind_threshold: 40 };
    let s = plan(&[&a, &b], &PriceTable::default(), options, &known).unwrap();
    assert_eq!((s.users[&1].warn_below, s.users[&2].warn_below), (500, 40));
}
