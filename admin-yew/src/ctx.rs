//! What every page can reach through Yew's context: the language, the theme, the site's status, who is
//! signed in, and the shell's toasts and confirmation dialog.

use std::rc::Rc;

use veloera_admin_types::{SiteStatus, UserSelf, role};
use yew::prelude::*;

use crate::api::ApiError;
use crate::i18n::{Lang, tr, trf};
use crate::prefs::Theme;

/// A short message in the corner; errors stay until closed, the rest fade after a few seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub error: bool,
    pub text: String,
}

/// A question the shell asks before a destructive action; `on_yes` runs only if confirmed.
#[derive(Clone, PartialEq)]
pub struct Confirm {
    pub message: String,
    pub on_yes: Callback<()>,
}

#[derive(Clone, PartialEq)]
pub struct AppCtx {
    pub lang: Lang,
    pub theme: Theme,
    pub status: Rc<SiteStatus>,
    pub user: Option<Rc<UserSelf>>,
    pub set_lang: Callback<Lang>,
    pub set_theme: Callback<Theme>,
    /// Replaces the signed-in user (after login, a profile change) or clears it (logout).
    pub set_user: Callback<Option<UserSelf>>,
    /// Reads `/api/user/self` again (after spending or redeeming quota).
    pub refresh_user: Callback<()>,
    pub toast: Callback<Toast>,
    pub confirm: Callback<Confirm>,
}

impl AppCtx {
    pub fn t(&self, key: &'static str) -> &'static str {
        tr(self.lang, key)
    }

    pub fn tf(&self, key: &'static str, args: &[(&str, String)]) -> String {
        trf(self.lang, key, args)
    }

    pub fn role(&self) -> i32 {
        self.user.as_ref().map_or(role::GUEST, |u| u.role)
    }

    pub fn is_admin(&self) -> bool {
        self.role() >= role::ADMIN
    }

    /// Shows an API failure in the reader's language.
    pub fn error(&self, e: &ApiError) {
        self.toast.emit(Toast { error: true, text: e.text(self.lang) });
    }

    pub fn success(&self, key: &'static str) {
        self.toast.emit(Toast { error: false, text: self.t(key).to_string() });
    }

    pub fn notify(&self, text: String) {
        self.toast.emit(Toast { error: false, text });
    }

    /// Asks `message`; runs `on_yes` when confirmed.
    pub fn ask(&self, message: String, on_yes: impl Fn() + 'static) {
        self.confirm.emit(Confirm { message, on_yes: Callback::from(move |()| on_yes()) });
    }

    pub fn quota(&self, amount: i64) -> String {
        crate::format::quota(&self.status, self.lang, amount)
    }

    pub fn time(&self, secs: i64) -> String {
        crate::format::time(self.lang, secs)
    }

    pub fn number(&self, n: i64) -> String {
        crate::format::number(self.lang, n)
    }
}

/// The context; the shell always provides it.
#[hook]
#[allow(clippy::expect_used, reason = "the shell provides AppCtx above every component that calls this")]
pub fn use_ctx() -> AppCtx {
    use_context::<AppCtx>().expect("AppCtx is provided by the shell")
}
