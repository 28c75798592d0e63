//! Changing the password (`PUT /api/user/self`): forced for the default root account before anything else,
//! and part of the profile page.

use veloera_admin_types::UpdateSelf;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::widgets::bind;

#[derive(Properties, PartialEq)]
pub struct ChangePasswordProps {
    /// The default password must be replaced: say so, and reload the session afterwards.
    #[prop_or_default]
    pub forced: bool,
}

#[function_component(ChangePassword)]
pub fn change_password(props: &ChangePasswordProps) -> Html {
    let ctx = use_ctx();
    let original = use_state(String::new);
    let new = use_state(String::new);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (ctx, original, new, error, busy, forced) =
            (ctx.clone(), original.clone(), new.clone(), error.clone(), busy.clone(), props.forced);
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            if original.is_empty() || new.is_empty() {
                error.set(Some(ctx.t("password.missing").into()));
                return;
            }
            if !(8..=20).contains(&new.chars().count()) {
                error.set(Some(ctx.t("password.length").into()));
                return;
            }
            let body = UpdateSelf {
                original_password: Some((*original).clone()),
                password: Some((*new).clone()),
                ..Default::default()
            };
            busy.set(true);
            let (ctx, original, new, error, busy) =
                (ctx.clone(), original.clone(), new.clone(), error.clone(), busy.clone());
            spawn_local(async move {
                let result = api::update_self(&body).await;
                busy.set(false);
                match result {
                    Ok(()) => {
                        error.set(None);
                        original.set(String::new());
                        new.set(String::new());
                        ctx.success("password.changed");
                        if forced {
                            ctx.refresh_user.emit(());
                        }
                    }
                    Err(e) => error.set(Some(e.text(ctx.lang))),
                }
            });
        })
    };

    html! {
        <section class={classes!("card", props.forced.then_some("narrow"))}>
            <h2>{ ctx.t("password.title") }</h2>
            if props.forced {
                <p class="warning" id="forced-change">{ ctx.t("password.forced") }</p>
            }
            <form {onsubmit} class="stack">
                <label for="original-password">{ ctx.t("password.current") }</label>
                <input id="original-password" type="password" autocomplete="current-password" value={(*original).clone()} oninput={bind(&original)} />
                <label for="new-password">{ ctx.t("password.new") }</label>
                <input id="new-password" type="password" autocomplete="new-password" value={(*new).clone()} oninput={bind(&new)} />
                <button id="change-password" type="submit" disabled={*busy}>{ ctx.t("password.submit") }</button>
            </form>
            if let Some(msg) = &*error {
                <p id="change-password-error" class="error" role="alert">{ msg.clone() }</p>
            }
        </section>
    }
}
