//! Signed-in view: who is signed in, logout, channels and tokens.

use veloera_admin_types::UserSelf;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::channels::Channels;
use crate::tokens::Tokens;

#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    pub user: UserSelf,
    pub on_logout: Callback<()>,
}

#[function_component(Dashboard)]
pub fn dashboard(props: &DashboardProps) -> Html {
    let onclick = {
        let on_logout = props.on_logout.clone();
        Callback::from(move |_: MouseEvent| {
            let on_logout = on_logout.clone();
            spawn_local(async move {
                // The session is gone for us either way; a failed call only means it already was.
                let _ = api::logout().await;
                on_logout.emit(());
            });
        })
    };
    let user = &props.user;
    let name = if user.display_name.is_empty() { &user.username } else { &user.display_name };

    html! {
        <>
            <section class="userbar">
                <span id="current-user">{ format!("Signed in as {name} ({})", user.username) }</span>
                <span id="current-balance" class="muted">
                    { format!("quota {} · subscription {}", user.quota, user.subscription_quota) }
                </span>
                <button id="logout" class="secondary" {onclick}>{ "Log out" }</button>
            </section>
            <Channels />
            <Tokens />
        </>
    }
}
