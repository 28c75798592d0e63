//! `/api/data/…`: the dashboard's usage series (Veloera's `quota_data`) and per-channel traffic, read from the
//! hourly sums written at settlement (`db::quota_data`).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use veloera_admin_types::{ChannelUsage, Envelope, QuotaData};

use super::logs::number;
use super::session::{Active, Admin};
use crate::db::now_secs;
use crate::db::quota_data::{self, GroupBy, Window};
use crate::error::ControlError;
use crate::state::AppState;

/// The window when `start_timestamp` is not given: the last seven days.
const DEFAULT_WINDOW_SECS: i64 = 7 * 86_400;
/// The longest window one call may read (a year of hours at most).
const MAX_WINDOW_SECS: i64 = 366 * 86_400;

/// `start_timestamp` and `end_timestamp` (unix seconds; default the last seven days, up to now), `username`
/// (administrators), `default_time` (`hour`, the default and what any other value means, `day` or `week`: the
/// bucket size, Veloera's `DataExportDefaultTime` values) and `group_by` (`model`, the default, or `user`; administrators).
#[derive(Debug, Default, Deserialize)]
pub struct DataQuery {
    start_timestamp: Option<String>,
    end_timestamp: Option<String>,
    username: Option<String>,
    default_time: Option<String>,
    group_by: Option<String>,
}

impl DataQuery {
    fn window(&self, user_id: Option<i64>) -> Result<Window, ControlError> {
        let end = number("end_timestamp", &self.end_timestamp)?.unwrap_or_else(now_secs);
        let start = number("start_timestamp", &self.start_timestamp)?.unwrap_or(end - DEFAULT_WINDOW_SECS);
        if start > end {
            return Err(ControlError::BadRequest("start_timestamp is after end_timestamp".into()));
        }
        if end - start > MAX_WINDOW_SECS {
            return Err(ControlError::BadRequest("the window is longer than 366 days".into()));
        }
        // Anything but `day` or `week` is the hourly default: Veloera's dashboard sends `default_time=undefined`
        // until its options have loaded, and Veloera answers it rather than refusing.
        let bucket = match self.default_time.as_deref().map(str::trim).unwrap_or("") {
            "day" => 86_400,
            "week" => 7 * 86_400,
            _ => quota_data::HOUR,
        };
        let username = self.username.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        Ok(Window { start, end, user_id, username: if user_id.is_none() { username } else { None }, bucket })
    }

    fn group_by(&self) -> Result<GroupBy, ControlError> {
        match self.group_by.as_deref().map(str::trim).unwrap_or("") {
            "" | "model" => Ok(GroupBy::Model),
            "user" => Ok(GroupBy::User),
            other => Err(ControlError::BadRequest(format!("group_by: {other:?} is not model or user"))),
        }
    }
}

/// `GET /api/data/` (admin): requests, tokens and quota per bucket and model (summed over users, or one user's
/// with `username`), or per bucket and user with `group_by=user`.
pub async fn all(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<DataQuery>,
) -> Result<Json<Envelope<Vec<QuotaData>>>, ControlError> {
    let rows = quota_data::series(state.db(), &q.window(None)?, q.group_by()?).await?;
    Ok(Json(Envelope::ok(rows)))
}

/// `GET /api/data/self`: the user's own requests, tokens and quota per bucket and model.
pub async fn own(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<DataQuery>,
) -> Result<Json<Envelope<Vec<QuotaData>>>, ControlError> {
    let rows = quota_data::series(state.db(), &q.window(Some(user.id))?, GroupBy::Model).await?;
    Ok(Json(Envelope::ok(rows)))
}

/// `GET /api/data/channels` (admin): per channel over the window, answered requests, failed attempts, error
/// rate, tokens and quota, busiest first.
pub async fn channels(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<DataQuery>,
) -> Result<Json<Envelope<Vec<ChannelUsage>>>, ControlError> {
    let w = q.window(None)?;
    Ok(Json(Envelope::ok(quota_data::channels(state.db(), w.start, w.end).await?)))
}
