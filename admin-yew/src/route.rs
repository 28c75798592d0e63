//! Every page and record has a URL (`/channel/12/edit`), so reload, back/forward and shared links work.
//! Paths follow Veloera's v0.3 UI, which operators know.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::pages;

#[derive(Clone, Routable, PartialEq, Debug)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/login")]
    Login,
    #[at("/register")]
    Register,
    #[at("/reset")]
    Reset,
    /// The link in the reset mail: `?email=&token=`.
    #[at("/user/reset")]
    ResetConfirm,
    #[at("/setup")]
    Setup,
    #[at("/oauth/:provider")]
    OAuth { provider: String },
    #[at("/dashboard")]
    Dashboard,
    #[at("/channel")]
    Channels,
    #[at("/channel/add")]
    ChannelAdd,
    #[at("/channel/:id/edit")]
    ChannelEdit { id: i64 },
    #[at("/token")]
    Tokens,
    #[at("/token/add")]
    TokenAdd,
    #[at("/token/:id/edit")]
    TokenEdit { id: i64 },
    #[at("/log")]
    Logs,
    #[at("/playground")]
    Playground,
    #[at("/topup")]
    Wallet,
    #[at("/personal")]
    Profile,
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// Pages one can open without signing in.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Route::Login | Route::Register | Route::Reset | Route::ResetConfirm | Route::Setup | Route::OAuth { .. }
        )
    }
}

pub fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <Redirect<Route> to={Route::Dashboard} /> },
        Route::Login => html! { <pages::login::Login /> },
        Route::Register => html! { <pages::register::Register /> },
        Route::Reset => html! { <pages::reset::Reset /> },
        Route::ResetConfirm => html! { <pages::reset::ResetConfirm /> },
        Route::Setup => html! { <pages::setup::Setup /> },
        Route::OAuth { provider } => html! { <pages::login::OAuthCallback {provider} /> },
        Route::Dashboard => html! { <pages::dashboard::Dashboard /> },
        Route::Channels => html! { <pages::channels::list::ChannelList /> },
        Route::ChannelAdd => html! { <pages::channels::edit::ChannelEdit id={None::<i64>} /> },
        Route::ChannelEdit { id } => html! { <pages::channels::edit::ChannelEdit id={Some(id)} /> },
        Route::Tokens => html! { <pages::tokens::list::TokenList /> },
        Route::TokenAdd => html! { <pages::tokens::edit::TokenEdit id={None::<i64>} /> },
        Route::TokenEdit { id } => html! { <pages::tokens::edit::TokenEdit id={Some(id)} /> },
        Route::Logs => html! { <pages::logs::Logs /> },
        Route::Playground => html! { <pages::playground::Playground /> },
        Route::Wallet => html! { <pages::wallet::Wallet /> },
        Route::Profile => html! { <pages::profile::Profile /> },
        Route::NotFound => html! { <pages::not_found::NotFound /> },
    }
}
