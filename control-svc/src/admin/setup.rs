//! `/api/setup`: first-run setup from the browser, for deployments started with `CREATE_DEFAULT_ROOT=false`. The
//! default deployment creates `root` / `123456` at first start instead (with a forced password change), so there
//! the setup reports done and refuses to run.

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{Envelope, Role, SetupRequest, SetupStatus, UserSelf};

use super::JsonBody;
use crate::accounts::{self, AccountSettings, Registration};
use crate::db::{self, Backend};
use crate::error::ControlError;
use crate::secrets::hash_password;
use crate::state::AppState;

/// Veloera's quota for the root account.
const ROOT_QUOTA: i64 = 100_000_000;

pub async fn get(State(state): State<AppState>) -> Result<Json<Envelope<SetupStatus>>, ControlError> {
    let database_type = match state.db().backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
    };
    Ok(Json(Envelope::ok(SetupStatus {
        status: db::users::count(state.db()).await? > 0,
        root_init: db::users::count_roots(state.db()).await? > 0,
        database_type: database_type.into(),
    })))
}

/// Creates the root account with the chosen name and password (no forced change: it was just chosen) and stores
/// the site mode. Only while no account exists at all (403 afterwards); two racing setups cannot both succeed.
pub async fn post(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SetupRequest>,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    let done = || ControlError::Forbidden("the site is already set up".into());
    if db::users::count(state.db()).await? > 0 {
        return Err(done());
    }
    let username = body.username.trim();
    accounts::check_username(username)?;
    accounts::check_password(&body.password)?;
    if body.password != body.confirm_password {
        return Err(ControlError::BadRequest("password and confirmPassword differ".into()));
    }
    let hash = hash_password(&body.password)?;
    // No new-user bonus or invitation for root: only the fixed root quota.
    let mut settings = AccountSettings::clone(&state.accounts());
    settings.quota_for_new_user = 0;

    let mut tx = state.db().begin_write().await?;
    if !db::setup::record(state.db(), &mut tx).await? {
        return Err(done());
    }
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
    if users > 0 {
        return Err(done());
    }
    let registration = Registration {
        username,
        password_hash: &hash,
        display_name: "Root User",
        email: "",
        role: Role::Root.as_i64(),
        base_quota: ROOT_QUOTA,
        aff_code: None,
        github_id: "",
        oidc_id: "",
    };
    let id = accounts::create_in(state.db(), &mut tx, &settings, &registration).await?;
    for (name, value) in
        [("SelfUseModeEnabled", body.self_use_mode_enabled), ("DemoSiteEnabled", body.demo_site_enabled)]
    {
        db::options::set_in(state.db(), &mut tx, name, if value.unwrap_or(false) { "true" } else { "false" }).await?;
    }
    tx.commit().await?;
    state.reload_prices().await?;
    accounts::after_created(&state, id, username).await;
    tracing::info!(username, "first-run setup created the root account");
    let user = db::users::find_by_id(state.db(), id).await?.ok_or(ControlError::Unauthenticated)?;
    Ok(Json(Envelope::ok(user.to_self())))
}
