//! Top level: loads `/api/status` and the session, provides [`AppCtx`], and decides per route between the
//! sign-in pages, the forced password change and the signed-in layout.

use std::rc::Rc;

use veloera_admin_types::{SiteStatus, UserSelf};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::confirm::ConfirmDialog;
use super::header::Header;
use super::nav::SideNav;
use super::toasts::Toasts;
use crate::api;
use crate::ctx::{AppCtx, Confirm, Toast};
use crate::pages::change_password::ChangePassword;
use crate::prefs::{self, Theme};
use crate::route::{Route, switch};

/// Whether we know yet who is signed in.
#[derive(Clone, PartialEq)]
enum Session {
    Checking,
    Known(Option<Rc<UserSelf>>),
}

#[function_component(App)]
pub fn app() -> Html {
    let lang = use_state(prefs::load_lang);
    let theme = use_state(prefs::load_theme);
    let status = use_state(|| Rc::new(SiteStatus::default()));
    let session = use_state(|| Session::Checking);
    let toasts = use_state(Vec::<(u32, Toast)>::new);
    let next_toast = use_mut_ref(|| 0u32);
    let confirm = use_state(|| None::<Confirm>);

    {
        let (status, session, lang, theme) = (status.clone(), session.clone(), *lang, *theme);
        use_effect_with((), move |_| {
            prefs::store_lang(lang);
            prefs::apply_theme(theme);
            spawn_local(async move {
                if let Ok(s) = api::status().await {
                    set_title(&s);
                    status.set(Rc::new(s));
                }
            });
            spawn_local(async move {
                session.set(Session::Known(api::get_self().await.ok().map(Rc::new)));
            });
        });
    }

    let set_user = {
        let session = session.clone();
        Callback::from(move |u: Option<UserSelf>| session.set(Session::Known(u.map(Rc::new))))
    };
    let refresh_user = {
        let session = session.clone();
        Callback::from(move |()| {
            let session = session.clone();
            spawn_local(async move {
                if let Ok(u) = api::get_self().await {
                    session.set(Session::Known(Some(Rc::new(u))));
                }
            });
        })
    };
    let toast = {
        let toasts = toasts.clone();
        Callback::from(move |t: Toast| {
            let id = {
                let mut n = next_toast.borrow_mut();
                *n += 1;
                *n
            };
            let mut list = (*toasts).clone();
            list.push((id, t));
            // Only the latest few: a failing loop must not bury the page.
            let excess = list.len().saturating_sub(4);
            list.drain(..excess);
            toasts.set(list);
        })
    };
    let close_toast = {
        let toasts = toasts.clone();
        Callback::from(move |id: u32| toasts.set(toasts.iter().filter(|(i, _)| *i != id).cloned().collect()))
    };

    let user = match &*session {
        Session::Known(u) => u.clone(),
        Session::Checking => None,
    };
    let ctx = AppCtx {
        lang: *lang,
        theme: *theme,
        status: (*status).clone(),
        user,
        set_lang: {
            let lang = lang.clone();
            Callback::from(move |l| {
                prefs::store_lang(l);
                lang.set(l);
            })
        },
        set_theme: {
            let theme = theme.clone();
            Callback::from(move |t: Theme| {
                prefs::apply_theme(t);
                theme.set(t);
            })
        },
        set_user,
        refresh_user,
        toast,
        confirm: {
            let confirm = confirm.clone();
            Callback::from(move |c| confirm.set(Some(c)))
        },
    };

    html! {
        <ContextProvider<AppCtx> context={ctx}>
            <BrowserRouter>
                <Frame checking={*session == Session::Checking} />
            </BrowserRouter>
            <Toasts toasts={(*toasts).clone()} on_close={close_toast} />
            if let Some(c) = &*confirm {
                <ConfirmDialog confirm={c.clone()} on_close={{
                    let confirm = confirm.clone();
                    Callback::from(move |()| confirm.set(None))
                }} />
            }
        </ContextProvider<AppCtx>>
    }
}

fn set_title(status: &SiteStatus) {
    if let Some(doc) = web_sys::window().and_then(|w| w.document())
        && !status.system_name.is_empty()
    {
        doc.set_title(&status.system_name);
    }
}

#[derive(Properties, PartialEq)]
struct FrameProps {
    checking: bool,
}

/// Chooses what the current route shows, given the session.
#[function_component(Frame)]
fn frame(props: &FrameProps) -> Html {
    let ctx = crate::ctx::use_ctx();
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let nav_open = use_state(|| false);
    // Closing the drawer on every navigation keeps it from covering the page just opened on a phone.
    {
        let nav_open = nav_open.clone();
        use_effect_with(route.clone(), move |_| nav_open.set(false));
    }
    let toggle_nav = {
        let nav_open = nav_open.clone();
        Callback::from(move |()| nav_open.set(!*nav_open))
    };

    if props.checking {
        return html! { <div class="boot"><span class="spinner" aria-hidden="true"></span>{ ctx.t("common.loading") }</div> };
    }
    if !ctx.status.setup && route != Route::Setup {
        return html! { <Redirect<Route> to={Route::Setup} /> };
    }
    if route.is_public() {
        return html! {
            <div class="public">
                <Header on_menu={None::<Callback<()>>} />
                <main class="public-main">{ switch(route) }</main>
            </div>
        };
    }
    let Some(user) = ctx.user.clone() else {
        return html! { <Redirect<Route> to={Route::Login} /> };
    };
    let body = if user.must_change_password {
        html! { <ChangePassword forced=true /> }
    } else {
        switch(route)
    };
    html! {
        <div class={classes!("layout", nav_open.then_some("nav-open"))}>
            <Header on_menu={Some(toggle_nav.clone())} />
            if !user.must_change_password {
                <SideNav on_close={toggle_nav} />
            }
            <main id="main" class="main">{ body }</main>
        </div>
    }
}
