//! The dashboard: balance, used quota and requests; for a time range and granularity the consumption over
//! time by model, each model's share, requests, tokens, RPM and TPM (`/api/data/`, `/api/data/self`,
//! `/api/log/stat`); administrators can narrow to a user and see per-channel requests and error rates.

use std::collections::BTreeMap;

use veloera_admin_types::{ChannelUsage, LogStat, QuotaData};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, LogFilter};
use crate::charts::{Pie, Series, StackedBars};
use crate::ctx::{AppCtx, use_ctx};
use crate::format;
use crate::widgets::{Loading, PageHead, bind, bind_select};

/// The data for one choice of range, granularity and user.
#[derive(Clone, PartialEq)]
struct Data {
    rows: Vec<QuotaData>,
    stat: LogStat,
    channels: Vec<ChannelUsage>,
}

#[function_component(Dashboard)]
pub fn dashboard() -> Html {
    let ctx = use_ctx();
    let admin = ctx.is_admin();
    let range = use_state(|| "7".to_string());
    let bucket = use_state(|| "day".to_string());
    let username = use_state(String::new);
    let applied_user = use_state(String::new);
    let data = use_state(|| None::<Result<Data, ApiError>>);
    {
        // The cards show the balance as of now, not as of sign-in.
        let refresh = ctx.refresh_user.clone();
        use_effect_with((), move |_| refresh.emit(()));
    }

    {
        let (data, range, bucket, user) = (data.clone(), (*range).clone(), (*bucket).clone(), (*applied_user).clone());
        use_effect_with((range.clone(), bucket.clone(), user.clone()), move |_| {
            let days: i64 = range.parse().unwrap_or(7);
            let end = format::now();
            let start = end - days * 86_400;
            spawn_local(async move {
                data.set(None);
                let result = async {
                    let rows = api::quota_data(admin, &user, start, end, &bucket).await?;
                    let filter = LogFilter { start, end, username: user.clone(), ..Default::default() };
                    let stat = api::log_stat(&filter, admin).await?;
                    let channels = if admin { api::channel_usage(start, end).await? } else { Vec::new() };
                    Ok(Data { rows, stat, channels })
                }
                .await;
                data.set(Some(result));
            });
        });
    }

    let cards = match &ctx.user {
        Some(u) => html! {
            <div class="cards" id="dashboard-cards">
                <div class="stat-card"><span class="muted">{ ctx.t("dash.balance") }</span><strong id="dash-balance">{ ctx.quota(u.quota + u.subscription_quota) }</strong></div>
                <div class="stat-card"><span class="muted">{ ctx.t("dash.used") }</span><strong id="dash-used">{ ctx.quota(u.used_quota) }</strong></div>
                <div class="stat-card"><span class="muted">{ ctx.t("dash.requests") }</span><strong id="dash-requests">{ ctx.number(u.request_count) }</strong></div>
            </div>
        },
        None => html! {},
    };
    let on_user = {
        let (username, applied_user) = (username.clone(), applied_user.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            applied_user.set(username.trim().to_string());
        })
    };

    html! {
        <>
            <section class="card">
                <PageHead title={ctx.t("nav.dashboard")} />
                { cards }
                <form class="filters" onsubmit={on_user}>
                    <label>{ ctx.t("dash.range") }
                        <select id="dash-range" onchange={bind_select(&range)}>
                            { for [("1", "dash.range_1"), ("7", "dash.range_7"), ("30", "dash.range_30"), ("90", "dash.range_90")].into_iter().map(|(v, key)| html! {
                                <option value={v} selected={*range == v}>{ ctx.t(key) }</option>
                            }) }
                        </select>
                    </label>
                    <label>{ ctx.t("dash.granularity") }
                        <select id="dash-bucket" onchange={bind_select(&bucket)}>
                            { for [("hour", "dash.hour"), ("day", "dash.day"), ("week", "dash.week")].into_iter().map(|(v, key)| html! {
                                <option value={v} selected={*bucket == v}>{ ctx.t(key) }</option>
                            }) }
                        </select>
                    </label>
                    if admin {
                        <label>{ ctx.t("log.user") }<input id="dash-user" value={(*username).clone()} oninput={bind(&username)} /></label>
                        <button type="submit" class="secondary">{ ctx.t("common.search") }</button>
                    }
                </form>
            </section>
            { match &*data {
                None => html! { <section class="card"><Loading /></section> },
                Some(Err(e)) => html! { <section class="card"><p class="error" role="alert">{ e.text(ctx.lang) }</p></section> },
                Some(Ok(d)) => charts(&ctx, d, &bucket),
            } }
        </>
    }
}

