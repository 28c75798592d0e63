//! Veloera admin UI: a client-side rendered Yew app, built for wasm32 by `cargo xtask ui`.

mod api;
mod app;
mod change_password;
mod channels;
mod dashboard;
mod inputs;
mod login;
mod tokens;

fn main() {
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => yew::Renderer::<app::App>::with_root(root).render(),
        None => yew::Renderer::<app::App>::new().render(),
    };
}
