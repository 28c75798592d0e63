//! The side navigation: each role sees only what it may use (users: dashboard, tokens, logs, playground,
//! wallet, profile; administrators add channels). On phones it is a drawer opened from the header.

use veloera_admin_types::role;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::ctx::use_ctx;
use crate::route::Route;

struct Entry {
    route: Route,
    key: &'static str,
    icon: &'static str,
    min_role: i32,
}

fn entries() -> [Entry; 7] {
    [
        Entry { route: Route::Dashboard, key: "nav.dashboard", icon: "▤", min_role: role::COMMON },
        Entry { route: Route::Channels, key: "nav.channels", icon: "⇄", min_role: role::ADMIN },
        Entry { route: Route::Tokens, key: "nav.tokens", icon: "✦", min_role: role::COMMON },
        Entry { route: Route::Logs, key: "nav.logs", icon: "☰", min_role: role::COMMON },
        Entry { route: Route::Playground, key: "nav.playground", icon: "✎", min_role: role::COMMON },
        Entry { route: Route::Wallet, key: "nav.wallet", icon: "◈", min_role: role::COMMON },
        Entry { route: Route::Profile, key: "nav.profile", icon: "☺", min_role: role::COMMON },
    ]
}

#[derive(Properties, PartialEq)]
pub struct SideNavProps {
    /// Closes the drawer (the backdrop on phones).
    pub on_close: Callback<()>,
}

#[function_component(SideNav)]
pub fn side_nav(props: &SideNavProps) -> Html {
    let ctx = use_ctx();
    let current = use_route::<Route>();
    let role = ctx.role();
    let is_current = |r: &Route| match (current.as_ref(), r) {
        (Some(Route::ChannelAdd | Route::ChannelEdit { .. }), Route::Channels) => true,
        (Some(Route::TokenAdd | Route::TokenEdit { .. }), Route::Tokens) => true,
        (Some(c), r) => c == r,
        (None, _) => false,
    };
    let close = props.on_close.clone();
    html! {
        <>
            <nav id="side-nav" class="sidenav" aria-label={ctx.t("nav.label")}>
                { for entries().into_iter().filter(|e| role >= e.min_role).map(|e| {
                    let id = format!("nav-{}", e.key.trim_start_matches("nav."));
                    let class = classes!("nav-item", is_current(&e.route).then_some("active"));
                    html! {
                        <Link<Route> to={e.route.clone()} classes={class}>
                            <span class="nav-icon" aria-hidden="true">{ e.icon }</span>
                            <span id={id}>{ ctx.t(e.key) }</span>
                        </Link<Route>>
                    }
                }) }
            </nav>
            <div class="nav-backdrop" onclick={Callback::from(move |_: MouseEvent| close.emit(()))}></div>
        </>
    }
}
