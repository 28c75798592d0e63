//! The channel list: paging and search, type by name, status with the auto-disable reason, response time,
//! balance (click to refresh), inline priority and weight; tests (one with a chosen model, all with
//! progress), balances, enable/disable, delete, batch delete and a tag set on the selected rows, each destructive
//! step confirmed.

use std::collections::BTreeSet;
use std::rc::Rc;

use veloera_admin_types::{Channel, ChannelUpdate, Page, status};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{type_hue, type_name};
use crate::api::{self, ApiError, TestOutcome};
use crate::ctx::{AppCtx, use_ctx};
use crate::route::Route;
use crate::widgets::{Loading, PageHead, Pager, bind};

const PAGE_SIZE: i64 = 20;

/// What the table shows: one page of the list, or every match of a search.
#[derive(Clone, PartialEq)]
enum Rows {
    Page(Page<Channel>),
    Search(Vec<Channel>),
}

impl Rows {
    fn items(&self) -> &[Channel] {
        match self {
            Rows::Page(p) => &p.items,
            Rows::Search(v) => v,
        }
    }
}

/// The add form's query when it starts from another channel (`/channel/add?copy=12`).
#[derive(Clone, PartialEq, serde::Serialize)]
struct CopyOf {
    copy: i64,
}

/// Progress of "test all" or "update all balances": done of total.
#[derive(Clone, Copy, PartialEq)]
struct Progress {
    done: usize,
    total: usize,
}

