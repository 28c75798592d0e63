//! How numbers, quota and times read on screen, per language and per the site's currency options.

use veloera_admin_types::SiteStatus;

use crate::i18n::Lang;

/// Quota as Veloera shows it: dollars (quota / `QuotaPerUnit`) when `DisplayInCurrencyEnabled`, otherwise
/// the amount in units with digit grouping.
pub fn quota(status: &SiteStatus, lang: Lang, amount: i64) -> String {
    if status.display_in_currency && status.quota_per_unit > 0.0 {
        let usd = amount as f64 / status.quota_per_unit;
        let digits = if usd != 0.0 && usd.abs() < 0.01 { 6 } else { 2 };
        format!("${usd:.digits$}")
    } else {
        number(lang, amount)
    }
}

/// A whole number with the language's digit grouping.
pub fn number(lang: Lang, n: i64) -> String {
    js_sys::Number::from(n as f64).to_locale_string(lang.code()).into()
}

/// Quota units for a dollar amount typed into a form (the inverse of [`quota`] in currency mode).
pub fn units_from_usd(status: &SiteStatus, usd: f64) -> i64 {
    (usd * status.quota_per_unit).round() as i64
}

/// Unix seconds as local date and time (`2026-12-01 21:05:50`); `never` for 0 or −1.
pub fn time(lang: Lang, secs: i64) -> String {
    if secs <= 0 {
        return crate::i18n::tr(lang, "common.never").to_string();
    }
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs as f64 * 1000.0));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// The current time in unix seconds.
pub fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// A `datetime-local` input's value (`2026-12-01T21:05`) as unix seconds in local time.
pub fn parse_local(value: &str) -> Option<i64> {
    if value.is_empty() {
        return None;
    }
    let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value)).get_time();
    (!ms.is_nan()).then_some((ms / 1000.0) as i64)
}

/// Unix seconds as a `datetime-local` value.
pub fn local_input(secs: i64) -> String {
    if secs <= 0 {
        return String::new();
    }
    let t = time(Lang::En, secs);
    format!("{}T{}", &t[..10], &t[11..16])
}
