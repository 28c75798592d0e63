//! Top level: decides between the login page, the forced password change and the dashboard.

use veloera_admin_types::UserSelf;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::change_password::ChangePassword;
use crate::dashboard::Dashboard;
use crate::login::Login;

#[derive(Clone, PartialEq)]
enum Session {
    /// Waiting for `GET /api/user/self`.
    Checking,
    LoggedOut,
    LoggedIn(UserSelf),
}

#[function_component(App)]
pub fn app() -> Html {
    let session = use_state(|| Session::Checking);

    // Asks the server who we are; any failure (401 included) means "show the login page".
    let check = {
        let session = session.clone();
        Callback::from(move |()| {
            let session = session.clone();
            spawn_local(async move {
                session.set(match api::get_self().await {
                    Ok(user) => Session::LoggedIn(user),
                    Err(_) => Session::LoggedOut,
                });
            });
        })
    };

    {
        let check = check.clone();
        use_effect_with((), move |_| check.emit(()));
    }

    let on_login = {
        let session = session.clone();
        Callback::from(move |user: UserSelf| session.set(Session::LoggedIn(user)))
    };
    let on_logout = {
        let session = session.clone();
        Callback::from(move |()| session.set(Session::LoggedOut))
    };

    let body = match &*session {
        Session::Checking => html! { <p class="muted">{ "Loading…" }</p> },
        Session::LoggedOut => html! { <Login on_login={on_login} /> },
        Session::LoggedIn(user) if user.must_change_password => {
            html! { <ChangePassword user={user.clone()} on_done={check.clone()} /> }
        }
        Session::LoggedIn(user) => {
            html! { <Dashboard user={user.clone()} on_logout={on_logout} /> }
        }
    };

    html! {
        <>
            <header class="topbar"><h1>{ "Veloera Admin" }</h1></header>
            <main class="content">{ body }</main>
        </>
    }
}
