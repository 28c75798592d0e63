//! Model catalogues and prices as the UI shows them: `GET /api/models` (per channel type), `GET /api/user/models`
//! (what the caller's group can use), `GET /api/pricing` (optional sign-in) and `GET /api/channel/models` (admin).
//! Built from the routing and price snapshots; no channel names, URLs or keys appear.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{Envelope, ModelInfo, ModelPricingRow, PricingReply};

use super::session::{Active, Admin, MaybeActive};
use crate::db;
use crate::error::ControlError;
use crate::routing::channel_types;
use crate::state::AppState;

/// `GET /api/models` (user): per channel type id, the known models its vendor publishes (for filling in a
/// channel's model list), as Veloera's per-adaptor lists. Types without a vendor catalogue list nothing.
pub async fn by_channel_type(
    State(state): State<AppState>,
    _user: Active,
) -> Json<Envelope<BTreeMap<i32, Vec<String>>>> {
    let prices = state.prices();
    let known = prices.priced_models();
    let map = channel_types::all()
        .iter()
        .map(|t| (t.id, channel_types::vendor_models(t.id, known.iter().copied())))
        .collect();
    Json(Envelope::ok(map))
}

/// `GET /api/user/models` (user): the model names the caller's group can ask for, prefixed names and virtual
/// models included.
pub async fn usable(State(state): State<AppState>, Active(user): Active) -> Json<Envelope<Vec<String>>> {
    Json(Envelope::ok(state.channels().models_for_group(&user.group_name).into_iter().collect()))
}

/// `GET /api/channel/models` (admin): every model this site knows, from the price table and every channel's model
/// list, each owned by the channel type whose vendor publishes it (`custom` when none does).
pub async fn all_known(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Envelope<Vec<ModelInfo>>>, ControlError> {
    let rows = db::channels::list(state.db()).await?;
    let prices = state.prices();
    let mut names: BTreeSet<String> = prices.priced_models().into_iter().map(str::to_string).collect();
    names.extend(rows.iter().flat_map(|r| crate::routing::split_list(&r.models)));
    let owner = |model: &str| {
        channel_types::all()
            .iter()
            .find(|t| channel_types::vendor_prefixes(t.id).iter().any(|p| model.starts_with(p)))
            .map_or("custom", |t| t.name)
            .to_string()
    };
    let models = names.into_iter().map(|id| ModelInfo { owned_by: owner(&id), object: "model".into(), id }).collect();
    Ok(Json(Envelope::ok(models)))
}

/// `GET /api/pricing` (sign-in optional): every served model that has a price (unpriced models are refused, so
/// they are not offered), prefixed names priced as their model, plus the ratios of the groups the caller may use
/// (`PriceTable::usable_groups`: `UserUsableGroups` and, when signed in, the caller's own group).
pub async fn pricing(
    State(state): State<AppState>,
    MaybeActive(user): MaybeActive,
) -> Result<Json<PricingReply>, ControlError> {
    let prices = state.prices();
    let data = state
        .channels()
        .served_models()
        .into_iter()
        .filter_map(|(name, served)| {
            let p = prices.lookup(&served.billed_as, "default")?;
            Some(ModelPricingRow {
                model_name: name,
                quota_type: i32::from(p.model_price.is_some()),
                model_ratio: p.model_ratio,
                model_price: p.model_price.unwrap_or(0.0),
                completion_ratio: p.completion_ratio,
                enable_groups: served.groups.into_iter().collect(),
            })
        })
        .collect();
    let usable = prices.usable_groups(user.as_ref().map_or("", |u| u.group_name.as_str()));
    let group_ratio = usable.iter().map(|(g, u)| (g.clone(), u.ratio)).collect();
    let usable_group = usable.into_iter().map(|(g, u)| (g, u.desc)).collect();
    Ok(Json(PricingReply { success: true, message: String::new(), data, group_ratio, usable_group }))
}
