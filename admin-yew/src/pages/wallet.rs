//! The wallet: balance and subscription quota, redeeming a code (the result in words), the top-up link when
//! the site has one, the daily check-in when enabled, and the invitation link with transfer to balance.

use veloera_admin_types::CheckInStatus;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::widgets::{CopyButton, PageHead, bind};

#[function_component(Wallet)]
pub fn wallet() -> Html {
    let ctx = use_ctx();
    let code = use_state(String::new);
    let result = use_state(|| None::<String>);
    let check_in = use_state(|| None::<CheckInStatus>);
    let aff = use_state(String::new);
    let busy = use_state(|| false);
    let transfer_amount = use_state(String::new);
    {
        let (ctx, check_in, aff) = (ctx.clone(), check_in.clone(), aff.clone());
        // Keyed on the option: on a reload the site status may arrive after the page mounts.
        use_effect_with(ctx.status.check_in_enabled, move |_| {
            ctx.refresh_user.emit(());
            spawn_local(async move {
                if ctx.status.check_in_enabled {
                    match api::check_in_status().await {
                        Ok(s) => check_in.set(Some(s)),
                        Err(e) => ctx.error(&e),
                    }
                }
                if let Ok(code) = api::aff_code().await {
                    aff.set(code);
                }
            });
        });
    }
    let redeem = {
        let (ctx, code, result, busy) = (ctx.clone(), code.clone(), result.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let key = code.trim().to_string();
            if key.is_empty() {
                return result.set(Some(ctx.t("wallet.code_missing").into()));
            }
            busy.set(true);
            let (ctx, code, result, busy) = (ctx.clone(), code.clone(), result.clone(), busy.clone());
            spawn_local(async move {
                match api::redeem(key).await {
                    Ok(r) => {
                        let key = if r.is_gift { "wallet.redeemed_gift" } else { "wallet.redeemed" };
                        result.set(Some(ctx.tf(key, &[("amount", ctx.quota(r.quota))])));
                        code.set(String::new());
                        ctx.refresh_user.emit(());
                    }
                    Err(e) => result.set(Some(e.text(ctx.lang))),
                }
                busy.set(false);
            });
        })
    };
    let do_check_in = {
        let (ctx, check_in) = (ctx.clone(), check_in.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, check_in) = (ctx.clone(), check_in.clone());
            spawn_local(async move {
                match api::check_in().await {
                    Ok(r) => {
                        ctx.notify(ctx.tf("wallet.checked_in", &[("amount", ctx.quota(r.quota))]));
                        check_in.set(Some(CheckInStatus { can_check_in: false }));
                        ctx.refresh_user.emit(());
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let transfer = {
        let (ctx, amount) = (ctx.clone(), transfer_amount.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = amount.trim().to_string();
            let units = if ctx.status.display_in_currency {
                text.parse::<f64>().ok().filter(|v| *v > 0.0).map(|v| crate::format::units_from_usd(&ctx.status, v))
            } else {
                text.parse::<i64>().ok().filter(|v| *v > 0)
            };
            let Some(units) = units else {
                return ctx.toast.emit(crate::ctx::Toast { error: true, text: ctx.t("wallet.amount_invalid").into() });
            };
            let ctx = ctx.clone();
            spawn_local(async move {
                match api::aff_transfer(units).await {
                    Ok(r) => {
                        ctx.notify(ctx.tf(
                            "wallet.transferred",
                            &[("amount", ctx.quota(units)), ("left", ctx.quota(r.aff_quota))],
                        ));
                        ctx.refresh_user.emit(());
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };

    let Some(user) = ctx.user.clone() else { return html! {} };
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    let link = format!("{origin}/register?aff={}", *aff);
    html! {
        <>
            <section class="card">
                <PageHead title={ctx.t("nav.wallet")} />
                <div class="cards">
                    <div class="stat-card"><span class="muted">{ ctx.t("wallet.balance") }</span><strong id="wallet-balance">{ ctx.quota(user.quota) }</strong></div>
                    <div class="stat-card"><span class="muted">{ ctx.t("wallet.subscription") }</span><strong id="wallet-subscription">{ ctx.quota(user.subscription_quota) }</strong></div>
                    <div class="stat-card"><span class="muted">{ ctx.t("dash.used") }</span><strong>{ ctx.quota(user.used_quota) }</strong></div>
                </div>
            </section>
            <section class="card">
                <h2>{ ctx.t("wallet.redeem") }</h2>
                <form class="row" onsubmit={redeem}>
                    <label class="sr-only" for="redeem-code">{ ctx.t("wallet.code") }</label>
                    <input id="redeem-code" placeholder={ctx.t("wallet.code")} value={(*code).clone()} oninput={bind(&code)} />
                    <button id="redeem" type="submit" disabled={*busy}>{ ctx.t("wallet.redeem_submit") }</button>
                </form>
                if let Some(r) = &*result { <p id="redeem-result" class="notice" role="status">{ r.clone() }</p> }
                if !ctx.status.top_up_link.is_empty() {
                    <p><a href={ctx.status.top_up_link.clone()} target="_blank" rel="noopener noreferrer">{ ctx.t("wallet.buy") }</a></p>
                }
            </section>
            if ctx.status.check_in_enabled {
                <section class="card">
                    <h2>{ ctx.t("wallet.check_in") }</h2>
                    { match &*check_in {
                        Some(s) if s.can_check_in => html! { <button id="check-in" onclick={do_check_in}>{ ctx.t("wallet.check_in_now") }</button> },
                        Some(_) => html! { <p id="check-in-done" class="muted">{ ctx.t("wallet.checked_in_today") }</p> },
                        None => html! {},
                    } }
                </section>
            }
            if !aff.is_empty() {
                <section class="card">
                    <h2>{ ctx.t("wallet.invite") }</h2>
                    <p class="row"><code id="invite-link">{ link.clone() }</code><CopyButton text={link} /></p>
                    <form class="row" onsubmit={transfer}>
                        <label for="transfer-amount">{ ctx.t("wallet.transfer_amount") }</label>
                        <input id="transfer-amount" inputmode="decimal" value={(*transfer_amount).clone()} oninput={bind(&transfer_amount)} />
                        <button class="secondary" type="submit">{ ctx.t("wallet.transfer") }</button>
                    </form>
                </section>
            }
        </>
    }
}
