//! Sign-in: password login (`POST /api/user/login`), the GitHub and OIDC buttons when the site enables them,
//! and the OAuth callback page (`/oauth/{provider}`).

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::route::Route;
use crate::widgets::{Loading, bind};

#[function_component(Login)]
pub fn login() -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let username = use_state(String::new);
    let password = use_state(String::new);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);

    if ctx.user.is_some() {
        return html! { <Redirect<Route> to={Route::Dashboard} /> };
    }

    let onsubmit = {
        let (username, password, error, busy, ctx) =
            (username.clone(), password.clone(), error.clone(), busy.clone(), ctx.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            if username.trim().is_empty() || password.is_empty() {
                error.set(Some(ctx.t("login.missing").into()));
                return;
            }
            busy.set(true);
            let (user, pass) = (username.trim().to_string(), (*password).clone());
            let (error, busy, ctx, navigator) = (error.clone(), busy.clone(), ctx.clone(), navigator.clone());
            spawn_local(async move {
                let result = api::login(user, pass).await;
                busy.set(false);
                match result {
                    Ok(me) => {
                        error.set(None);
                        ctx.set_user.emit(Some(me));
                        if let Some(n) = navigator {
                            n.push(&Route::Dashboard);
                        }
                    }
                    Err(e) => error.set(Some(e.text(ctx.lang))),
                }
            });
        })
    };

    let oauth = |provider: &'static str| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let ctx = ctx.clone();
            spawn_local(async move {
                match api::oauth_state().await {
                    Ok(state) => {
                        let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
                        let redirect = js_sys::encode_uri_component(&format!("{origin}/oauth/{provider}"));
                        let url = if provider == "github" {
                            format!(
                                "https://github.com/login/oauth/authorize?client_id={}&state={state}&scope=user:email",
                                ctx.status.github_client_id
                            )
                        } else {
                            format!(
                                "{}?client_id={}&redirect_uri={redirect}&response_type=code&scope=openid%20profile%20email&state={state}",
                                ctx.status.oidc_authorization_endpoint, ctx.status.oidc_client_id
                            )
                        };
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().set_href(&url);
                        }
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };

    html! {
        <section class="card narrow">
            <h1>{ ctx.t("login.title") }</h1>
            <form {onsubmit} class="stack">
                <label for="username">{ ctx.t("login.username") }</label>
                <input id="username" type="text" autocomplete="username" value={(*username).clone()} oninput={bind(&username)} />
                <label for="password">{ ctx.t("login.password") }</label>
                <input id="password" type="password" autocomplete="current-password" value={(*password).clone()} oninput={bind(&password)} />
                <button id="login" type="submit" disabled={*busy}>{ if *busy { ctx.t("common.working") } else { ctx.t("login.submit") } }</button>
            </form>
            if let Some(msg) = &*error {
                <p id="login-error" class="error" role="alert">{ msg.clone() }</p>
            }
            if ctx.status.github_oauth || ctx.status.oidc_enabled {
                <div class="oauth-buttons">
                    if ctx.status.github_oauth {
                        <button id="login-github" class="secondary" onclick={oauth("github")}>{ ctx.t("login.github") }</button>
                    }
                    if ctx.status.oidc_enabled {
                        <button id="login-oidc" class="secondary" onclick={oauth("oidc")}>{ ctx.t("login.oidc") }</button>
                    }
                </div>
            }
            <p class="links">
                <Link<Route> to={Route::Register}>{ ctx.t("login.to_register") }</Link<Route>>
                <Link<Route> to={Route::Reset}>{ ctx.t("login.to_reset") }</Link<Route>>
            </p>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct OAuthProps {
    pub provider: String,
}

/// Where GitHub or the OIDC provider sends the browser back: completes the sign-in with `code` and `state`.
#[function_component(OAuthCallback)]
pub fn oauth_callback(props: &OAuthProps) -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let error = use_state(|| None::<String>);
    {
        let (provider, ctx, error) = (props.provider.clone(), ctx.clone(), error.clone());
        use_effect_with((), move |_| {
            let code = super::query_param("code").unwrap_or_default();
            let state = super::query_param("state").unwrap_or_default();
            spawn_local(async move {
                match api::oauth_callback(&provider, &code, &state).await {
                    Ok(me) => {
                        ctx.set_user.emit(Some(me));
                        if let Some(n) = navigator {
                            n.replace(&Route::Dashboard);
                        }
                    }
                    Err(e) => error.set(Some(e.text(ctx.lang))),
                }
            });
        });
    }
    html! {
        <section class="card narrow">
            <h1>{ ctx.t("oauth.title") }</h1>
            if let Some(msg) = &*error {
                <p id="oauth-error" class="error" role="alert">{ msg.clone() }</p>
                <Link<Route> to={Route::Login}>{ ctx.t("oauth.back") }</Link<Route>>
            } else {
                <Loading />
            }
        </section>
    }
}
