//! The usage log: type tabs, time range and filters (user, channel and group for administrators), paging,
//! a details panel per row (billing, first-token time, the channels tried, recorded chat content), the
//! quota/RPM/TPM summary of the filter, CSV export, and for administrators deleting logs before a date.

use veloera_admin_types::{LogEntry, LogStat, Page, log_type};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, LogFilter};
use crate::ctx::{AppCtx, use_ctx};
use crate::format;
use crate::widgets::{Loading, PageHead, Pager, bind};

const PAGE_SIZE: i64 = 20;

/// Type tabs: Veloera's log types, 0 for all.
const TABS: &[(i32, &str)] = &[
    (0, "log.type.all"),
    (log_type::TOPUP, "log.type.topup"),
    (log_type::CONSUME, "log.type.consume"),
    (log_type::MANAGE, "log.type.manage"),
    (log_type::SYSTEM, "log.type.system"),
    (log_type::CHECK_IN, "log.type.check_in"),
    (log_type::ERROR, "log.type.error"),
];

fn type_key(t: i32) -> &'static str {
    TABS.iter().find(|(n, _)| *n == t).map_or("log.type.unknown", |(_, k)| k)
}

#[function_component(Logs)]
pub fn logs() -> Html {
    let ctx = use_ctx();
    let admin = ctx.is_admin();
    let tab = use_state(|| 0i32);
    let page = use_state(|| 1i64);
    let start = use_state(String::new);
    let end = use_state(String::new);
    let token = use_state(String::new);
    let model = use_state(String::new);
    let username = use_state(String::new);
    let channel = use_state(String::new);
    let group = use_state(String::new);
    let applied = use_state(LogFilter::default);
    let rows = use_state(|| None::<Result<Page<LogEntry>, ApiError>>);
    let stat = use_state(|| None::<LogStat>);
    let open = use_state(|| None::<i64>);
    let delete_before = use_state(String::new);
    let tick = use_state(|| 0u32);

    {
        let (rows, stat, filter, page, ctx) = (rows.clone(), stat.clone(), (*applied).clone(), *page, ctx.clone());
        use_effect_with((filter.clone(), page, *tick), move |_| {
            spawn_local(async move {
                rows.set(None);
                rows.set(Some(api::list_logs(&filter, admin, page, PAGE_SIZE).await));
                match api::log_stat(&filter, admin).await {
                    Ok(s) => stat.set(Some(s)),
                    Err(e) => ctx.error(&e),
                }
            });
        });
    }

    let filter_now = {
        let (start, end, token, model, username, channel, group) = (
            start.clone(),
            end.clone(),
            token.clone(),
            model.clone(),
            username.clone(),
            channel.clone(),
            group.clone(),
        );
        move |log_type: i32| LogFilter {
            log_type,
            start: format::parse_local(&start).unwrap_or(0),
            end: format::parse_local(&end).unwrap_or(0),
            token_name: token.trim().to_string(),
            model_name: model.trim().to_string(),
            username: username.trim().to_string(),
            channel: channel.trim().to_string(),
            group: group.trim().to_string(),
        }
    };
    let on_filter = {
        let (applied, page, tab, filter_now) = (applied.clone(), page.clone(), *tab, filter_now.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            page.set(1);
            applied.set(filter_now(tab));
        })
    };
    let on_tab = |t: i32| {
        let (tab, applied, page, filter_now) = (tab.clone(), applied.clone(), page.clone(), filter_now.clone());
        Callback::from(move |_: MouseEvent| {
            tab.set(t);
            page.set(1);
            applied.set(filter_now(t));
        })
    };
    let on_delete = {
        let (ctx, delete_before, tick) = (ctx.clone(), delete_before.clone(), tick.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(ts) = format::parse_local(&delete_before) else {
                return ctx.toast.emit(crate::ctx::Toast { error: true, text: ctx.t("log.delete_pick_date").into() });
            };
            let (ctx2, tick) = (ctx.clone(), tick.clone());
            ctx.ask(ctx.tf("log.confirm_delete", &[("time", ctx.time(ts))]), move || {
                let (ctx, tick) = (ctx2.clone(), tick.clone());
                spawn_local(async move {
                    match api::delete_logs_before(ts).await {
                        Ok(n) => ctx.notify(ctx.tf("log.deleted", &[("n", n.to_string())])),
                        Err(e) => ctx.error(&e),
                    }
                    tick.set(*tick + 1);
                });
            });
        })
    };

    let summary = match &*stat {
        Some(s) => html! {
            <p class="summary" id="log-stat">
                { ctx.tf("log.summary", &[("quota", ctx.quota(s.quota)), ("rpm", ctx.number(s.rpm)), ("tpm", ctx.number(s.tpm))]) }
            </p>
        },
        None => html! {},
    };

    let table = match &*rows {
        None => html! { <Loading /> },
        Some(Err(e)) => html! { <p id="logs-error" class="error" role="alert">{ e.text(ctx.lang) }</p> },
        Some(Ok(p)) if p.items.is_empty() => html! { <p class="muted" id="logs-empty">{ ctx.t("common.empty") }</p> },
        Some(Ok(p)) => html! {
            <div class="table-wrap">
                <table id="logs" class="data">
                    <thead><tr>
                        <th>{ ctx.t("log.time") }</th>
                        if admin { <th>{ ctx.t("log.user") }</th><th>{ ctx.t("log.channel") }</th> }
                        <th>{ ctx.t("log.token") }</th><th>{ ctx.t("log.group") }</th><th>{ ctx.t("log.type") }</th>
                        <th>{ ctx.t("log.model") }</th><th>{ ctx.t("log.tokens") }</th><th>{ ctx.t("log.cost") }</th>
                        <th>{ ctx.t("log.duration") }</th>
                        if admin { <th>{ ctx.t("log.retries") }</th> }
                        <th>{ ctx.t("log.stream") }</th><th></th>
                    </tr></thead>
                    <tbody>
                        { for p.items.iter().map(|l| {
                            let is_open = *open == Some(l.id);
                            let toggle = {
                                let (open, id) = (open.clone(), l.id);
                                Callback::from(move |_: MouseEvent| open.set(if is_open { None } else { Some(id) }))
                            };
                            let cols = if admin { 14 } else { 11 };
                            html! {
                                <>
                                    <tr class="log-row" id={format!("log-{}", l.id)}>
                                        <td class="nowrap">{ ctx.time(l.created_at) }</td>
                                        if admin {
                                            <td>{ l.username.clone() }</td>
                                            <td>{ if l.channel > 0 { format!("{} {}", l.channel, l.channel_name) } else { String::new() } }</td>
                                        }
                                        <td>{ l.token_name.clone() }</td>
                                        <td>{ l.group.clone() }</td>
                                        <td><span class="pill">{ ctx.t(type_key(l.log_type)) }</span></td>
                                        <td class="log-model">{ l.model_name.clone() }</td>
                                        <td class="nowrap log-tokens">{ format!("{} / {}", l.prompt_tokens, l.completion_tokens) }</td>
                                        <td class="log-cost">{ ctx.quota(l.quota) }</td>
                                        <td class="nowrap">{ duration(&ctx, l) }</td>
                                        if admin { <td class="log-retries">{ retries(l) }</td> }
                                        <td>{ if l.is_stream { ctx.t("log.stream_yes") } else { ctx.t("log.stream_no") } }</td>
                                        <td><button class="secondary small" aria-expanded={is_open.to_string()} onclick={toggle}>{ ctx.t("log.details") }</button></td>
                                    </tr>
                                    if is_open {
                                        <tr class="log-details"><td colspan={cols.to_string()}>{ details(&ctx, l) }</td></tr>
                                    }
                                </>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        },
    };

    html! {
        <section class="card">
            <PageHead title={ctx.t("nav.logs")}>
                <a class="button secondary" id="log.export" href={api::log_export_url(&applied, admin)} download="logs.csv">{ ctx.t("log.export") }</a>
            </PageHead>
            if ctx.status.log_chat_content_enabled { <p class="warning">{ ctx.t("privacy.content_logged") }</p> }
            <div class="tabs" role="tablist">
                { for TABS.iter().map(|(t, key)| html! {
                    <button role="tab" aria-selected={(*tab == *t).to_string()} class={classes!("tab", (*tab == *t).then_some("active"))} onclick={on_tab(*t)}>{ ctx.t(key) }</button>
                }) }
            </div>
            <form class="filters" onsubmit={on_filter}>
                <label>{ ctx.t("log.from") }<input type="datetime-local" value={(*start).clone()} oninput={bind(&start)} /></label>
                <label>{ ctx.t("log.to") }<input type="datetime-local" value={(*end).clone()} oninput={bind(&end)} /></label>
                <label>{ ctx.t("log.token") }<input id="log-token" value={(*token).clone()} oninput={bind(&token)} /></label>
                <label>{ ctx.t("log.model") }<input id="log-model" value={(*model).clone()} oninput={bind(&model)} /></label>
                if admin {
                    <label>{ ctx.t("log.user") }<input id="log-user" value={(*username).clone()} oninput={bind(&username)} /></label>
                    <label>{ ctx.t("log.channel") }<input id="log-channel" value={(*channel).clone()} oninput={bind(&channel)} /></label>
                    <label>{ ctx.t("log.group") }<input id="log-group" value={(*group).clone()} oninput={bind(&group)} /></label>
                }
                <button type="submit" id="log-apply" class="secondary">{ ctx.t("common.search") }</button>
            </form>
            { summary }
            { table }
            if let Some(Ok(p)) = &*rows {
                <Pager page={*page} page_size={PAGE_SIZE} total={p.total}
                    on_page={{ let page = page.clone(); Callback::from(move |n| page.set(n)) }} />
            }
            if admin && ctx.role() >= veloera_admin_types::role::ROOT {
                <div class="danger-zone">
                    <label for="log-delete-before">{ ctx.t("log.delete_before") }</label>
                    <div class="row">
                        <input id="log-delete-before" type="datetime-local" value={(*delete_before).clone()} oninput={bind(&delete_before)} />
                        <button class="danger" onclick={on_delete}>{ ctx.t("common.delete") }</button>
                    </div>
                </div>
            }
        </section>
    }
}

/// Total time and, for streams, time to first token (from `other.frt`, milliseconds).
fn duration(ctx: &AppCtx, l: &LogEntry) -> String {
    let other: serde_json::Value = serde_json::from_str(&l.other).unwrap_or_default();
    match other.get("frt").and_then(|v| v.as_f64()) {
        Some(frt) if l.is_stream => {
            ctx.tf("log.duration_frt", &[("s", l.use_time.to_string()), ("frt", format!("{:.2}", frt / 1000.0))])
        }
        _ => ctx.tf("log.duration_s", &[("s", l.use_time.to_string())]),
    }
}

/// How many times the request was tried again: the channels of the retry trail (`other.admin_info.use_channel`,
/// administrators only) after the first.
fn retries(l: &LogEntry) -> usize {
    let other: serde_json::Value = serde_json::from_str(&l.other).unwrap_or_default();
    other.pointer("/admin_info/use_channel").and_then(|v| v.as_array()).map_or(0, |t| t.len().saturating_sub(1))
}

fn details(ctx: &AppCtx, l: &LogEntry) -> Html {
    let other: serde_json::Value = serde_json::from_str(&l.other).unwrap_or_default();
    let num = |k: &str| other.get(k).and_then(|v| v.as_f64());
    let mut items: Vec<(String, String)> = Vec::new();
    if !l.content.is_empty() {
        items.push((ctx.t("log.content").into(), l.content.clone()));
    }
    for (k, label) in [
        ("model_ratio", "log.model_ratio"),
        ("group_ratio", "log.group_ratio"),
        ("completion_ratio", "log.completion_ratio"),
        ("model_price", "log.model_price"),
        ("cache_tokens", "log.cache_tokens"),
        ("cache_ratio", "log.cache_ratio"),
    ] {
        if let Some(v) = num(k) {
            items.push((ctx.t(label).into(), v.to_string()));
        }
    }
    if let Some(trail) = other.pointer("/admin_info/use_channel").and_then(|v| v.as_array()) {
        let list: Vec<String> = trail.iter().map(|c| c.to_string().trim_matches('"').to_string()).collect();
        items.push((ctx.t("log.channels_tried").into(), list.join(" → ")));
    }
    if !l.request_id.is_empty() {
        items.push((ctx.t("log.request_id").into(), l.request_id.clone()));
    }
    if !l.client_ip.is_empty() {
        items.push((ctx.t("log.client_ip").into(), l.client_ip.clone()));
    }
    html! {
        <div class="details">
            <dl>
                { for items.into_iter().map(|(k, v)| html! { <><dt>{ k }</dt><dd>{ v }</dd></> }) }
            </dl>
            if let Some(chat) = &l.chat_content {
                <div class="chat-content">
                    <h4>{ ctx.t("log.prompt") }</h4><pre>{ chat.prompt.clone() }</pre>
                    <h4>{ ctx.t("log.answer") }</h4><pre>{ chat.answer.clone() }</pre>
                </div>
            }
        </div>
    }
}
