//! Small pieces the pages share: controlled inputs, the pager, the copy button, loading and empty states.

use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::ctx::use_ctx;

/// `oninput` for a text field, textarea or select bound to `state`.
pub fn bind(state: &UseStateHandle<String>) -> Callback<InputEvent> {
    let state = state.clone();
    Callback::from(move |e: InputEvent| state.set(e.target_unchecked_into::<HtmlInputElement>().value()))
}

/// `onchange` for a select bound to `state`.
pub fn bind_select(state: &UseStateHandle<String>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| state.set(e.target_unchecked_into::<HtmlInputElement>().value()))
}

/// `onchange` for a checkbox bound to `state`.
pub fn bind_check(state: &UseStateHandle<bool>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| state.set(e.target_unchecked_into::<HtmlInputElement>().checked()))
}

/// Copies `text` to the clipboard; the toast says whether it worked.
pub fn copy_text(ctx: &crate::ctx::AppCtx, text: String) {
    let ctx = ctx.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let Some(window) = web_sys::window() else { return };
        let copied = JsFuture::from(window.navigator().clipboard().write_text(&text)).await;
        match copied {
            Ok(_) => ctx.success("common.copied"),
            Err(_) => ctx.toast.emit(crate::ctx::Toast { error: true, text: ctx.t("common.copy_failed").into() }),
        }
    });
}

#[derive(Properties, PartialEq)]
pub struct CopyProps {
    pub text: String,
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

#[function_component(CopyButton)]
pub fn copy_button(props: &CopyProps) -> Html {
    let ctx = use_ctx();
    let onclick = {
        let (ctx, text) = (ctx.clone(), props.text.clone());
        Callback::from(move |_: MouseEvent| copy_text(&ctx, text.clone()))
    };
    html! { <button id={props.id.clone()} type="button" class="secondary small" {onclick}>{ ctx.t("common.copy") }</button> }
}

#[function_component(Loading)]
pub fn loading() -> Html {
    let ctx = use_ctx();
    html! { <p class="muted loading"><span class="spinner" aria-hidden="true"></span>{ ctx.t("common.loading") }</p> }
}

#[derive(Properties, PartialEq)]
pub struct PagerProps {
    pub page: i64,
    pub page_size: i64,
    pub total: i64,
    pub on_page: Callback<i64>,
}

/// Previous / next with "page n of m · total".
#[function_component(Pager)]
pub fn pager(props: &PagerProps) -> Html {
    let ctx = use_ctx();
    let pages = ((props.total + props.page_size - 1) / props.page_size.max(1)).max(1);
    let go = |p: i64| {
        let on_page = props.on_page.clone();
        Callback::from(move |_: MouseEvent| on_page.emit(p))
    };
    html! {
        <div class="pager">
            <button class="secondary small" disabled={props.page <= 1} onclick={go(props.page - 1)}>{ ctx.t("pager.prev") }</button>
            <span class="muted">{ ctx.tf("pager.status", &[("page", props.page.to_string()), ("pages", pages.to_string()), ("total", ctx.number(props.total))]) }</span>
            <button class="secondary small" disabled={props.page >= pages} onclick={go(props.page + 1)}>{ ctx.t("pager.next") }</button>
        </div>
    }
}

/// A page's title row with optional actions on the right.
#[derive(Properties, PartialEq)]
pub struct PageHeadProps {
    pub title: AttrValue,
    #[prop_or_default]
    pub children: Html,
}

#[function_component(PageHead)]
pub fn page_head(props: &PageHeadProps) -> Html {
    html! {
        <div class="page-head">
            <h1>{ props.title.clone() }</h1>
            <div class="page-actions">{ props.children.clone() }</div>
        </div>
    }
}

/// Whether `text` is a JSON object (or empty, meaning "none"): checked before saving so the field shows the
/// problem, not a toast after a round trip.
pub fn json_object_error(ctx: &crate::ctx::AppCtx, text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(_) => Some(ctx.t("form.json_not_object").to_string()),
        Err(e) => Some(format!("{}: {e}", ctx.t("form.json_invalid"))),
    }
}
