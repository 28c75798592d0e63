//! Password reset by mail: ask for the mail (`GET /api/reset_password`), then the link's page
//! (`/user/reset?email=&token=`) confirms it and shows the new password the server chose.

use veloera_admin_types::PasswordReset;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::route::Route;
use crate::widgets::{CopyButton, bind};

#[function_component(Reset)]
pub fn reset() -> Html {
    let ctx = use_ctx();
    let email = use_state(String::new);
    let sent = use_state(|| false);
    let error = use_state(|| None::<String>);
    let onsubmit = {
        let (ctx, email, sent, error) = (ctx.clone(), email.clone(), sent.clone(), error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (ctx, address, sent, error) = (ctx.clone(), email.trim().to_string(), sent.clone(), error.clone());
            if address.is_empty() {
                error.set(Some(ctx.t("reset.missing").into()));
                return;
            }
            spawn_local(async move {
                match api::send_password_reset(&address).await {
                    Ok(()) => {
                        error.set(None);
                        sent.set(true);
                    }
                    Err(e) => error.set(Some(e.text(ctx.lang))),
                }
            });
        })
    };
    html! {
        <section class="card narrow">
            <h1>{ ctx.t("reset.title") }</h1>
            <form {onsubmit} class="stack">
                <label for="reset-email">{ ctx.t("register.email") }</label>
                <input id="reset-email" type="email" autocomplete="email" value={(*email).clone()} oninput={bind(&email)} />
                <button id="reset-send" type="submit">{ ctx.t("reset.send") }</button>
            </form>
            if *sent { <p class="notice">{ ctx.t("reset.sent") }</p> }
            if let Some(msg) = &*error { <p id="reset-error" class="error" role="alert">{ msg.clone() }</p> }
            <p class="links"><Link<Route> to={Route::Login}>{ ctx.t("register.to_login") }</Link<Route>></p>
        </section>
    }
}

#[function_component(ResetConfirm)]
pub fn reset_confirm() -> Html {
    let ctx = use_ctx();
    let result = use_state(|| None::<Result<String, String>>);
    let confirm = {
        let (ctx, result) = (ctx.clone(), result.clone());
        Callback::from(move |_: MouseEvent| {
            let body = PasswordReset {
                email: super::query_param("email").unwrap_or_default(),
                token: super::query_param("token").unwrap_or_default(),
            };
            let (ctx, result) = (ctx.clone(), result.clone());
            spawn_local(async move {
                result.set(Some(api::confirm_password_reset(&body).await.map_err(|e| e.text(ctx.lang))));
            });
        })
    };
    html! {
        <section class="card narrow">
            <h1>{ ctx.t("reset.title") }</h1>
            { match &*result {
                None => html! { <button id="reset-confirm" onclick={confirm}>{ ctx.t("reset.confirm") }</button> },
                Some(Ok(pw)) => html! {
                    <>
                        <p>{ ctx.t("reset.new_password") }</p>
                        <p class="notice"><code id="reset-password">{ pw.clone() }</code> <CopyButton text={pw.clone()} /></p>
                        <Link<Route> to={Route::Login}>{ ctx.t("register.to_login") }</Link<Route>>
                    </>
                },
                Some(Err(msg)) => html! { <p class="error" role="alert">{ msg.clone() }</p> },
            } }
        </section>
    }
}