#[function_component(ChannelList)]
pub fn channel_list() -> Html {
    let ctx = use_ctx();
    let page = use_state(|| 1i64);
    let rows = use_state(|| None::<Result<Rows, ApiError>>);
    let keyword = use_state(String::new);
    let model = use_state(String::new);
    let group = use_state(String::new);
    let searching = use_state(|| false);
    let selected = use_state(BTreeSet::<i64>::new);
    let tag_mode = use_state(|| false);
    let batch_tag = use_state(String::new);
    let progress = use_state(|| None::<Progress>);
    let testing = use_state(|| None::<Channel>);
    let reload_tick = use_state(|| 0u32);

    let reload = {
        let tick = reload_tick.clone();
        Callback::from(move |()| tick.set(*tick + 1))
    };
    {
        let (rows, page, searching) = (rows.clone(), *page, *searching);
        let (keyword, model, group) = ((*keyword).clone(), (*model).clone(), (*group).clone());
        use_effect_with((page, *reload_tick, searching), move |_| {
            spawn_local(async move {
                let result = if searching {
                    api::search_channels(&keyword, &model, &group).await.map(Rows::Search)
                } else {
                    api::list_channels(page, PAGE_SIZE).await.map(Rows::Page)
                };
                rows.set(Some(result));
            });
        });
    }

    let on_search = {
        let (searching, reload) = (searching.clone(), reload.clone());
        let (keyword, model, group) = (keyword.clone(), model.clone(), group.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            searching.set(!(keyword.is_empty() && model.is_empty() && group.is_empty()));
            reload.emit(());
        })
    };

    let items: Rc<Vec<Channel>> = Rc::new(match &*rows {
        Some(Ok(r)) => r.items().to_vec(),
        _ => Vec::new(),
    });

    let test_all = {
        let (ctx, items, progress, reload) = (ctx.clone(), items.clone(), progress.clone(), reload.clone());
        Callback::from(move |_: MouseEvent| {
            let targets: Vec<Channel> = items.iter().filter(|c| c.status == status::ENABLED).cloned().collect();
            run_each(&ctx, &progress, &reload, targets, |c| async move {
                api::test_channel(c.id, &c.test_model).await.map(|_| ())
            });
        })
    };
    let balances_all = {
        let (ctx, items, progress, reload) = (ctx.clone(), items.clone(), progress.clone(), reload.clone());
        Callback::from(move |_: MouseEvent| {
            let targets: Vec<Channel> = items.iter().filter(|c| c.status == status::ENABLED).cloned().collect();
            run_each(&ctx, &progress, &reload, targets, |c| async move { api::update_balance(c.id).await.map(|_| ()) });
        })
    };
    let delete_disabled = {
        let (ctx, reload) = (ctx.clone(), reload.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx2, reload) = (ctx.clone(), reload.clone());
            ctx.ask(ctx.t("channel.confirm_delete_disabled").into(), move || {
                let (ctx, reload) = (ctx2.clone(), reload.clone());
                spawn_local(async move {
                    match api::delete_disabled_channels().await {
                        Ok(()) => ctx.success("common.deleted"),
                        Err(e) => ctx.error(&e),
                    }
                    reload.emit(());
                });
            });
        })
    };
    let delete_selected = {
        let (ctx, reload, selected) = (ctx.clone(), reload.clone(), selected.clone());
        Callback::from(move |_: MouseEvent| {
            let ids: Vec<i64> = selected.iter().copied().collect();
            let (ctx2, reload, selected) = (ctx.clone(), reload.clone(), selected.clone());
            ctx.ask(ctx.tf("channel.confirm_delete_selected", &[("n", ids.len().to_string())]), move || {
                let (ctx, reload, selected, ids) = (ctx2.clone(), reload.clone(), selected.clone(), ids.clone());
                spawn_local(async move {
                    match api::delete_channels(ids).await {
                        Ok(()) => {
                            selected.set(BTreeSet::new());
                            ctx.success("common.deleted");
                        }
                        Err(e) => ctx.error(&e),
                    }
                    reload.emit(());
                });
            });
        })
    };
    let tag_selected = {
        let (ctx, reload, selected, batch_tag) = (ctx.clone(), reload.clone(), selected.clone(), batch_tag.clone());
        Callback::from(move |_: MouseEvent| {
            let ids: Vec<i64> = selected.iter().copied().collect();
            let tag = batch_tag.trim().to_string();
            let (ctx, reload, selected) = (ctx.clone(), reload.clone(), selected.clone());
            spawn_local(async move {
                match api::set_channels_tag(ids, tag).await {
                    Ok(count) => {
                        selected.set(BTreeSet::new());
                        ctx.notify(ctx.tf("channel.tag_set", &[("n", count.to_string())]));
                    }
                    Err(e) => ctx.error(&e),
                }
                reload.emit(());
            });
        })
    };

    let busy = progress.is_some();
    let table = match &*rows {
        None => html! { <Loading /> },
        Some(Err(e)) => html! { <p id="channels-error" class="error" role="alert">{ e.text(ctx.lang) }</p> },
        Some(Ok(r)) if r.items().is_empty() => {
            html! { <p class="muted" id="channels-empty">{ ctx.t("common.empty") }</p> }
        }
        Some(Ok(r)) => html! {
            <div class="table-wrap">
                <table id="channels" class="data">
                    <thead><tr>
                        <th><span class="sr-only">{ ctx.t("common.select") }</span></th>
                        <th>{ "ID" }</th><th>{ ctx.t("channel.name") }</th><th>{ ctx.t("channel.type") }</th>
                        <th>{ ctx.t("channel.group") }</th><th>{ ctx.t("common.status") }</th>
                        <th>{ ctx.t("channel.response_time") }</th><th>{ ctx.t("channel.balance") }</th>
                        <th>{ ctx.t("channel.used") }</th><th>{ ctx.t("channel.priority") }</th>
                        <th>{ ctx.t("channel.weight") }</th><th>{ ctx.t("common.actions") }</th>
                    </tr></thead>
                    <tbody>
                        { for groups_of(r.items(), *tag_mode).into_iter().map(|(tag, items)| html! { <>
                        if let Some(tag) = tag {
                            <super::tags::TagHeader key={format!("tag-{tag}")} count={items.len()} cols={12} on_changed={reload.clone()} tag={tag.clone()} />
                        }
                        { for items.into_iter().map(|c| html! {
                            <ChannelRow key={c.id} channel={c.clone()} selected={selected.contains(&c.id)}
                                on_select={{
                                    let selected = selected.clone();
                                    Callback::from(move |(id, on): (i64, bool)| {
                                        let mut s = (*selected).clone();
                                        if on { s.insert(id); } else { s.remove(&id); }
                                        selected.set(s);
                                    })
                                }}
                                on_test={{ let testing = testing.clone(); Callback::from(move |c: Channel| testing.set(Some(c))) }}
                                on_changed={reload.clone()} />
                        }) }
                        </> }) }
                    </tbody>
                </table>
            </div>
        },
    };

    html! {
        <section class="card">
            <PageHead title={ctx.t("nav.channels")}>
                <Link<Route> to={Route::ChannelAdd} classes="button"><span id="channel-add">{ ctx.t("channel.add") }</span></Link<Route>>
                <button class="secondary" onclick={{ let r = reload.clone(); Callback::from(move |_: MouseEvent| r.emit(())) }}>{ ctx.t("common.refresh") }</button>
                <button id="channel-tag-mode" class="secondary" aria-pressed={tag_mode.to_string()}
                    onclick={{ let t = tag_mode.clone(); Callback::from(move |_: MouseEvent| t.set(!*t)) }}>{ ctx.t("channel.tag_mode") }</button>
                <button id="channel-test-all" class="secondary" disabled={busy} onclick={test_all}>{ ctx.t("channel.test_all") }</button>
                <button class="secondary" disabled={busy} onclick={balances_all}>{ ctx.t("channel.balance_all") }</button>
                <button class="secondary danger-text" onclick={delete_disabled}>{ ctx.t("channel.delete_disabled") }</button>
                if ctx.role() >= veloera_admin_types::role::ROOT {
                    <super::transfer::ChannelTransfer selected={(*selected).clone()} on_imported={reload.clone()} />
                }
                if !selected.is_empty() {
                    <label class="sr-only" for="channel-batch-tag">{ ctx.t("channel.batch_tag") }</label>
                    <input id="channel-batch-tag" placeholder={ctx.t("channel.batch_tag")} value={(*batch_tag).clone()}
                        oninput={bind(&batch_tag)} />
                    <button id="channel-tag-selected" class="secondary" onclick={tag_selected}>
                        { ctx.tf("channel.tag_selected", &[("n", selected.len().to_string())]) }
                    </button>
                    <button id="channel-delete-selected" class="danger" onclick={delete_selected}>
                        { ctx.tf("channel.delete_selected", &[("n", selected.len().to_string())]) }
                    </button>
                }
            </PageHead>
            if let Some(p) = *progress {
                <div class="progress" id="channel-progress" role="progressbar" aria-valuemin="0"
                    aria-valuemax={p.total.to_string()} aria-valuenow={p.done.to_string()}>
                    <div class="progress-bar" style={format!("width: {}%", p.done * 100 / p.total.max(1))}></div>
                    <span>{ ctx.tf("common.progress", &[("done", p.done.to_string()), ("total", p.total.to_string())]) }</span>
                </div>
            }
            <form class="filters" onsubmit={on_search}>
                <label class="sr-only" for="channel-keyword">{ ctx.t("channel.search_keyword") }</label>
                <input id="channel-keyword" placeholder={ctx.t("channel.search_keyword")} value={(*keyword).clone()} oninput={bind(&keyword)} />
                <label class="sr-only" for="channel-model">{ ctx.t("channel.models") }</label>
                <input id="channel-model" placeholder={ctx.t("channel.models")} value={(*model).clone()} oninput={bind(&model)} />
                <label class="sr-only" for="channel-group">{ ctx.t("channel.group") }</label>
                <input id="channel-group" placeholder={ctx.t("channel.group")} value={(*group).clone()} oninput={bind(&group)} />
                <button type="submit" class="secondary">{ ctx.t("common.search") }</button>
            </form>
            { table }
            if let Some(Ok(Rows::Page(p))) = &*rows {
                <Pager page={*page} page_size={PAGE_SIZE} total={p.total}
                    on_page={{ let page = page.clone(); Callback::from(move |n| page.set(n)) }} />
            }
            if let Some(c) = &*testing {
                <TestDialog channel={c.clone()} on_close={{
                    let (testing, reload) = (testing.clone(), reload.clone());
                    Callback::from(move |()| { testing.set(None); reload.emit(()); })
                }} />
            }
        </section>
    }
}

