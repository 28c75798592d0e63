//! Creating and editing a token: name, quota or unlimited, expiry (a date and time, or never / 1 hour /
//! 1 day / 1 month), model limits from `/api/user/models`, IP allow-list, group from
//! `/api/user/self/groups`, the token's own rate limit, and "create N at once". New keys are shown once,
//! with a copy button and example calls.

use veloera_admin_types::{Token, TokenCreate};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::Examples;
use crate::api;
use crate::ctx::{AppCtx, use_ctx};
use crate::format;
use crate::route::Route;
use crate::widgets::{CopyButton, Loading, PageHead, bind, bind_check, bind_select};

#[derive(Properties, PartialEq)]
pub struct EditProps {
    /// `None` creates tokens.
    pub id: Option<i64>,
}

/// The quota field shows dollars when the site displays currency, else units.
fn quota_text(ctx: &AppCtx, units: i64) -> String {
    if ctx.status.display_in_currency {
        format!("{:.2}", units as f64 / ctx.status.quota_per_unit)
    } else {
        units.to_string()
    }
}

fn quota_units(ctx: &AppCtx, text: &str) -> Option<i64> {
    let text = text.trim();
    if ctx.status.display_in_currency {
        text.parse::<f64>().ok().filter(|v| *v >= 0.0).map(|v| format::units_from_usd(&ctx.status, v))
    } else {
        text.parse::<i64>().ok().filter(|v| *v >= 0)
    }
}

