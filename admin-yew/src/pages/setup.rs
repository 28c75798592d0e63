//! First run (`/api/setup`): while no account exists, create the root account and choose the site mode.

use veloera_admin_types::{SetupRequest, SetupStatus};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::widgets::{Loading, bind};

#[function_component(Setup)]
pub fn setup() -> Html {
    let ctx = use_ctx();
    let info = use_state(|| None::<SetupStatus>);
    let username = use_state(|| "root".to_string());
    let password = use_state(String::new);
    let confirm = use_state(String::new);
    let mode = use_state(|| "external".to_string());
    let error = use_state(|| None::<String>);
    {
        let (info, ctx) = (info.clone(), ctx.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match api::setup_status().await {
                    Ok(s) => info.set(Some(s)),
                    Err(e) => ctx.error(&e),
                }
            });
        });
    }
    let onsubmit = {
        let (ctx, error) = (ctx.clone(), error.clone());
        let (username, password, confirm, mode) = (username.clone(), password.clone(), confirm.clone(), mode.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *password != *confirm {
                error.set(Some(ctx.t("password.mismatch").into()));
                return;
            }
            let body = SetupRequest {
                username: username.trim().to_string(),
                password: (*password).clone(),
                confirm_password: (*confirm).clone(),
                self_use_mode_enabled: Some(*mode == "self"),
                demo_site_enabled: Some(*mode == "demo"),
            };
            let (ctx, error) = (ctx.clone(), error.clone());
            spawn_local(async move {
                match api::setup(&body).await {
                    // A full reload reads the new `/api/status` (setup done) before anything else.
                    Ok(()) => {
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().set_href("/login");
                        }
                    }
                    Err(e) => error.set(Some(e.text(ctx.lang))),
                }
            });
        })
    };
    let Some(status) = &*info else { return html! { <Loading /> } };
    if status.status {
        return html! { <section class="card narrow"><h1>{ ctx.t("setup.title") }</h1><p>{ ctx.t("setup.done") }</p></section> };
    }
    html! {
        <section class="card narrow">
            <h1>{ ctx.t("setup.title") }</h1>
            if status.database_type == "sqlite" { <p class="warning">{ ctx.t("setup.sqlite") }</p> }
            <form {onsubmit} class="stack">
                <label for="setup-username">{ ctx.t("login.username") }</label>
                <input id="setup-username" type="text" value={(*username).clone()} oninput={bind(&username)} />
                <label for="setup-password">{ ctx.t("register.password") }</label>
                <input id="setup-password" type="password" autocomplete="new-password" value={(*password).clone()} oninput={bind(&password)} />
                <label for="setup-confirm">{ ctx.t("register.confirm") }</label>
                <input id="setup-confirm" type="password" autocomplete="new-password" value={(*confirm).clone()} oninput={bind(&confirm)} />
                <label for="setup-mode">{ ctx.t("setup.mode") }</label>
                <select id="setup-mode" oninput={bind(&mode)}>
                    <option value="external" selected={*mode == "external"}>{ ctx.t("setup.mode_external") }</option>
                    <option value="self" selected={*mode == "self"}>{ ctx.t("setup.mode_self") }</option>
                    <option value="demo" selected={*mode == "demo"}>{ ctx.t("setup.mode_demo") }</option>
                </select>
                <button id="setup-submit" type="submit">{ ctx.t("setup.submit") }</button>
            </form>
            if let Some(msg) = &*error { <p id="setup-error" class="error" role="alert">{ msg.clone() }</p> }
        </section>
    }
}
