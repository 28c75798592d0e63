//! One module per page (or group of pages) of the UI.

pub mod change_password;
pub mod channels;
pub mod dashboard;
pub mod login;
pub mod logs;
pub mod not_found;
pub mod playground;
pub mod profile;
pub mod register;
pub mod reset;
pub mod setup;
pub mod tokens;
pub mod wallet;

/// A query parameter of the current URL (the OAuth callback, the reset link, the invitation code).
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| js_sys::decode_uri_component(v).ok().map(String::from)).flatten()
    })
}