fn charts(ctx: &AppCtx, d: &Data, bucket: &str) -> Html {
    let mut buckets: Vec<i64> = d.rows.iter().map(|r| r.created_at).collect();
    buckets.sort_unstable();
    buckets.dedup();
    let mut per_model: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in &d.rows {
        let i = buckets.binary_search(&r.created_at).unwrap_or(0);
        per_model.entry(r.model_name.as_str()).or_insert_with(|| vec![0.0; buckets.len()])[i] += r.quota as f64;
    }
    let series: Vec<Series> =
        per_model.iter().map(|(m, v)| Series { name: m.to_string(), values: v.clone() }).collect();
    let labels: Vec<String> = buckets
        .iter()
        .map(|b| {
            let t = format::time(ctx.lang, *b);
            if bucket == "hour" { t[5..13].to_string() + "h" } else { t[5..10].to_string() }
        })
        .collect();
    let slices: Vec<(String, f64)> = series.iter().map(|s| (s.name.clone(), s.values.iter().sum())).collect();
    let requests: i64 = d.rows.iter().map(|r| r.count).sum();
    let tokens: i64 = d.rows.iter().map(|r| r.token_used).sum();
    let quota: i64 = d.rows.iter().map(|r| r.quota).sum();
    let fmt = {
        let ctx = ctx.clone();
        Callback::from(move |v: f64| ctx.quota(v.round() as i64))
    };
    html! {
        <>
            <section class="card">
                <div class="cards" id="dash-range-cards">
                    <div class="stat-card"><span class="muted">{ ctx.t("dash.range_quota") }</span><strong id="dash-range-quota">{ ctx.quota(quota) }</strong></div>
                    <div class="stat-card"><span class="muted">{ ctx.t("dash.range_requests") }</span><strong id="dash-range-requests">{ ctx.number(requests) }</strong></div>
                    <div class="stat-card"><span class="muted">{ ctx.t("dash.range_tokens") }</span><strong>{ ctx.number(tokens) }</strong></div>
                    <div class="stat-card"><span class="muted">{ "RPM / TPM" }</span><strong>{ format!("{} / {}", ctx.number(d.stat.rpm), ctx.number(d.stat.tpm)) }</strong></div>
                </div>
                if d.rows.is_empty() {
                    <p class="muted" id="dash-no-data">{ ctx.t("dash.no_data") }</p>
                } else {
                    <div class="chart-grid">
                        <StackedBars id="chart-consumption" title={ctx.t("dash.consumption")} labels={labels} series={series} format={fmt.clone()} />
                        <Pie id="chart-share" title={ctx.t("dash.share")} slices={slices} format={fmt} />
                    </div>
                }
            </section>
            if !d.channels.is_empty() {
                <section class="card">
                    <h2>{ ctx.t("dash.channels") }</h2>
                    <div class="table-wrap">
                        <table class="data" id="dash-channels">
                            <thead><tr>
                                <th>{ ctx.t("log.channel") }</th><th>{ ctx.t("dash.requests") }</th>
                                <th>{ ctx.t("dash.errors") }</th><th>{ ctx.t("dash.error_rate") }</th>
                                <th>{ ctx.t("dash.range_tokens") }</th><th>{ ctx.t("dash.range_quota") }</th>
                            </tr></thead>
                            <tbody>{ for d.channels.iter().map(|c| html! {
                                <tr>
                                    <td>{ format!("{} {}", c.channel_id, c.channel_name) }</td>
                                    <td>{ ctx.number(c.count) }</td>
                                    <td>{ ctx.number(c.error_count) }</td>
                                    <td>
                                        <span class="meter"><span style={format!("width: {:.0}%", c.error_rate * 100.0)}></span></span>
                                        { format!("{:.1}%", c.error_rate * 100.0) }
                                    </td>
                                    <td>{ ctx.number(c.token_used) }</td>
                                    <td>{ ctx.quota(c.quota) }</td>
                                </tr>
                            }) }</tbody>
                        </table>
                    </div>
                </section>
            }
        </>
    }
}
