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

/// Unix seconds as date and time in the browser's time zone, as the language writes it (zh
/// `2026-12-02 08:05:03`, en `Dec 2, 2026, 08:05:03`); `never` for 0 or −1.
pub fn time(lang: Lang, secs: i64) -> String {
    if secs <= 0 {
        return crate::i18n::tr(lang, "common.never").to_string();
    }
    date_time(lang, local_parts(secs))
}

/// Year, month (1–12), day, hour, minute, second of unix `secs` in the browser's time zone.
fn local_parts(secs: i64) -> [u32; 6] {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs as f64 * 1000.0));
    [d.get_full_year(), d.get_month() + 1, d.get_date(), d.get_hours(), d.get_minutes(), d.get_seconds()]
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn date_time(lang: Lang, [y, mo, d, h, mi, s]: [u32; 6]) -> String {
    match lang {
        Lang::Zh => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        Lang::En => {
            let month = MONTHS.get(mo.saturating_sub(1) as usize).copied().unwrap_or("?");
            format!("{month} {d}, {y}, {h:02}:{mi:02}:{s:02}")
        }
    }
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
    let [y, mo, d, h, mi, _] = local_parts(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_each_language_writes_them() {
        let parts = [2026, 12, 2, 8, 5, 3];
        assert_eq!(date_time(Lang::Zh, parts), "2026-12-02 08:05:03");
        assert_eq!(date_time(Lang::En, parts), "Dec 2, 2026, 08:05:03");
        assert_eq!(date_time(Lang::En, [2027, 1, 31, 23, 0, 9]), "Jan 31, 2027, 23:00:09");
    }
}
