//! Toasts: API errors and confirmations in the corner. Successes fade after a few seconds; errors stay until
//! closed so nobody misses them.

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use crate::ctx::{Toast, use_ctx};

#[derive(Properties, PartialEq)]
pub struct ToastsProps {
    pub toasts: Vec<(u32, Toast)>,
    pub on_close: Callback<u32>,
}

#[function_component(Toasts)]
pub fn toasts(props: &ToastsProps) -> Html {
    html! {
        <div id="toasts" class="toasts" role="status" aria-live="polite">
            { for props.toasts.iter().map(|(id, t)| html! {
                <ToastItem key={*id} id={*id} toast={t.clone()} on_close={props.on_close.clone()} />
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ItemProps {
    id: u32,
    toast: Toast,
    on_close: Callback<u32>,
}

#[function_component(ToastItem)]
fn toast_item(props: &ItemProps) -> Html {
    let ctx = use_ctx();
    {
        let (id, on_close, error) = (props.id, props.on_close.clone(), props.toast.error);
        use_effect_with(id, move |_| {
            let timer = (!error).then(|| Timeout::new(4_000, move || on_close.emit(id)));
            move || drop(timer)
        });
    }
    let (id, on_close) = (props.id, props.on_close.clone());
    html! {
        <div class={classes!("toast", props.toast.error.then_some("toast-error"))}>
            <span class="toast-text">{ props.toast.text.clone() }</span>
            <button class="icon-button" aria-label={ctx.t("common.close")}
                onclick={Callback::from(move |_: MouseEvent| on_close.emit(id))}>{ "×" }</button>
        </div>
    }
}
