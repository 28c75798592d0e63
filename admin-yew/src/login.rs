//! Login page: `POST /api/user/login`; the server answers with a session cookie.

use veloera_admin_types::UserSelf;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::inputs::input_value;

#[derive(Properties, PartialEq)]
pub struct LoginProps {
    pub on_login: Callback<UserSelf>,
}

#[function_component(Login)]
pub fn login(props: &LoginProps) -> Html {
    let username = use_node_ref();
    let password = use_node_ref();
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (username, password) = (username.clone(), password.clone());
        let (error, busy, on_login) = (error.clone(), busy.clone(), props.on_login.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let (user, pass) = (input_value(&username), input_value(&password));
            if user.is_empty() || pass.is_empty() {
                error.set(Some("Enter a username and a password.".into()));
                return;
            }
            busy.set(true);
            let (error, busy, on_login) = (error.clone(), busy.clone(), on_login.clone());
            spawn_local(async move {
                let result = api::login(user, pass).await;
                busy.set(false);
                match result {
                    Ok(me) => {
                        error.set(None);
                        on_login.emit(me);
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        })
    };

    html! {
        <section class="card narrow">
            <h2>{ "Sign in" }</h2>
            <form {onsubmit}>
                <label for="username">{ "Username" }</label>
                <input id="username" type="text" autocomplete="username" ref={username} />
                <label for="password">{ "Password" }</label>
                <input id="password" type="password" autocomplete="current-password" ref={password} />
                <button id="login" type="submit" disabled={*busy}>{ "Sign in" }</button>
            </form>
            if let Some(msg) = &*error {
                <p id="login-error" class="error">{ msg.clone() }</p>
            }
        </section>
    }
}
