//! Forced password change (`must_change_password`): `PUT /api/user/self`.

use veloera_admin_types::UserSelf;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::inputs::input_value;

#[derive(Properties, PartialEq)]
pub struct ChangePasswordProps {
    pub user: UserSelf,
    /// Called after the server accepted the new password.
    pub on_done: Callback<()>,
}

#[function_component(ChangePassword)]
pub fn change_password(props: &ChangePasswordProps) -> Html {
    let original = use_node_ref();
    let new = use_node_ref();
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (original, new) = (original.clone(), new.clone());
        let (error, busy, on_done) = (error.clone(), busy.clone(), props.on_done.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let (old_pw, new_pw) = (input_value(&original), input_value(&new));
            if old_pw.is_empty() || new_pw.is_empty() {
                error.set(Some("Enter the current and the new password.".into()));
                return;
            }
            busy.set(true);
            let (error, busy, on_done) = (error.clone(), busy.clone(), on_done.clone());
            spawn_local(async move {
                let result = api::change_password(old_pw, new_pw).await;
                busy.set(false);
                match result {
                    Ok(()) => {
                        error.set(None);
                        on_done.emit(());
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        })
    };

    html! {
        <section class="card narrow">
            <h2>{ "Change password" }</h2>
            <p class="muted">
                { format!("{} must set a new password before continuing.", props.user.username) }
            </p>
            <form {onsubmit}>
                <label for="original-password">{ "Current password" }</label>
                <input id="original-password" type="password" autocomplete="current-password"
                    ref={original} />
                <label for="new-password">{ "New password (8–20 characters)" }</label>
                <input id="new-password" type="password" autocomplete="new-password" ref={new} />
                <button id="change-password" type="submit" disabled={*busy}>
                    { "Change password" }
                </button>
            </form>
            if let Some(msg) = &*error {
                <p id="change-password-error" class="error">{ msg.clone() }</p>
            }
        </section>
    }
}
