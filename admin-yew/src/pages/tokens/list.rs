//! The token list: search by name or key fragment; status, used, remaining or unlimited, created, expires,
//! group, rate limit; reveal and copy a key (`POST /api/token/{id}/key`), copy the selected keys, enable,
//! disable, delete (confirmed), and example calls for a revealed key.

use std::collections::BTreeSet;

use veloera_admin_types::{Page, Token, status};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{Examples, status_pill};
use crate::api::{self, ApiError};
use crate::ctx::use_ctx;
use crate::route::Route;
use crate::widgets::{CopyButton, Loading, PageHead, Pager, bind, copy_text};

const PAGE_SIZE: i64 = 20;

#[derive(Clone, PartialEq)]
enum Rows {
    Page(Page<Token>),
    Search(Vec<Token>),
}

impl Rows {
    fn items(&self) -> &[Token] {
        match self {
            Rows::Page(p) => &p.items,
            Rows::Search(v) => v,
        }
    }
}

#[function_component(TokenList)]
pub fn token_list() -> Html {
    let ctx = use_ctx();
    let page = use_state(|| 1i64);
    let rows = use_state(|| None::<Result<Rows, ApiError>>);
    let keyword = use_state(String::new);
    let fragment = use_state(String::new);
    let searching = use_state(|| false);
    let tick = use_state(|| 0u32);
    let selected = use_state(BTreeSet::<i64>::new);
    let revealed = use_state(|| None::<(i64, String)>);

    let reload = {
        let tick = tick.clone();
        Callback::from(move |()| tick.set(*tick + 1))
    };
    {
        let (rows, page, searching, keyword, fragment) =
            (rows.clone(), *page, *searching, (*keyword).clone(), (*fragment).clone());
        use_effect_with((page, *tick, searching), move |_| {
            spawn_local(async move {
                let result = if searching {
                    api::search_tokens(&keyword, &fragment).await.map(Rows::Search)
                } else {
                    api::list_tokens(page, PAGE_SIZE).await.map(Rows::Page)
                };
                rows.set(Some(result));
            });
        });
    }
    let on_search = {
        let (searching, reload, keyword, fragment) =
            (searching.clone(), reload.clone(), keyword.clone(), fragment.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            searching.set(!(keyword.is_empty() && fragment.is_empty()));
            reload.emit(());
        })
    };
    let copy_selected = {
        let (ctx, selected) = (ctx.clone(), selected.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, ids) = (ctx.clone(), selected.iter().copied().collect::<Vec<_>>());
            spawn_local(async move {
                let mut keys = Vec::new();
                for id in ids {
                    match api::reveal_token_key(id).await {
                        Ok(k) => keys.push(k),
                        Err(e) => return ctx.error(&e),
                    }
                }
                copy_text(&ctx, keys.join("\n"));
            });
        })
    };

    let table = match &*rows {
        None => html! { <Loading /> },
        Some(Err(e)) => html! { <p id="tokens-error" class="error" role="alert">{ e.text(ctx.lang) }</p> },
        Some(Ok(r)) if r.items().is_empty() => html! { <p class="muted" id="tokens-empty">{ ctx.t("token.none") }</p> },
        Some(Ok(r)) => html! {
            <div class="table-wrap">
                <table id="tokens" class="data">
                    <thead><tr>
                        <th><span class="sr-only">{ ctx.t("common.select") }</span></th>
                        <th>{ ctx.t("token.name") }</th><th>{ ctx.t("common.status") }</th>
                        <th>{ ctx.t("token.key") }</th><th>{ ctx.t("token.used") }</th>
                        <th>{ ctx.t("token.remaining") }</th><th>{ ctx.t("token.created") }</th>
                        <th>{ ctx.t("token.expires") }</th><th>{ ctx.t("token.group") }</th>
                        <th>{ ctx.t("token.rate_limit") }</th><th>{ ctx.t("common.actions") }</th>
                    </tr></thead>
                    <tbody>{ for r.items().iter().map(|t| {
                        let on_select = {
                            let (selected, id) = (selected.clone(), t.id);
                            Callback::from(move |e: Event| {
                                let mut s = (*selected).clone();
                                if e.target_unchecked_into::<HtmlInputElement>().checked() { s.insert(id); } else { s.remove(&id); }
                                selected.set(s);
                            })
                        };
                        html! {
                            <TokenRow key={t.id} token={t.clone()} selected={selected.contains(&t.id)} {on_select}
                                on_changed={reload.clone()}
                                on_reveal={{ let revealed = revealed.clone(); Callback::from(move |r| revealed.set(Some(r))) }} />
                        }
                    }) }</tbody>
                </table>
            </div>
        },
    };

    html! {
        <section class="card">
            <PageHead title={ctx.t("nav.tokens")}>
                <Link<Route> to={Route::TokenAdd} classes="button"><span id="token-add">{ ctx.t("token.add") }</span></Link<Route>>
                if !selected.is_empty() {
                    <button class="secondary" id="token-copy-selected" onclick={copy_selected}>{ ctx.tf("token.copy_selected", &[("n", selected.len().to_string())]) }</button>
                }
            </PageHead>
            if ctx.status.log_chat_content_enabled { <p class="warning">{ ctx.t("privacy.content_logged") }</p> }
            <form class="filters" onsubmit={on_search}>
                <label class="sr-only" for="token-keyword">{ ctx.t("token.name") }</label>
                <input id="token-keyword" placeholder={ctx.t("token.name")} value={(*keyword).clone()} oninput={bind(&keyword)} />
                <label class="sr-only" for="token-fragment">{ ctx.t("token.key_fragment") }</label>
                <input id="token-fragment" placeholder={ctx.t("token.key_fragment")} value={(*fragment).clone()} oninput={bind(&fragment)} />
                <button type="submit" class="secondary">{ ctx.t("common.search") }</button>
            </form>
            if let Some((id, key)) = &*revealed {
                <div class="notice" id="revealed-key-panel">
                    <p>{ ctx.tf("token.revealed", &[("id", id.to_string())]) }</p>
                    <p><code id="revealed-key">{ key.clone() }</code> <CopyButton id="copy-revealed" text={key.clone()} /></p>
                    <Examples key_text={key.clone()} />
                </div>
            }
            { table }
            if let Some(Ok(Rows::Page(p))) = &*rows {
                <Pager page={*page} page_size={PAGE_SIZE} total={p.total}
                    on_page={{ let page = page.clone(); Callback::from(move |n| page.set(n)) }} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct RowProps {
    token: Token,
    selected: bool,
    on_select: Callback<Event>,
    on_changed: Callback<()>,
    on_reveal: Callback<(i64, String)>,
}

#[function_component(TokenRow)]
fn token_row(props: &RowProps) -> Html {
    let ctx = use_ctx();
    let t = &props.token;
    let reveal = {
        let (ctx, id, on_reveal) = (ctx.clone(), t.id, props.on_reveal.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, on_reveal) = (ctx.clone(), on_reveal.clone());
            spawn_local(async move {
                match api::reveal_token_key(id).await {
                    Ok(k) => on_reveal.emit((id, k)),
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let toggle = {
        let (ctx, id, on_changed) = (ctx.clone(), t.id, props.on_changed.clone());
        let target = if t.status == status::ENABLED { status::DISABLED } else { status::ENABLED };
        Callback::from(move |_: MouseEvent| {
            let (ctx, on_changed) = (ctx.clone(), on_changed.clone());
            spawn_local(async move {
                match api::set_token_status(id, target).await {
                    Ok(()) => ctx.success("common.saved"),
                    Err(e) => ctx.error(&e),
                }
                on_changed.emit(());
            });
        })
    };
    let delete = {
        let (ctx, id, name, on_changed) = (ctx.clone(), t.id, t.name.clone(), props.on_changed.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx2, on_changed) = (ctx.clone(), on_changed.clone());
            ctx.ask(ctx.tf("token.confirm_delete", &[("name", name.clone())]), move || {
                let (ctx, on_changed) = (ctx2.clone(), on_changed.clone());
                spawn_local(async move {
                    match api::delete_token(id).await {
                        Ok(()) => ctx.success("common.deleted"),
                        Err(e) => ctx.error(&e),
                    }
                    on_changed.emit(());
                });
            });
        })
    };
    let remaining = if t.unlimited_quota { ctx.t("token.unlimited").to_string() } else { ctx.quota(t.remain_quota) };
    let limit = |n: i64| if n == 0 { "∞".to_string() } else { n.to_string() };
    let rate = if t.rate_limit_enabled {
        ctx.tf(
            "token.rate_limit_value",
            &[
                ("count", limit(t.rate_limit_count)),
                ("success", limit(t.rate_limit_success)),
                ("period", t.rate_limit_period.to_string()),
            ],
        )
    } else {
        ctx.t("common.off").to_string()
    };
    html! {
        <tr id={format!("token-{}", t.id)}>
            <td><input type="checkbox" aria-label={ctx.t("common.select")} checked={props.selected} onchange={props.on_select.clone()} /></td>
            <td class="name">{ t.name.clone() }</td>
            <td>{ status_pill(&ctx, t) }</td>
            <td><code>{ t.key.clone() }</code></td>
            <td>{ ctx.quota(t.used_quota) }</td>
            <td>{ remaining }</td>
            <td class="nowrap">{ ctx.time(t.created_time) }</td>
            <td class="nowrap">{ ctx.time(t.expired_time) }</td>
            <td>{ if t.group.is_empty() { ctx.t("token.group_user").to_string() } else { t.group.clone() } }</td>
            <td>{ rate }</td>
            <td class="actions">
                <button class="secondary small token-reveal" onclick={reveal}>{ ctx.t("token.reveal") }</button>
                <Link<Route> to={Route::TokenEdit { id: t.id }} classes="button secondary small">{ ctx.t("common.edit") }</Link<Route>>
                <button class="secondary small" onclick={toggle}>{ if t.status == status::ENABLED { ctx.t("common.disable") } else { ctx.t("common.enable") } }</button>
                <button class="danger small" onclick={delete}>{ ctx.t("common.delete") }</button>
            </td>
        </tr>
    }
}