/// The rows as the table shows them: in tag view grouped under their tags (`Some(tag)`, empty for untagged),
/// otherwise as listed.
fn groups_of(items: &[Channel], tag_mode: bool) -> Vec<(Option<String>, Vec<&Channel>)> {
    if tag_mode {
        super::tags::grouped(items).into_iter().map(|(t, cs)| (Some(t), cs)).collect()
    } else {
        vec![(None, items.iter().collect())]
    }
}

/// Runs `job` on each channel one after the other, showing progress, then reloads; failures are counted and
/// reported once at the end (each is also recorded on its channel).
fn run_each<F, Fut>(
    ctx: &AppCtx,
    progress: &UseStateHandle<Option<Progress>>,
    reload: &Callback<()>,
    targets: Vec<Channel>,
    job: F,
) where
    F: Fn(Channel) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let (ctx, progress, reload) = (ctx.clone(), progress.clone(), reload.clone());
    let total = targets.len();
    progress.set(Some(Progress { done: 0, total }));
    spawn_local(async move {
        let mut failed = 0;
        for (i, c) in targets.into_iter().enumerate() {
            if job(c).await.is_err() {
                failed += 1;
            }
            progress.set(Some(Progress { done: i + 1, total }));
        }
        progress.set(None);
        ctx.notify(ctx.tf("common.batch_done", &[("total", total.to_string()), ("failed", failed.to_string())]));
        reload.emit(());
    });
}

