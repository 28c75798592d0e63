//! The header: menu button (phones), logo and site name from `/api/status`, language and theme switches,
//! and the user menu.

use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlSelectElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::i18n::Lang;
use crate::prefs::Theme;
use crate::route::Route;

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// Toggles the side navigation; `None` on pages without one.
    pub on_menu: Option<Callback<()>>,
}

#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let menu_open = use_state(|| false);

    let on_lang = {
        let set_lang = ctx.set_lang.clone();
        Callback::from(move |e: Event| {
            let code = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(lang) = Lang::from_code(&code) {
                set_lang.emit(lang);
            }
        })
    };
    let on_theme = {
        let (set_theme, theme) = (ctx.set_theme.clone(), ctx.theme);
        Callback::from(move |_: MouseEvent| set_theme.emit(theme.next()))
    };
    let (theme_icon, theme_label) = match ctx.theme {
        Theme::System => ("◐", ctx.t("theme.system")),
        Theme::Light => ("☀", ctx.t("theme.light")),
        Theme::Dark => ("☾", ctx.t("theme.dark")),
    };
    let logout = {
        let (ctx, navigator) = (ctx.clone(), navigator.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, navigator) = (ctx.clone(), navigator.clone());
            spawn_local(async move {
                // The session is gone for us either way; a failure only means it already was.
                let _ = api::logout().await;
                ctx.set_user.emit(None);
                if let Some(n) = navigator {
                    n.push(&Route::Login);
                }
            });
        })
    };
    let name = if ctx.status.system_name.is_empty() { "Veloera" } else { ctx.status.system_name.as_str() };

    html! {
        <header class="topbar">
            if let Some(on_menu) = props.on_menu.clone() {
                <button id="nav-toggle" class="icon-button menu-button" aria-label={ctx.t("nav.menu")}
                    onclick={Callback::from(move |_: MouseEvent| on_menu.emit(()))}>{ "☰" }</button>
            }
            <Link<Route> to={Route::Dashboard} classes="brand">
                if !ctx.status.logo.is_empty() {
                    <img class="logo" src={ctx.status.logo.clone()} alt="" />
                }
                <span id="site-name">{ name }</span>
            </Link<Route>>
            <div class="topbar-tools">
                <label class="sr-only" for="lang-switch">{ ctx.t("header.language") }</label>
                <select id="lang-switch" class="lang-switch" onchange={on_lang}>
                    { for Lang::ALL.into_iter().map(|l| html! {
                        <option value={l.code()} selected={l == ctx.lang}>{ l.native_name() }</option>
                    }) }
                </select>
                <button id="theme-switch" class="icon-button" title={theme_label} aria-label={theme_label}
                    onclick={on_theme}>{ theme_icon }</button>
                if let Some(user) = &ctx.user {
                    <div class="user-menu">
                        <button id="user-menu" class="icon-button user-button" aria-haspopup="true"
                            aria-expanded={menu_open.to_string()}
                            onclick={{ let m = menu_open.clone(); Callback::from(move |_: MouseEvent| m.set(!*m)) }}>
                            <span id="current-user">
                                { if user.display_name.is_empty() { user.username.clone() } else { user.display_name.clone() } }
                            </span>
                            { " ▾" }
                        </button>
                        if *menu_open {
                            <div class="menu" role="menu" onclick={{ let m = menu_open.clone(); Callback::from(move |_: MouseEvent| m.set(false)) }}>
                                <Link<Route> to={Route::Profile} classes="menu-item">{ ctx.t("nav.profile") }</Link<Route>>
                                <button id="logout" class="menu-item" role="menuitem" onclick={logout}>{ ctx.t("header.logout") }</button>
                            </div>
                        }
                    </div>
                }
            </div>
        </header>
    }
}
