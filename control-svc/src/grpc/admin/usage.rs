//! Usage: log queries with server-side paging and totals per user, token, model or channel, over the same
//! filters and database functions as `/api/log/`. A user's view is confined to its own rows and sanitised
//! (`crate::access::log_scope`).

use tonic::Status;
use veloera_admin_types::log_type;
use veloera_proto::admin_v1::{
    AggregateUsageRequest, AggregateUsageResponse, GroupBy, LogEntry, QueryLogsRequest, QueryLogsResponse, UsageFilter,
    UsageTotal,
};

use super::errors::invalid;
use crate::access::{self, LogScope};
use crate::db::logs::{LogFilter, LogRow, TotalsBy};
use crate::db::{self, users::UserRow};
use crate::state::AppState;

/// A log row in the service's shape.
fn log_entry(e: veloera_admin_types::LogEntry) -> LogEntry {
    LogEntry {
        id: e.id,
        user_id: e.user_id,
        created_at: e.created_at,
        r#type: e.log_type,
        content: e.content,
        username: e.username,
        token_name: e.token_name,
        token_id: e.token_id,
        model_name: e.model_name,
        quota: e.quota,
        prompt_tokens: e.prompt_tokens,
        completion_tokens: e.completion_tokens,
        use_time: e.use_time,
        is_stream: e.is_stream,
        channel_id: e.channel,
        group: e.group,
        request_id: e.request_id,
    }
}

/// A row as the scope shows it.
pub fn entry(row: &LogRow, scope: LogScope) -> LogEntry {
    match scope {
        LogScope::All { .. } => log_entry(row.to_dto()),
        LogScope::Own { .. } => log_entry(row.to_self_dto()),
    }
}

/// The filter a request selects within `scope`, checked.
fn filter(f: &UsageFilter, scope: LogScope) -> Result<LogFilter, Status> {
    if f.start_time < 0 || f.end_time < 0 {
        return Err(invalid("filter.start_time", "times are unix seconds, not negative"));
    }
    if f.end_time != 0 && f.start_time > f.end_time {
        return Err(invalid("filter.start_time", "start_time is after end_time"));
    }
    if !(0..=5).contains(&f.r#type) {
        return Err(invalid("filter.type", "type must be 0 (any) or a log type from 1 to 5"));
    }
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(LogFilter {
        user_id: scope.user_id(),
        log_type: f.r#type as i64,
        start_timestamp: (f.start_time != 0).then_some(f.start_time),
        end_timestamp: (f.end_time != 0).then_some(f.end_time),
        username: None,
        token_name: text(&f.token_name),
        model_name: text(&f.model_name),
        channel: (f.channel_id != 0).then_some(f.channel_id),
        group: None,
    })
}

pub async fn query(state: &AppState, actor: &UserRow, r: QueryLogsRequest) -> Result<QueryLogsResponse, Status> {
    let f = r.filter.unwrap_or_default();
    let scope = access::log_scope(actor, f.user_id, f.channel_id != 0)?;
    let filter = filter(&f, scope)?;
    let (offset, size) = super::window(r.page)?;
    let rows = db::logs::page(state.db(), &filter, offset, size).await?;
    let total = db::logs::count(state.db(), &filter).await?;
    Ok(QueryLogsResponse { entries: rows.iter().map(|row| entry(row, scope)).collect(), total })
}

pub async fn aggregate(
    state: &AppState,
    actor: &UserRow,
    r: AggregateUsageRequest,
) -> Result<AggregateUsageResponse, Status> {
    let by = match GroupBy::try_from(r.group_by) {
        Ok(GroupBy::User) => TotalsBy::User,
        Ok(GroupBy::Token) => TotalsBy::Token,
        Ok(GroupBy::Model) => TotalsBy::Model,
        Ok(GroupBy::Channel) => TotalsBy::Channel,
        _ => return Err(invalid("group_by", "group_by must be USER, TOKEN, MODEL or CHANNEL")),
    };
    let f = r.filter.unwrap_or_default();
    let scope = access::log_scope(actor, f.user_id, f.channel_id != 0 || by == TotalsBy::Channel)?;
    let mut filter = filter(&f, scope)?;
    if filter.log_type == 0 {
        filter.log_type = log_type::CONSUME as i64;
    }
    let totals = db::logs::totals(state.db(), &filter, by).await?;
    Ok(AggregateUsageResponse {
        totals: totals
            .into_iter()
            .map(|t| UsageTotal {
                key: if by == TotalsBy::Model { t.name.clone() } else { t.id.to_string() },
                name: t.name,
                requests: t.requests,
                prompt_tokens: t.prompt_tokens,
                completion_tokens: t.completion_tokens,
                quota: t.quota,
            })
            .collect(),
    })
}
