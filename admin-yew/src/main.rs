//! Veloera admin UI: a client-side rendered Yew app, built for wasm32 by `cargo xtask ui`.
//!
//! Layout: `shell/` (session, context, header, navigation, toasts, confirmation), `route.rs` (a URL for
//! every page and record), `pages/` (one module per page), `api.rs` (the one typed client), `i18n/` (the
//! message catalogue), `format.rs` (quota, numbers, times), `charts.rs` (SVG charts), `widgets.rs`.

mod api;
mod charts;
mod ctx;
mod format;
mod i18n;
mod pages;
mod prefs;
mod route;
mod shell;
mod widgets;

fn main() {
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => yew::Renderer::<shell::App>::with_root(root).render(),
        None => yew::Renderer::<shell::App>::new().render(),
    };
}
