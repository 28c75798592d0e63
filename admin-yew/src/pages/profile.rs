//! The profile: account summary, display name, password change, the personal access token
//! (`/api/user/token`), notification settings (`PUT /api/user/setting`) and deleting the account.

use veloera_admin_types::{UpdateSelf, UserSetting};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::change_password::ChangePassword;
use crate::api;
use crate::ctx::use_ctx;
use crate::route::Route;
use crate::widgets::{CopyButton, PageHead, bind, bind_check, bind_select};

fn role_key(role: i32) -> &'static str {
    match role {
        r if r >= veloera_admin_types::role::ROOT => "role.root",
        r if r >= veloera_admin_types::role::ADMIN => "role.admin",
        _ => "role.user",
    }
}

#[function_component(Profile)]
pub fn profile() -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let user = ctx.user.clone();
    let setting = user.as_ref().and_then(|u| u.setting.clone()).unwrap_or_default();
    let display_name = use_state(|| user.as_ref().map(|u| u.display_name.clone()).unwrap_or_default());
    let access_token = use_state(|| None::<String>);
    let notify_type = use_state(|| setting.notify_type.clone());
    let threshold = use_state(|| setting.quota_warning_threshold.to_string());
    let webhook_url = use_state(|| setting.webhook_url.clone());
    let webhook_secret = use_state(String::new);
    let notify_email = use_state(|| setting.notification_email.clone());
    let accept_unpriced = use_state(|| setting.accept_unset_model_ratio_model);
    let show_ip = use_state(|| setting.show_ip_in_logs);
    let delete_confirm = use_state(String::new);

    let Some(user) = user else { return html! {} };

    let save_name = {
        let (ctx, display_name) = (ctx.clone(), display_name.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = UpdateSelf { display_name: Some(display_name.trim().to_string()), ..Default::default() };
            let ctx = ctx.clone();
            spawn_local(async move {
                match api::update_self(&body).await {
                    Ok(()) => {
                        ctx.success("common.saved");
                        ctx.refresh_user.emit(());
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let new_token = {
        let (ctx, access_token) = (ctx.clone(), access_token.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx2, access_token) = (ctx.clone(), access_token.clone());
            ctx.ask(ctx.t("profile.token_confirm").into(), move || {
                let (ctx, access_token) = (ctx2.clone(), access_token.clone());
                spawn_local(async move {
                    match api::access_token().await {
                        Ok(t) => access_token.set(Some(t)),
                        Err(e) => ctx.error(&e),
                    }
                });
            });
        })
    };
    let save_setting = {
        let ctx = ctx.clone();
        let (notify_type, threshold, webhook_url, webhook_secret, notify_email, accept_unpriced, show_ip) = (
            notify_type.clone(),
            threshold.clone(),
            webhook_url.clone(),
            webhook_secret.clone(),
            notify_email.clone(),
            accept_unpriced.clone(),
            show_ip.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Ok(threshold) = threshold.trim().parse::<f64>() else {
                return ctx.toast.emit(crate::ctx::Toast { error: true, text: ctx.t("form.not_a_number").into() });
            };
            let body = UserSetting {
                notify_type: (*notify_type).clone(),
                quota_warning_threshold: threshold,
                webhook_url: webhook_url.trim().to_string(),
                // Empty keeps the stored secret: it is write-only.
                webhook_secret: Some(webhook_secret.trim().to_string()).filter(|s| !s.is_empty()),
                notification_email: notify_email.trim().to_string(),
                accept_unset_model_ratio_model: *accept_unpriced,
                show_ip_in_logs: *show_ip,
            };
            let ctx = ctx.clone();
            spawn_local(async move {
                match api::update_setting(&body).await {
                    Ok(()) => ctx.success("common.saved"),
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let delete_account = {
        let (ctx, delete_confirm, username) = (ctx.clone(), delete_confirm.clone(), user.username.clone());
        Callback::from(move |_: MouseEvent| {
            if *delete_confirm != username {
                return ctx
                    .toast
                    .emit(crate::ctx::Toast { error: true, text: ctx.t("profile.delete_type_name").into() });
            }
            let (ctx2, navigator) = (ctx.clone(), navigator.clone());
            ctx.ask(ctx.t("profile.delete_confirm").into(), move || {
                let (ctx, navigator) = (ctx2.clone(), navigator.clone());
                spawn_local(async move {
                    match api::delete_self().await {
                        Ok(()) => {
                            ctx.set_user.emit(None);
                            if let Some(n) = navigator {
                                n.push(&Route::Login);
                            }
                        }
                        Err(e) => ctx.error(&e),
                    }
                });
            });
        })
    };

    html! {
        <>
            <section class="card">
                <PageHead title={ctx.t("nav.profile")} />
                <dl class="summary-list" id="profile-summary">
                    <dt>{ ctx.t("login.username") }</dt><dd>{ user.username.clone() }</dd>
                    <dt>{ ctx.t("profile.role") }</dt><dd>{ ctx.t(role_key(user.role)) }</dd>
                    <dt>{ ctx.t("token.group") }</dt><dd>{ user.group.clone() }</dd>
                    <dt>{ ctx.t("wallet.balance") }</dt><dd>{ ctx.quota(user.quota + user.subscription_quota) }</dd>
                    <dt>{ ctx.t("dash.used") }</dt><dd>{ ctx.quota(user.used_quota) }</dd>
                    <dt>{ ctx.t("dash.requests") }</dt><dd>{ ctx.number(user.request_count) }</dd>
                </dl>
                <form class="row" onsubmit={save_name}>
                    <label for="display-name">{ ctx.t("profile.display_name") }</label>
                    <input id="display-name" value={(*display_name).clone()} oninput={bind(&display_name)} />
                    <button type="submit" class="secondary">{ ctx.t("common.save") }</button>
                </form>
            </section>
            <ChangePassword />
            <section class="card">
                <h2>{ ctx.t("profile.access_token") }</h2>
                <p class="muted">{ ctx.t("profile.access_token_hint") }</p>
                if let Some(t) = &*access_token {
                    <p class="notice"><code id="access-token">{ t.clone() }</code> <CopyButton text={t.clone()} /></p>
                }
                <button class="secondary" id="access-token-new" onclick={new_token}>{ ctx.t("profile.access_token_new") }</button>
            </section>
            <section class="card">
                <h2>{ ctx.t("profile.notifications") }</h2>
                <form class="form-grid" onsubmit={save_setting}>
                    <div class="field">
                        <label for="notify-type">{ ctx.t("profile.notify_type") }</label>
                        <select id="notify-type" onchange={bind_select(&notify_type)}>
                            <option value="" selected={notify_type.is_empty()}>{ ctx.t("common.off") }</option>
                            <option value="email" selected={*notify_type == "email"}>{ ctx.t("profile.notify_email") }</option>
                            <option value="webhook" selected={*notify_type == "webhook"}>{ ctx.t("profile.notify_webhook") }</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="notify-threshold">{ ctx.t("profile.threshold") }</label>
                        <input id="notify-threshold" inputmode="decimal" value={(*threshold).clone()} oninput={bind(&threshold)} />
                    </div>
                    <div class="field">
                        <label for="notify-address">{ ctx.t("profile.notify_address") }</label>
                        <input id="notify-address" type="email" value={(*notify_email).clone()} oninput={bind(&notify_email)} />
                    </div>
                    <div class="field">
                        <label for="webhook-url">{ ctx.t("profile.webhook_url") }</label>
                        <input id="webhook-url" type="url" value={(*webhook_url).clone()} oninput={bind(&webhook_url)} />
                    </div>
                    <div class="field">
                        <label for="webhook-secret">{ ctx.t("profile.webhook_secret") }</label>
                        <input id="webhook-secret" type="password" autocomplete="off" placeholder={ctx.t("profile.webhook_secret_keep")} value={(*webhook_secret).clone()} oninput={bind(&webhook_secret)} />
                    </div>
                    <label class="check field"><input type="checkbox" checked={*accept_unpriced} onchange={bind_check(&accept_unpriced)} />{ ctx.t("profile.accept_unpriced") }</label>
                    <label class="check field"><input type="checkbox" checked={*show_ip} onchange={bind_check(&show_ip)} />{ ctx.t("profile.show_ip") }</label>
                    <div class="form-actions wide"><button type="submit" id="notify-save">{ ctx.t("common.save") }</button></div>
                </form>
            </section>
            <section class="card danger-zone">
                <h2>{ ctx.t("profile.delete") }</h2>
                <p class="muted">{ ctx.tf("profile.delete_hint", &[("name", user.username.clone())]) }</p>
                <div class="row">
                    <label class="sr-only" for="delete-confirm">{ ctx.t("login.username") }</label>
                    <input id="delete-confirm" value={(*delete_confirm).clone()} oninput={bind(&delete_confirm)} />
                    <button class="danger" onclick={delete_account}>{ ctx.t("profile.delete") }</button>
                </div>
            </section>
        </>
    }
}