#[derive(Properties, PartialEq)]
struct RowProps {
    channel: Channel,
    selected: bool,
    on_select: Callback<(i64, bool)>,
    on_test: Callback<Channel>,
    on_changed: Callback<()>,
}

/// Why and when a channel was disabled, from its `other_info` JSON.
fn disable_reason(c: &Channel) -> Option<(String, i64)> {
    let info: serde_json::Value = serde_json::from_str(&c.other_info).ok()?;
    let reason = info.get("status_reason")?.as_str()?.to_string();
    Some((reason, info.get("status_time").and_then(|t| t.as_i64()).unwrap_or(0)))
}

#[function_component(ChannelRow)]
fn channel_row(props: &RowProps) -> Html {
    let ctx = use_ctx();
    let c = &props.channel;
    let balance = use_state(|| c.balance);

    let update = {
        let (ctx, on_changed) = (ctx.clone(), props.on_changed.clone());
        move |body: ChannelUpdate| {
            let (ctx, on_changed) = (ctx.clone(), on_changed.clone());
            spawn_local(async move {
                match api::update_channel(&body).await {
                    Ok(()) => ctx.success("common.saved"),
                    Err(e) => ctx.error(&e),
                }
                on_changed.emit(());
            });
        }
    };
    let number_field = |field: &'static str, value: i64| {
        let (ctx, id, update) = (ctx.clone(), c.id, update.clone());
        Callback::from(move |e: Event| {
            let text = e.target_unchecked_into::<HtmlInputElement>().value();
            match text.trim().parse::<i64>() {
                Ok(n) if n != value => {
                    let mut body = ChannelUpdate { id, ..Default::default() };
                    if field == "priority" {
                        body.priority = Some(n)
                    } else {
                        body.weight = Some(n)
                    }
                    update(body);
                }
                Ok(_) => {}
                Err(_) => ctx.toast.emit(crate::ctx::Toast { error: true, text: ctx.t("form.not_a_number").into() }),
            }
        })
    };
    let toggle = {
        let (id, enabled, update) = (c.id, c.status == status::ENABLED, update.clone());
        let target = if enabled { status::DISABLED } else { status::ENABLED };
        let (ctx, name) = (ctx.clone(), c.name.clone());
        Callback::from(move |_: MouseEvent| {
            let update = update.clone();
            let body = ChannelUpdate { id, status: Some(target), ..Default::default() };
            if enabled {
                ctx.ask(ctx.tf("channel.confirm_disable", &[("name", name.clone())]), move || update(body.clone()));
            } else {
                update(body);
            }
        })
    };
    let delete = {
        let (ctx, id, name, on_changed) = (ctx.clone(), c.id, c.name.clone(), props.on_changed.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx2, on_changed) = (ctx.clone(), on_changed.clone());
            ctx.ask(ctx.tf("channel.confirm_delete", &[("name", name.clone())]), move || {
                let (ctx, on_changed) = (ctx2.clone(), on_changed.clone());
                spawn_local(async move {
                    match api::delete_channel(id).await {
                        Ok(()) => ctx.success("common.deleted"),
                        Err(e) => ctx.error(&e),
                    }
                    on_changed.emit(());
                });
            });
        })
    };
    let refresh_balance = {
        let (ctx, id, balance) = (ctx.clone(), c.id, balance.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, balance) = (ctx.clone(), balance.clone());
            spawn_local(async move {
                match api::update_balance(id).await {
                    Ok(b) => balance.set(b),
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let (status_key, status_class) = match c.status {
        status::ENABLED => ("status.enabled", "ok"),
        status::DISABLED => ("status.disabled", "off"),
        status::CHANNEL_AUTO_DISABLED => ("status.auto_disabled", "bad"),
        _ => ("status.unknown", "off"),
    };
    let reason = disable_reason(c).filter(|(r, _)| !r.is_empty()).map(|(r, t)| format!("{r} · {}", ctx.time(t)));
    let response = if c.test_time == 0 {
        html! { <span class="muted">{ ctx.t("channel.untested") }</span> }
    } else {
        let class = match c.response_time {
            0..=1000 => "ok",
            1001..=3000 => "warn",
            _ => "bad",
        };
        html! { <span class={classes!("pill", class)} title={ctx.time(c.test_time)}>{ format!("{} ms", c.response_time) }</span> }
    };
    let on_select = {
        let (on_select, id) = (props.on_select.clone(), c.id);
        Callback::from(move |e: Event| on_select.emit((id, e.target_unchecked_into::<HtmlInputElement>().checked())))
    };
    let on_test = {
        let (on_test, c) = (props.on_test.clone(), c.clone());
        Callback::from(move |_: MouseEvent| on_test.emit(c.clone()))
    };
    html! {
        <tr id={format!("channel-{}", c.id)}>
            <td><input type="checkbox" aria-label={ctx.t("common.select")} checked={props.selected} onchange={on_select} /></td>
            <td>{ c.id }</td>
            <td class="name">{ c.name.clone() }</td>
            <td><span class="type-badge" style={format!("--hue: {}", type_hue(c.channel_type))}>{ type_name(c.channel_type) }</span></td>
            <td class="wrap">{ c.group.clone() }</td>
            <td>
                <span class={classes!("pill", status_class)} title={reason.clone().unwrap_or_default()}>{ ctx.t(status_key) }</span>
                if let Some(r) = reason { <div class="muted small">{ r }</div> }
            </td>
            <td class="response-time">{ response }</td>
            <td><button class="link" title={ctx.t("channel.balance_refresh")} onclick={refresh_balance}>{ format!("${:.2}", *balance) }</button></td>
            <td>{ ctx.quota(c.used_quota) }</td>
            <td><input class="inline-number" type="number" aria-label={ctx.t("channel.priority")} value={c.priority.to_string()} onchange={number_field("priority", c.priority)} /></td>
            <td><input class="inline-number" type="number" aria-label={ctx.t("channel.weight")} value={c.weight.to_string()} onchange={number_field("weight", c.weight)} /></td>
            <td class="actions">
                <button class="secondary small channel-test" onclick={on_test}>{ ctx.t("channel.test") }</button>
                <Link<Route> to={Route::ChannelEdit { id: c.id }} classes="button secondary small">{ ctx.t("common.edit") }</Link<Route>>
                <Link<Route, CopyOf> to={Route::ChannelAdd} query={Some(CopyOf { copy: c.id })} classes="button secondary small channel-copy">{ ctx.t("channel.copy") }</Link<Route, CopyOf>>
                <button class="secondary small" onclick={toggle}>{ if c.status == status::ENABLED { ctx.t("common.disable") } else { ctx.t("common.enable") } }</button>
                <button class="danger small" onclick={delete}>{ ctx.t("common.delete") }</button>
            </td>
        </tr>
    }
}

#[derive(Properties, PartialEq)]
struct TestProps {
    channel: Channel,
    on_close: Callback<()>,
}

/// Tests one channel with a model chosen from its list; shows the answer and the latency.
#[function_component(TestDialog)]
fn test_dialog(props: &TestProps) -> Html {
    let ctx = use_ctx();
    let c = &props.channel;
    let models: Vec<String> =
        c.models.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect();
    let default =
        if c.test_model.is_empty() { models.first().cloned().unwrap_or_default() } else { c.test_model.clone() };
    let model = use_state(|| default);
    let result = use_state(|| None::<Result<TestOutcome, ApiError>>);
    let running = use_state(|| false);
    let run = {
        let (id, model, result, running) = (c.id, model.clone(), result.clone(), running.clone());
        Callback::from(move |_: MouseEvent| {
            let (model, result, running) = ((*model).clone(), result.clone(), running.clone());
            running.set(true);
            spawn_local(async move {
                result.set(Some(api::test_channel(id, &model).await));
                running.set(false);
            });
        })
    };
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="test-title">
                <h2 id="test-title">{ ctx.tf("channel.test_title", &[("name", c.name.clone())]) }</h2>
                <label for="test-model">{ ctx.t("channel.test_model") }</label>
                <select id="test-model" oninput={bind(&model)}>
                    { for models.iter().map(|m| html! { <option value={m.clone()} selected={*m == *model}>{ m.clone() }</option> }) }
                </select>
                { match &*result {
                    None if *running => html! { <Loading /> },
                    None => html! {},
                    Some(Ok(o)) if o.ok => html! {
                        <p id="test-result" class="notice">{ ctx.tf("channel.test_ok", &[("ms", format!("{:.0}", o.seconds * 1000.0))]) }</p>
                    },
                    Some(Ok(o)) => html! { <p id="test-result" class="error">{ ctx.tf("channel.test_failed", &[("message", o.message.clone())]) }</p> },
                    Some(Err(e)) => html! { <p id="test-result" class="error">{ e.text(ctx.lang) }</p> },
                } }
                <div class="actions">
                    <button id="test-close" class="secondary" onclick={close}>{ ctx.t("common.close") }</button>
                    <button id="test-run" disabled={*running} onclick={run}>{ ctx.t("channel.test") }</button>
                </div>
            </div>
        </div>
    }
}
