//! Any path the UI does not know.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::ctx::use_ctx;
use crate::route::Route;

#[function_component(NotFound)]
pub fn not_found() -> Html {
    let ctx = use_ctx();
    html! {
        <section class="card">
            <h1>{ ctx.t("notfound.title") }</h1>
            <Link<Route> to={Route::Dashboard}>{ ctx.t("notfound.back") }</Link<Route>>
        </section>
    }
}
