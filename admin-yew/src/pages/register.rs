//! Registration (`POST /api/user/register`): email and code when the site verifies addresses, and the
//! invitation code from the link (`?aff=`).

use veloera_admin_types::RegisterRequest;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::route::Route;
use crate::widgets::bind;

#[function_component(Register)]
pub fn register() -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let username = use_state(String::new);
    let password = use_state(String::new);
    let confirm = use_state(String::new);
    let email = use_state(String::new);
    let code = use_state(String::new);
    let aff = use_state(|| super::query_param("aff").unwrap_or_default());
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);

    let send_code = {
        let (ctx, email) = (ctx.clone(), email.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, email) = (ctx.clone(), (*email).clone());
            spawn_local(async move {
                match api::send_verification(&email).await {
                    Ok(()) => ctx.success("register.code_sent"),
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };

    let onsubmit = {
        let (ctx, error, busy) = (ctx.clone(), error.clone(), busy.clone());
        let (username, password, confirm, email, code, aff) =
            (username.clone(), password.clone(), confirm.clone(), email.clone(), code.clone(), aff.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if username.trim().is_empty() || password.is_empty() {
                error.set(Some(ctx.t("login.missing").into()));
                return;
            }
            if !(8..=20).contains(&password.chars().count()) {
                error.set(Some(ctx.t("password.length").into()));
                return;
            }
            if *password != *confirm {
                error.set(Some(ctx.t("password.mismatch").into()));
                return;
            }
            let opt = |s: &UseStateHandle<String>| (!s.trim().is_empty()).then(|| s.trim().to_string());
            let body = RegisterRequest {
                username: username.trim().to_string(),
                password: (*password).clone(),
                email: opt(&email),
                verification_code: opt(&code),
                aff_code: opt(&aff),
            };
            busy.set(true);
            let (ctx, error, busy, navigator) = (ctx.clone(), error.clone(), busy.clone(), navigator.clone());
            spawn_local(async move {
                let result = api::register(&body).await;
                busy.set(false);
                match result {
                    Ok(()) => {
                        ctx.success("register.done");
                        if let Some(n) = navigator {
                            n.push(&Route::Login);
                        }
                    }
                    Err(e) => error.set(Some(e.text(ctx.lang))),
                }
            });
        })
    };

    html! {
        <section class="card narrow">
            <h1>{ ctx.t("register.title") }</h1>
            <form {onsubmit} class="stack">
                <label for="reg-username">{ ctx.t("login.username") }</label>
                <input id="reg-username" type="text" autocomplete="username" value={(*username).clone()} oninput={bind(&username)} />
                <label for="reg-password">{ ctx.t("register.password") }</label>
                <input id="reg-password" type="password" autocomplete="new-password" value={(*password).clone()} oninput={bind(&password)} />
                <label for="reg-confirm">{ ctx.t("register.confirm") }</label>
                <input id="reg-confirm" type="password" autocomplete="new-password" value={(*confirm).clone()} oninput={bind(&confirm)} />
                if ctx.status.email_verification {
                    <label for="reg-email">{ ctx.t("register.email") }</label>
                    <div class="row">
                        <input id="reg-email" type="email" autocomplete="email" value={(*email).clone()} oninput={bind(&email)} />
                        <button type="button" class="secondary" onclick={send_code}>{ ctx.t("register.send_code") }</button>
                    </div>
                    <label for="reg-code">{ ctx.t("register.code") }</label>
                    <input id="reg-code" type="text" value={(*code).clone()} oninput={bind(&code)} />
                }
                <label for="reg-aff">{ ctx.t("register.aff") }</label>
                <input id="reg-aff" type="text" value={(*aff).clone()} oninput={bind(&aff)} />
                <button id="register" type="submit" disabled={*busy}>{ ctx.t("register.submit") }</button>
            </form>
            if let Some(msg) = &*error {
                <p id="register-error" class="error" role="alert">{ msg.clone() }</p>
            }
            <p class="links"><Link<Route> to={Route::Login}>{ ctx.t("register.to_login") }</Link<Route>></p>
        </section>
    }
}
