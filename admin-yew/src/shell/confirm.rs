//! The confirmation dialog every destructive action goes through.

use yew::prelude::*;

use crate::ctx::{Confirm, use_ctx};

#[derive(Properties, PartialEq)]
pub struct ConfirmProps {
    pub confirm: Confirm,
    pub on_close: Callback<()>,
}

#[function_component(ConfirmDialog)]
pub fn confirm_dialog(props: &ConfirmProps) -> Html {
    let ctx = use_ctx();
    let yes = {
        let (on_yes, on_close) = (props.confirm.on_yes.clone(), props.on_close.clone());
        Callback::from(move |_: MouseEvent| {
            on_close.emit(());
            on_yes.emit(());
        })
    };
    let no = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <div class="modal-backdrop">
            <div class="modal" role="alertdialog" aria-modal="true" aria-labelledby="confirm-text">
                <p id="confirm-text">{ props.confirm.message.clone() }</p>
                <div class="actions">
                    <button id="confirm-no" class="secondary" onclick={no}>{ ctx.t("common.cancel") }</button>
                    <button id="confirm-yes" class="danger" onclick={yes}>{ ctx.t("common.confirm") }</button>
                </div>
            </div>
        </div>
    }
}
