//! The admin API's route table: one row per method and path under `/api`, with its handler. The router is
//! built from this table, and the authorization matrix (`relay-svc/tests/e2e/api_access.rs`) reads it through
//! [`list`], so a new row fails the matrix until the matrix says who may call it.

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};

use super::*;
use crate::state::AppState;

/// An HTTP method the admin API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// One row of the table.
struct Route {
    verb: Verb,
    path: &'static str,
    handler: MethodRouter<AppState>,
}

fn r<H, T>(verb: Verb, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Route { verb, path, handler: on(verb.filter(), handler) }
}

/// Every route: `r(method, path under /api, handler)`. Keep rows of one resource together.
fn table() -> Vec<Route> {
    use Verb::*;
    vec![
        r(Get, "/status", status::status),
        r(Get, "/status/test", status::test),
        r(Get, "/notice", status::notice),
        r(Get, "/about", status::about),
        r(Get, "/home_page_content", status::home_page_content),
        r(Get, "/models", models::by_channel_type),
        r(Get, "/pricing", models::pricing),
        r(Get, "/user/models", models::usable),
        r(Put, "/user/setting", users::update_setting),
        r(Post, "/user/login", users::login),
        r(Get, "/user/logout", users::logout),
        r(Post, "/user/logout_all", users::logout_everywhere),
        r(Get, "/user/self", users::get_self),
        r(Put, "/user/self", users::update_self),
        r(Delete, "/user/self", users::delete_self),
        r(Post, "/user/register", register::register),
        r(Get, "/user/token", users::access_token),
        r(Get, "/user/groups", groups::usable),
        r(Get, "/user/self/groups", groups::usable),
        r(Get, "/group/", groups::names),
        r(Post, "/user/reset", email::reset_password),
        r(Get, "/verification", email::send_verification),
        r(Get, "/reset_password", email::send_password_reset),
        r(Get, "/oauth/state", oauth::issue_state),
        r(Get, "/oauth/github", oauth::github),
        r(Get, "/oauth/oidc", oauth::oidc),
        r(Get, "/oauth/email/bind", email::bind_email),
        r(Post, "/oauth/email/bind", email::bind_email_json),
        r(Get, "/setup", setup::get),
        r(Post, "/setup", setup::post),
        r(Get, "/channel/", channels::list),
        r(Post, "/channel/", channels::create),
        r(Put, "/channel/", channels::update),
        r(Get, "/channel/search", channels::search),
        r(Get, "/channel/models", models::all_known),
        r(Get, "/channel/models_enabled", channels::models_enabled),
        r(Post, "/channel/fix", channels::fix),
        r(Get, "/channel/tags", channels::list_tags),
        r(Put, "/channel/tag", channels::edit_tag),
        r(Post, "/channel/tag/disabled", channels::disable_by_tag),
        r(Post, "/channel/tag/enabled", channels::enable_by_tag),
        r(Post, "/channel/batch", channels::delete_batch),
        r(Post, "/channel/batch/tag", channels::set_tag_batch),
        r(Delete, "/channel/disabled", channels::delete_disabled),
        r(Get, "/channel/export", channels::export),
        r(Post, "/channel/import", channels::import.layer(channels::IMPORT_BODY_LIMIT)),
        r(Get, "/channel/{id}", channels::get_one),
        r(Delete, "/channel/{id}", channels::delete),
        r(Get, "/channel/test", channel_health::test_all),
        r(Get, "/channel/test/{id}", channel_health::test_one),
        r(Get, "/channel/update_balance", channel_health::update_balance_all),
        r(Get, "/channel/update_balance/{id}", channel_health::update_balance_one),
        r(Post, "/channel/fetch_models", channel_health::fetch_models_for),
        r(Get, "/channel/fetch_models/{id}", channel_health::fetch_models_of),
        r(Get, "/channel/{id}/keys", channel_health::keys),
        r(Put, "/channel/{id}/keys", channel_health::set_key_status),
        r(Get, "/model_mapping/", model_mapping::get),
        r(Put, "/model_mapping/", model_mapping::put),
        r(Post, "/model_mapping/reload", model_mapping::reload),
        r(Get, "/token/", tokens::list),
        r(Post, "/token/", tokens::create),
        r(Put, "/token/", tokens::update),
        r(Get, "/token/search", tokens::search),
        r(Get, "/token/{id}", tokens::get_one),
        r(Delete, "/token/{id}", tokens::delete),
        r(Post, "/token/{id}/key", tokens::reveal_key),
        r(Get, "/log/", logs::list),
        r(Delete, "/log/", logs::delete_before),
        r(Get, "/log/search", logs::search),
        r(Get, "/log/stat", logs::stat),
        r(Get, "/log/export", logs::export),
        r(Get, "/log/self", logs::list_self),
        r(Get, "/log/self/search", logs::search_self),
        r(Get, "/log/self/stat", logs::stat_self),
        r(Get, "/log/self/export", logs::export_self),
        r(Get, "/data/", data::all),
        r(Get, "/data/self", data::own),
        r(Get, "/data/channels", data::channels),
        r(Get, "/option/", options::list),
        r(Put, "/option/", options::update),
        r(Post, "/user/topup", topup::redeem),
        r(Get, "/user/", user_admin::list),
        r(Post, "/user/", user_admin::create),
        r(Put, "/user/", user_admin::update),
        r(Get, "/user/search", user_admin::search),
        r(Post, "/user/manage", user_admin::manage),
        r(Get, "/user/{id}", user_admin::get_one),
        r(Delete, "/user/{id}", user_admin::delete),
        r(Get, "/user/check_in_status", check_in::status),
        r(Post, "/user/check_in", check_in::check_in),
        r(Get, "/user/aff", invitations::aff_code),
        r(Post, "/user/aff_transfer", invitations::transfer),
        r(Get, "/redemption/", redemptions::list),
        r(Post, "/redemption/", redemptions::create),
        r(Put, "/redemption/", redemptions::update),
        r(Get, "/redemption/search", redemptions::search),
        r(Get, "/redemption/count-by-name", redemptions::count_by_name),
        r(Post, "/redemption/batch-disable", redemptions::disable_batch),
        r(Put, "/redemption/batch-disable", redemptions::disable_batch),
        r(Delete, "/redemption/delete-by-name", redemptions::delete_by_name),
        r(Delete, "/redemption/delete-disabled", redemptions::delete_disabled),
        r(Get, "/redemption/{id}", redemptions::get_one),
        r(Delete, "/redemption/{id}", redemptions::delete),
    ]
}

/// Every `(method, path under /api)` the admin API serves, in table order.
pub fn list() -> Vec<(Verb, &'static str)> {
    table().into_iter().map(|route| (route.verb, route.path)).collect()
}

/// The router of the table's rows (one `MethodRouter` per path, its methods merged).
pub(super) fn router() -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for route in table() {
        let methods = match by_path.remove(route.path) {
            Some(earlier) => earlier.merge(route.handler),
            None => route.handler,
        };
        by_path.insert(route.path, methods);
    }
    by_path.into_iter().fold(Router::new(), |router, (path, methods)| router.route(path, methods))
}
