//! `/api/option/` (root only): the site settings, Veloera's key/value options. Values are checked by the
//! settings registry (`crate::settings`) and against the readers that cache them (prices, health policy, virtual
//! models) before anything is stored; secrets are write-only.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use veloera_admin_types::{Envelope, OptionItem, OptionUpdate};

use super::JsonBody;
use super::session::Root;
use super::site;
use crate::billing::PriceTable;
use crate::db;
use crate::error::ControlError;
use crate::health::Policy;
use crate::settings;
use crate::state::AppState;

/// Every registered key with its value in force, as Veloera lists its options: the stored value, or for an unset
/// key its built-in default (the price tables as JSON, `QuotaPerUnit`, the UI's switches; empty for keys without
/// one). Then any other stored key. Secrets come back with an empty value and `set`.
pub async fn list(State(state): State<AppState>, _root: Root) -> Result<Json<Envelope<Vec<OptionItem>>>, ControlError> {
    let mut stored = db::options::all(state.db()).await?;
    let prices = state.prices();
    let in_force =
        |key: &str| prices.option_value(key).or_else(|| site::default_of(key).map(str::to_string)).unwrap_or_default();
    let mut items: Vec<OptionItem> = settings::all()
        .map(|s| item(s.key, stored.remove(s.key).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| in_force(s.key))))
        .collect();
    let mut rest: Vec<(String, String)> = stored.into_iter().collect();
    rest.sort();
    items.extend(rest.into_iter().map(|(k, v)| item(&k, v)));
    Ok(Json(Envelope::ok(items)))
}

fn item(key: &str, value: String) -> OptionItem {
    if settings::is_secret(key) {
        OptionItem { key: key.to_string(), set: Some(!value.is_empty()), value: String::new() }
    } else {
        OptionItem { key: key.to_string(), value, set: None }
    }
}

/// Saves one option after checking it; refused (`"<key>: <why>"`, nothing stored) when the key is unknown or the
/// value is bad. An empty value removes the option (back to the built-in default). Then reloads what caches
/// options and tells relays.
pub async fn update(
    State(state): State<AppState>,
    _root: Root,
    JsonBody(body): JsonBody<OptionUpdate>,
) -> Result<Json<Envelope<()>>, ControlError> {
    let key = body.key.trim();
    let refuse = |why: String| ControlError::BadRequest(format!("{key}: {why}"));
    let value = match body.value {
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => return Err(refuse("a value is required".into())),
        other => other.to_string(),
    };
    let setting = settings::lookup(key).ok_or_else(|| refuse("unknown setting".into()))?;
    // An empty value clears the option: its built-in default applies again.
    let clear = value.trim().is_empty();
    if !clear {
        settings::validate(key, &value).map_err(refuse)?;
    }
    // The readers must accept the options as they will be, so a stored value can never break a reload.
    let mut options: HashMap<String, String> = db::options::all(state.db()).await?;
    if clear {
        options.remove(key);
    } else {
        options.insert(key.to_string(), value.clone());
    }
    PriceTable::from_options(&options).map_err(refuse)?;
    Policy::from_options(&options).map_err(refuse)?;
    crate::grpc::relay_settings::from_options(&options).map_err(refuse)?;
    if clear {
        db::options::remove(state.db(), key).await?;
    } else {
        db::options::set(state.db(), key, &value).await?;
    }
    tracing::info!(key, "option changed");
    if setting.routing {
        state.reload_channels().await?;
    }
    state.reload_prices().await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}
