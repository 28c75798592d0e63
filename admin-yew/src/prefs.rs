//! What the browser remembers for this person: language and theme (localStorage), and applying them to the
//! document (`<html lang>`, `data-theme`).

use gloo_storage::{LocalStorage, Storage};

use crate::i18n::Lang;

const LANG_KEY: &str = "veloera.lang";
const THEME_KEY: &str = "veloera.theme";

/// Light, dark, or whatever the system prefers (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    fn code(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The next theme of the switch: system → light → dark → system.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }
}

/// The stored language; Chinese when none is stored (as the seed).
pub fn load_lang() -> Lang {
    LocalStorage::get::<String>(LANG_KEY).ok().and_then(|c| Lang::from_code(&c)).unwrap_or(Lang::Zh)
}

pub fn store_lang(lang: Lang) {
    // Private browsing may refuse storage; the choice then lasts for this page only.
    let _ = LocalStorage::set(LANG_KEY, lang.code());
    if let Some(html) = document_element() {
        let _ = html.set_attribute("lang", lang.code());
    }
}

pub fn load_theme() -> Theme {
    match LocalStorage::get::<String>(THEME_KEY).ok().as_deref() {
        Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        _ => Theme::System,
    }
}

/// Stores the theme and sets `data-theme` on `<html>`; `System` removes it so the CSS media query decides.
pub fn apply_theme(theme: Theme) {
    let _ = LocalStorage::set(THEME_KEY, theme.code());
    if let Some(html) = document_element() {
        let _ = match theme {
            Theme::System => html.remove_attribute("data-theme"),
            other => html.set_attribute("data-theme", other.code()),
        };
    }
}

fn document_element() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.document_element()
}