#[function_component(TokenEdit)]
pub fn token_edit(props: &EditProps) -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let loaded = use_state(|| props.id.is_none());
    let name = use_state(String::new);
    let unlimited = use_state(|| false);
    let quota = use_state(|| quota_text(&ctx, 500_000));
    let expiry = use_state(String::new);
    let limits_on = use_state(|| false);
    let limits = use_state(Vec::<String>::new);
    let allow_ips = use_state(String::new);
    let group = use_state(String::new);
    let rate_on = use_state(|| false);
    let rate_period = use_state(|| "60".to_string());
    let rate_count = use_state(|| "1000".to_string());
    let rate_success = use_state(|| "10".to_string());
    let count = use_state(|| "1".to_string());
    let models = use_state(Vec::<String>::new);
    let groups = use_state(Vec::<String>::new);
    let created = use_state(Vec::<Token>::new);
    let error = use_state(|| None::<String>);
    let saving = use_state(|| false);

    {
        let ctx = ctx.clone();
        let id = props.id;
        let (loaded, name, unlimited, quota, expiry, limits_on, limits, allow_ips, group) = (
            loaded.clone(),
            name.clone(),
            unlimited.clone(),
            quota.clone(),
            expiry.clone(),
            limits_on.clone(),
            limits.clone(),
            allow_ips.clone(),
            group.clone(),
        );
        let (rate_on, rate_period, rate_count, rate_success, models, groups) = (
            rate_on.clone(),
            rate_period.clone(),
            rate_count.clone(),
            rate_success.clone(),
            models.clone(),
            groups.clone(),
        );
        use_effect_with(id, move |_| {
            spawn_local(async move {
                match api::usable_models().await {
                    Ok(m) => models.set(m),
                    Err(e) => ctx.error(&e),
                }
                if let Ok(g) = api::usable_groups().await {
                    groups.set(g.keys().cloned().collect());
                }
                let Some(id) = id else { return };
                match api::get_token(id).await {
                    Ok(t) => {
                        name.set(t.name.clone());
                        unlimited.set(t.unlimited_quota);
                        quota.set(quota_text(&ctx, t.remain_quota));
                        expiry.set(format::local_input(t.expired_time));
                        limits_on.set(t.model_limits_enabled);
                        limits.set(t.model_limits.split(',').filter(|m| !m.is_empty()).map(str::to_string).collect());
                        allow_ips.set(t.allow_ips.clone());
                        group.set(t.group.clone());
                        rate_on.set(t.rate_limit_enabled);
                        rate_period.set(t.rate_limit_period.to_string());
                        rate_count.set(t.rate_limit_count.to_string());
                        rate_success.set(t.rate_limit_success.to_string());
                        loaded.set(true);
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        });
    }
    if !*loaded {
        return html! { <section class="card"><Loading /></section> };
    }
    if !created.is_empty() {
        return html! { <Created tokens={(*created).clone()} /> };
    }

    let quick = |secs: i64| {
        let expiry = expiry.clone();
        Callback::from(move |_: MouseEvent| {
            expiry.set(if secs == 0 { String::new() } else { format::local_input(format::now() + secs) })
        })
    };

    let onsubmit = {
        let ctx = ctx.clone();
        let id = props.id;
        let (name, unlimited, quota, expiry, limits_on, limits, allow_ips, group) = (
            name.clone(),
            unlimited.clone(),
            quota.clone(),
            expiry.clone(),
            limits_on.clone(),
            limits.clone(),
            allow_ips.clone(),
            group.clone(),
        );
        let (rate_on, rate_period, rate_count, rate_success, count, created, error, saving) = (
            rate_on.clone(),
            rate_period.clone(),
            rate_count.clone(),
            rate_success.clone(),
            count.clone(),
            created.clone(),
            error.clone(),
            saving.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let fail = |key: &'static str| error.set(Some(ctx.t(key).to_string()));
            if name.trim().is_empty() {
                return fail("token.name_required");
            }
            let units = if *unlimited { Some(0) } else { quota_units(&ctx, &quota) };
            let Some(units) = units else { return fail("token.quota_invalid") };
            let expired_time = match format::parse_local(&expiry) {
                Some(t) => t,
                None if expiry.is_empty() => -1,
                None => return fail("token.expiry_invalid"),
            };
            let num = |s: &str| s.trim().parse::<i64>().ok();
            let (Some(period), Some(rcount), Some(rsuccess)) =
                (num(&rate_period), num(&rate_count), num(&rate_success))
            else {
                return fail("form.not_a_number");
            };
            let n = match num(&count) {
                Some(n) if (1..=100).contains(&n) => n,
                _ => return fail("token.count_invalid"),
            };
            error.set(None);
            let model_limits = limits.join(",");
            let (ctx, created, error, saving, navigator) =
                (ctx.clone(), created.clone(), error.clone(), saving.clone(), navigator.clone());
            let base = TokenCreate {
                name: name.trim().to_string(),
                remain_quota: Some(units),
                unlimited_quota: Some(*unlimited),
                expired_time: Some(expired_time),
                model_limits_enabled: Some(*limits_on),
                model_limits: Some(model_limits.clone()),
                allow_ips: Some(allow_ips.trim().to_string()),
                group: Some((*group).clone()),
                rate_limit_enabled: Some(*rate_on),
                rate_limit_period: Some(period),
                rate_limit_count: Some(rcount),
                rate_limit_success: Some(rsuccess),
            };
            saving.set(true);
            spawn_local(async move {
                match id {
                    Some(id) => {
                        let body = base.into_update(id);
                        match api::update_token(&body).await {
                            Ok(()) => {
                                ctx.success("common.saved");
                                if let Some(nav) = navigator {
                                    nav.push(&Route::Tokens);
                                }
                            }
                            Err(e) => error.set(Some(e.text(ctx.lang))),
                        }
                    }
                    None => {
                        let mut made = Vec::new();
                        for i in 1..=n {
                            let mut body = base.clone();
                            if n > 1 {
                                body.name = format!("{}-{i}", base.name);
                            }
                            match api::create_token(&body).await {
                                Ok(Some(t)) => made.push(t),
                                Ok(None) => {}
                                Err(e) => {
                                    error.set(Some(e.text(ctx.lang)));
                                    break;
                                }
                            }
                        }
                        if !made.is_empty() {
                            created.set(made);
                        }
                    }
                }
                saving.set(false);
            });
        })
    };

    let toggle_model = |m: &String| {
        let (limits, m) = (limits.clone(), m.clone());
        Callback::from(move |_: Event| {
            let mut l = (*limits).clone();
            if l.contains(&m) {
                l.retain(|x| *x != m)
            } else {
                l.push(m.clone())
            }
            limits.set(l);
        })
    };
    let quota_label =
        if ctx.status.display_in_currency { ctx.t("token.quota_usd") } else { ctx.t("token.quota_units") };
    let title = match props.id {
        None => ctx.t("token.add").to_string(),
        Some(id) => ctx.tf("token.edit_title", &[("id", id.to_string())]),
    };

    html! {
        <section class="card">
            <PageHead title={title}>
                <Link<Route> to={Route::Tokens} classes="button secondary">{ ctx.t("common.back") }</Link<Route>>
            </PageHead>
            if ctx.status.log_chat_content_enabled { <p class="warning">{ ctx.t("privacy.content_logged") }</p> }
            <form class="form-grid" {onsubmit} novalidate=true>
                <div class="field">
                    <label for="tk-name">{ ctx.t("token.name") }</label>
                    <input id="tk-name" type="text" value={(*name).clone()} oninput={bind(&name)} />
                </div>
                if props.id.is_none() {
                    <div class="field">
                        <label for="tk-count">{ ctx.t("token.count") }</label>
                        <input id="tk-count" type="number" min="1" max="100" value={(*count).clone()} oninput={bind(&count)} />
                    </div>
                }
                <div class="field">
                    <label for="tk-quota">{ quota_label }</label>
                    <input id="tk-quota" type="text" inputmode="decimal" disabled={*unlimited} value={(*quota).clone()} oninput={bind(&quota)} />
                    <label class="check"><input id="tk-unlimited" type="checkbox" checked={*unlimited} onchange={bind_check(&unlimited)} />{ ctx.t("token.unlimited") }</label>
                </div>
                <div class="field">
                    <label for="tk-expiry">{ ctx.t("token.expires") }</label>
                    <input id="tk-expiry" type="datetime-local" value={(*expiry).clone()} oninput={bind(&expiry)} />
                    <div class="row">
                        <button type="button" class="secondary small" onclick={quick(0)}>{ ctx.t("common.never") }</button>
                        <button type="button" class="secondary small" onclick={quick(3600)}>{ ctx.t("token.in_hour") }</button>
                        <button type="button" class="secondary small" onclick={quick(86_400)}>{ ctx.t("token.in_day") }</button>
                        <button type="button" class="secondary small" onclick={quick(30 * 86_400)}>{ ctx.t("token.in_month") }</button>
                    </div>
                </div>
                <div class="field">
                    <label for="tk-group">{ ctx.t("token.group") }</label>
                    <select id="tk-group" onchange={bind_select(&group)}>
                        <option value="" selected={group.is_empty()}>{ ctx.t("token.group_user") }</option>
                        { for groups.iter().map(|g| html! { <option value={g.clone()} selected={*g == *group}>{ g.clone() }</option> }) }
                    </select>
                </div>
                <fieldset class="field wide">
                    <legend>{ ctx.t("token.model_limits") }</legend>
                    <label class="check"><input id="tk-limits-on" type="checkbox" checked={*limits_on} onchange={bind_check(&limits_on)} />{ ctx.t("token.model_limits_on") }</label>
                    if *limits_on {
                        <div class="checks" id="tk-models">
                            if models.is_empty() { <p class="muted">{ ctx.t("token.no_models") }</p> }
                            { for models.iter().map(|m| html! {
                                <label class="check"><input type="checkbox" value={m.clone()} checked={limits.contains(m)} onchange={toggle_model(m)} />{ m.clone() }</label>
                            }) }
                        </div>
                    }
                </fieldset>
                <div class="field wide">
                    <label for="tk-ips">{ ctx.t("token.allow_ips") }</label>
                    <textarea id="tk-ips" rows="2" value={(*allow_ips).clone()} oninput={bind(&allow_ips)} />
                    <p class="hint">{ ctx.t("token.allow_ips_hint") }</p>
                </div>
                <fieldset class="field wide">
                    <legend>{ ctx.t("token.rate_limit") }</legend>
                    <label class="check"><input id="tk-rate-on" type="checkbox" checked={*rate_on} onchange={bind_check(&rate_on)} />{ ctx.t("token.rate_limit_on") }</label>
                    if *rate_on {
                        <div class="row">
                            <label>{ ctx.t("token.rate_period") }<input type="number" min="1" value={(*rate_period).clone()} oninput={bind(&rate_period)} /></label>
                            <label>{ ctx.t("token.rate_count") }<input type="number" min="0" value={(*rate_count).clone()} oninput={bind(&rate_count)} /></label>
                            <label>{ ctx.t("token.rate_success") }<input type="number" min="0" value={(*rate_success).clone()} oninput={bind(&rate_success)} /></label>
                        </div>
                    }
                </fieldset>
                <div class="form-actions wide">
                    if let Some(e) = &*error { <p id="token-form-error" class="error" role="alert">{ e.clone() }</p> }
                    <button id="token-save" type="submit" disabled={*saving}>{ if *saving { ctx.t("common.working") } else { ctx.t("common.save") } }</button>
                </div>
            </form>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CreatedProps {
    tokens: Vec<Token>,
}

/// The keys just created, shown this once in full.
#[function_component(Created)]
fn created(props: &CreatedProps) -> Html {
    let ctx = use_ctx();
    let all: Vec<String> = props.tokens.iter().map(|t| t.key.clone()).collect();
    html! {
        <section class="card">
            <PageHead title={ctx.t("token.created_title")}>
                <Link<Route> to={Route::Tokens} classes="button secondary"><span id="token-created-done">{ ctx.t("common.back") }</span></Link<Route>>
            </PageHead>
            <p class="warning">{ ctx.t("token.shown_once") }</p>
            <ul class="keys">
                { for props.tokens.iter().enumerate().map(|(i, t)| html! {
                    <li>
                        <span class="muted">{ t.name.clone() }</span>
                        <code id={if i == 0 { "new-token-key".to_string() } else { format!("new-token-key-{i}") }}>{ t.key.clone() }</code>
                        <CopyButton id={if i == 0 { Some(AttrValue::from("copy-new-key")) } else { None }} text={t.key.clone()} />
                    </li>
                }) }
            </ul>
            if all.len() > 1 { <CopyButton text={all.join("\n")} /> }
            if let Some(first) = all.first() { <Examples key_text={first.clone()} /> }
        </section>
    }
}
