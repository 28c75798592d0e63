//! Creating and editing a channel (`POST`/`PUT /api/channel/`): the type picker fills the default base URL and
//! shows the key format of the type; several keys may be pasted (comma or newline), and when editing each
//! stored key's health is listed with enable/disable; models come from the type's catalogue (`/api/models`),
//! from the upstream (`fetch_models`) or are typed; groups from `/api/group/`. Every JSON field is checked
//! before saving, and a refusal from the server is shown next to the field it names.

use std::collections::BTreeMap;

use veloera_admin_types::channel_types::{self, Wire};
use veloera_admin_types::{Channel, ChannelCreate, ChannelKey, ChannelUpdate};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{key_hint, other_hint, type_name};
use crate::api;
use crate::ctx::{AppCtx, use_ctx};
use crate::route::Route;
use crate::widgets::{Loading, PageHead, bind, bind_check, json_object_error};

#[derive(Properties, PartialEq)]
pub struct EditProps {
    /// `None` creates a channel.
    pub id: Option<i64>,
}

/// The form's text fields, by the API's field names.
const TEXT_FIELDS: &[&str] = &[
    "name",
    "base_url",
    "key",
    "other",
    "openai_organization",
    "models",
    "model_mapping",
    "model_prefix",
    "tag",
    "priority",
    "weight",
    "test_model",
    "system_prompt",
    "param_override",
    "headers",
    "status_code_mapping",
    "setting",
    "proxy",
    "connect_timeout",
    "first_byte_timeout",
    "idle_timeout",
    "total_timeout",
];

/// Fields holding a JSON object (or nothing).
const JSON_FIELDS: &[&str] = &["model_mapping", "param_override", "headers", "status_code_mapping", "setting"];

type Fields = BTreeMap<&'static str, String>;

fn fields_of(c: &Channel) -> Fields {
    let mut f = Fields::new();
    for (k, v) in [
        ("name", c.name.clone()),
        ("base_url", c.base_url.clone()),
        ("key", String::new()),
        ("other", c.other.clone()),
        ("openai_organization", c.openai_organization.clone()),
        ("models", c.models.clone()),
        ("model_mapping", c.model_mapping.clone()),
        ("model_prefix", c.model_prefix.clone()),
        ("tag", c.tag.clone()),
        ("priority", c.priority.to_string()),
        ("weight", c.weight.to_string()),
        ("test_model", c.test_model.clone()),
        ("system_prompt", c.system_prompt.clone()),
        ("param_override", c.param_override.clone()),
        ("headers", c.headers.clone()),
        ("status_code_mapping", c.status_code_mapping.clone()),
    ] {
        f.insert(k, v);
    }
    let (rest, carved) = super::setting::split(&c.setting);
    f.insert("setting", rest);
    f.extend(carved);
    f
}

fn blank() -> Fields {
    let mut f: Fields = TEXT_FIELDS.iter().map(|k| (*k, String::new())).collect();
    f.insert("priority", "0".into());
    f.insert("weight", "0".into());
    f.insert("base_url", channel_types::find(1).map(|t| t.default_base_url.to_string()).unwrap_or_default());
    f
}

/// The field a server refusal is about: its messages start with (or name) the API field.
fn field_of(message: &str) -> Option<&'static str> {
    let mut names: Vec<&'static str> = TEXT_FIELDS.to_vec();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.iter().find(|n| message.starts_with(&format!("{n} ")) || message.contains(&format!(" {n} "))).copied()
}

fn split_models(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in text.split([',', '\n']).map(str::trim).filter(|m| !m.is_empty()) {
        if !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    out
}

#[function_component(ChannelEdit)]
pub fn channel_edit(props: &EditProps) -> Html {
    let ctx = use_ctx();
    let navigator = use_navigator();
    let loaded = use_state(|| props.id.is_none());
    let channel_type = use_state(|| 1i32);
    let fields = use_state(blank);
    let groups = use_state(|| vec!["default".to_string()]);
    let all_groups = use_state(Vec::<String>::new);
    let auto_ban = use_state(|| true);
    let errors = use_state(BTreeMap::<&'static str, String>::new);
    let form_error = use_state(|| None::<String>);
    let catalogue = use_state(BTreeMap::<String, Vec<String>>::new);
    let keys = use_state(Vec::<ChannelKey>::new);
    let saving = use_state(|| false);
    let new_model = use_state(String::new);

    {
        let (ctx, id) = (ctx.clone(), props.id);
        let (loaded, channel_type, fields, groups, auto_ban, all_groups, catalogue, keys) = (
            loaded.clone(),
            channel_type.clone(),
            fields.clone(),
            groups.clone(),
            auto_ban.clone(),
            all_groups.clone(),
            catalogue.clone(),
            keys.clone(),
        );
        use_effect_with(id, move |_| {
            spawn_local(async move {
                match api::groups().await {
                    Ok(g) => all_groups.set(g),
                    Err(e) => ctx.error(&e),
                }
                if let Ok(c) = api::models_by_type().await {
                    catalogue.set(c);
                }
                let Some(id) = id else {
                    // `/channel/add?copy=12` starts from channel 12's settings under a new name; keys are never
                    // sent back by the API, so they are entered again.
                    let Some(source) = crate::pages::query_param("copy").and_then(|v| v.parse::<i64>().ok()) else {
                        return;
                    };
                    match api::get_channel(source).await {
                        Ok(c) => {
                            channel_type.set(c.channel_type);
                            groups.set(split_models(&c.group));
                            auto_ban.set(c.auto_ban != 0);
                            let mut f = fields_of(&c);
                            f.insert("name", ctx.tf("channel.copy_name", &[("name", c.name.clone())]));
                            fields.set(f);
                        }
                        Err(e) => ctx.error(&e),
                    }
                    return;
                };
                match api::get_channel(id).await {
                    Ok(c) => {
                        channel_type.set(c.channel_type);
                        groups.set(split_models(&c.group));
                        auto_ban.set(c.auto_ban != 0);
                        fields.set(fields_of(&c));
                        loaded.set(true);
                    }
                    Err(e) => ctx.error(&e),
                }
                if let Ok(k) = api::channel_keys(id).await {
                    keys.set(k);
                }
            });
        });
    }

    if !*loaded {
        return html! { <section class="card"><Loading /></section> };
    }

    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let set_field = |k: &'static str| {
        let (fields, errors) = (fields.clone(), errors.clone());
        Callback::from(move |e: InputEvent| {
            let value = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            let mut f = (*fields).clone();
            f.insert(k, value);
            fields.set(f);
            if errors.contains_key(k) {
                let mut er = (*errors).clone();
                er.remove(k);
                errors.set(er);
            }
        })
    };
    let on_type = {
        let (channel_type, fields) = (channel_type.clone(), fields.clone());
        Callback::from(move |e: Event| {
            let Ok(id) = e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse::<i32>() else { return };
            let old_default = channel_types::find(*channel_type).map(|t| t.default_base_url).unwrap_or("");
            let mut f = (*fields).clone();
            // Only a base URL the operator has not typed follows the type.
            if f.get("base_url").is_none_or(|u| u.is_empty() || u == old_default) {
                f.insert(
                    "base_url",
                    channel_types::find(id).map(|t| t.default_base_url.to_string()).unwrap_or_default(),
                );
            }
            fields.set(f);
            channel_type.set(id);
        })
    };
    let models = split_models(&get("models"));
    let set_models = {
        let fields = fields.clone();
        Callback::from(move |list: Vec<String>| {
            let mut f = (*fields).clone();
            f.insert("models", list.join(","));
            fields.set(f);
        })
    };
    let fill_vendor = {
        let (catalogue, channel_type, set_models, models, ctx) =
            (catalogue.clone(), *channel_type, set_models.clone(), models.clone(), ctx.clone());
        Callback::from(move |_: MouseEvent| {
            let vendor = catalogue.get(&channel_type.to_string()).cloned().unwrap_or_default();
            if vendor.is_empty() {
                ctx.notify(ctx.t("channel.no_catalogue").into());
                return;
            }
            let mut list = models.clone();
            list.extend(vendor.into_iter().filter(|m| !models.contains(m)));
            set_models.emit(list);
        })
    };
    let fetch_upstream = {
        let (ctx, fields, channel_type, set_models, models, id) =
            (ctx.clone(), fields.clone(), *channel_type, set_models.clone(), models.clone(), props.id);
        Callback::from(move |_: MouseEvent| {
            let (ctx, set_models, models) = (ctx.clone(), set_models.clone(), models.clone());
            let base_url = fields.get("base_url").cloned().unwrap_or_default();
            let key = fields.get("key").cloned().unwrap_or_default();
            if key.trim().is_empty() && id.is_some() {
                ctx.notify(ctx.t("channel.fetch_needs_key").into());
            }
            spawn_local(async move {
                match api::fetch_models(channel_type, &base_url, &key).await {
                    Ok(found) => {
                        let n = found.len();
                        let mut list = models.clone();
                        list.extend(found.into_iter().filter(|m| !models.contains(m)));
                        set_models.emit(list);
                        ctx.notify(ctx.tf("channel.fetched", &[("n", n.to_string())]));
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let add_model = {
        let (new_model, set_models, models) = (new_model.clone(), set_models.clone(), models.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut list = models.clone();
            list.extend(split_models(&new_model).into_iter().filter(|m| !models.contains(m)));
            set_models.emit(list);
            new_model.set(String::new());
        })
    };
    let on_add_model_key = {
        let add = add_model.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                if let Ok(ev) = web_sys::SubmitEvent::new("submit") {
                    add.emit(ev);
                }
            }
        })
    };

    let onsubmit = {
        let (ctx, fields, errors, form_error, saving) =
            (ctx.clone(), fields.clone(), errors.clone(), form_error.clone(), saving.clone());
        let (channel_type, groups, auto_ban, id) = (*channel_type, groups.clone(), *auto_ban, props.id);
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut found = BTreeMap::new();
            for k in JSON_FIELDS {
                if let Some(err) = json_object_error(&ctx, fields.get(k).map_or("", String::as_str)) {
                    found.insert(*k, err);
                }
            }
            let number = |k: &'static str, found: &mut BTreeMap<&'static str, String>| -> i64 {
                let v = fields.get(k).map_or("", String::as_str).trim().to_string();
                v.parse().unwrap_or_else(|_| {
                    found.insert(k, ctx.t("form.not_a_number").into());
                    0
                })
            };
            let setting = super::setting::join(
                fields.get("setting").map_or("", String::as_str),
                &super::setting::KEYS.map(|k| (k, fields.get(k).cloned().unwrap_or_default())),
            )
            .unwrap_or_else(|bad| {
                found.insert(bad, ctx.t("channel.timeout_invalid").into());
                String::new()
            });
            let priority = number("priority", &mut found);
            let weight = number("weight", &mut found);
            if fields.get("name").is_none_or(|n| n.trim().is_empty()) {
                found.insert("name", ctx.t("form.required").into());
            }
            if id.is_none() && fields.get("key").is_none_or(|n| n.trim().is_empty()) {
                found.insert("key", ctx.t("form.required").into());
            }
            if !found.is_empty() {
                errors.set(found);
                form_error.set(Some(ctx.t("form.fix_fields").into()));
                return;
            }
            errors.set(BTreeMap::new());
            form_error.set(None);
            let f = |k: &str| fields.get(k).cloned().unwrap_or_default().trim().to_string();
            let group = groups.join(",");
            let (ctx, errors, form_error, saving, navigator) =
                (ctx.clone(), errors.clone(), form_error.clone(), saving.clone(), navigator.clone());
            let fields = ChannelCreate {
                channel_type,
                name: f("name"),
                key: f("key"),
                base_url: Some(f("base_url")),
                models: f("models"),
                group: Some(group),
                model_mapping: Some(f("model_mapping")),
                priority: Some(priority),
                weight: Some(weight),
                auto_ban: Some(auto_ban as i32),
                test_model: Some(f("test_model")),
                openai_organization: Some(f("openai_organization")),
                tag: Some(f("tag")),
                status: None,
                other: Some(f("other")),
                param_override: Some(f("param_override")),
                status_code_mapping: Some(f("status_code_mapping")),
                system_prompt: Some(f("system_prompt")),
                headers: Some(f("headers")),
                setting: Some(setting),
                model_prefix: Some(f("model_prefix")),
            };
            let request = match id {
                None => Save::Create(fields),
                Some(id) => Save::Update(fields.into_update(id)),
            };
            saving.set(true);
            spawn_local(async move {
                let result = match &request {
                    Save::Create(b) => api::create_channel(b).await,
                    Save::Update(b) => api::update_channel(b).await,
                };
                saving.set(false);
                match result {
                    Ok(()) => {
                        ctx.success("common.saved");
                        if let Some(n) = navigator {
                            n.push(&Route::Channels);
                        }
                    }
                    Err(e) => {
                        let text = e.text(ctx.lang);
                        if let api::ApiError::Server { message, .. } = &e
                            && let Some(field) = field_of(message)
                        {
                            let mut er = BTreeMap::new();
                            er.insert(field, message.clone());
                            errors.set(er);
                        }
                        form_error.set(Some(text));
                    }
                }
            });
        })
    };

    let field = |k: &'static str, label: &'static str, hint: Option<String>, textarea: bool| {
        let id = format!("ch-{k}");
        let err = errors.get(k).cloned();
        let value = get(k);
        html! {
            <div class={classes!("field", err.is_some().then_some("has-error"))}>
                <label for={id.clone()}>{ ctx.t(label) }</label>
                if textarea {
                    <textarea id={id.clone()} rows="3" value={value} oninput={set_field(k)}
                        aria-invalid={err.is_some().to_string()} />
                } else {
                    <input id={id.clone()} type="text" value={value} oninput={set_field(k)}
                        aria-invalid={err.is_some().to_string()} />
                }
                if let Some(h) = hint { <p class="hint">{ h }</p> }
                if let Some(e) = err { <p class="field-error" id={format!("{id}-error")} role="alert">{ e }</p> }
            </div>
        }
    };

    let kind = channel_types::find(*channel_type);
    let default_url = kind.map(|t| t.default_base_url).unwrap_or("");
    let title = match props.id {
        None => ctx.t("channel.add").to_string(),
        Some(id) => ctx.tf("channel.edit_title", &[("id", id.to_string())]),
    };
    let key_help = if props.id.is_some() {
        format!("{} {}", ctx.t(key_hint(*channel_type)), ctx.t("channel.key_keep"))
    } else {
        ctx.t(key_hint(*channel_type)).to_string()
    };

    html! {
        <section class="card">
            <PageHead title={title}>
                <Link<Route> to={Route::Channels} classes="button secondary">{ ctx.t("common.back") }</Link<Route>>
            </PageHead>
            <form class="form-grid" {onsubmit} novalidate=true>
                <div class="field">
                    <label for="ch-type">{ ctx.t("channel.type") }</label>
                    <select id="ch-type" onchange={on_type}>
                        { for channel_types::all().iter().filter(|t| t.wire != Wire::Unsupported).map(|t| html! {
                            <option value={t.id.to_string()} selected={t.id == *channel_type}>{ format!("{} ({})", t.name, t.id) }</option>
                        }) }
                    </select>
                </div>
                { field("name", "channel.name", None, false) }
                { field("base_url", "channel.base_url", Some(if default_url.is_empty() { ctx.t("channel.base_url_required").to_string() } else { ctx.tf("channel.base_url_default", &[("url", default_url.to_string())]) }), false) }
                { field("key", "channel.key", Some(key_help), true) }
                if let Some(h) = other_hint(*channel_type) { { field("other", "channel.other", Some(ctx.t(h).to_string()), false) } }
                if *channel_type == 1 { { field("openai_organization", "channel.organization", None, false) } }
                if !keys.is_empty() {
                    <KeyHealth id={props.id.unwrap_or_default()} keys={(*keys).clone()} on_changed={{
                        let (keys, id, ctx) = (keys.clone(), props.id, ctx.clone());
                        Callback::from(move |()| {
                            let (keys, ctx) = (keys.clone(), ctx.clone());
                            if let Some(id) = id {
                                spawn_local(async move {
                                    match api::channel_keys(id).await {
                                        Ok(k) => keys.set(k),
                                        Err(e) => ctx.error(&e),
                                    }
                                });
                            }
                        })
                    }} />
                }
                <div class={classes!("field", "wide", errors.contains_key("models").then_some("has-error"))}>
                    <label for="ch-models">{ ctx.t("channel.models") }</label>
                    <div class="chips" id="ch-model-chips">
                        { for models.iter().map(|m| {
                            let (set_models, models, m2) = (set_models.clone(), models.clone(), m.clone());
                            html! {
                                <span class="chip">{ m.clone() }
                                    <button type="button" class="chip-x" aria-label={ctx.tf("channel.remove_model", &[("model", m.clone())])}
                                        onclick={Callback::from(move |_: MouseEvent| set_models.emit(models.iter().filter(|x| **x != m2).cloned().collect()))}>{ "×" }</button>
                                </span>
                            }
                        }) }
                    </div>
                    <div class="row">
                        <input id="ch-model-new" placeholder={ctx.t("channel.model_add_hint")} value={(*new_model).clone()} oninput={bind(&new_model)} onkeydown={on_add_model_key} />
                        <button type="button" class="secondary" onclick={{ let add = add_model.clone(); Callback::from(move |_: MouseEvent| if let Ok(ev) = web_sys::SubmitEvent::new("submit") { add.emit(ev) }) }}>{ ctx.t("common.add") }</button>
                        <button type="button" class="secondary" onclick={fill_vendor}>{ ctx.t("channel.fill_vendor") }</button>
                        <button type="button" id="ch-fetch-models" class="secondary" onclick={fetch_upstream}>{ ctx.t("channel.fetch_models") }</button>
                        <button type="button" class="secondary" onclick={{ let s = set_models.clone(); Callback::from(move |_: MouseEvent| s.emit(Vec::new())) }}>{ ctx.t("channel.clear_models") }</button>
                    </div>
                    <textarea id="ch-models" rows="2" value={get("models")} oninput={set_field("models")} />
                    if let Some(e) = errors.get("models") { <p class="field-error" role="alert">{ e.clone() }</p> }
                </div>
                <fieldset class="field wide">
                    <legend>{ ctx.t("channel.group") }</legend>
                    <div class="checks">
                        { for all_groups.iter().map(|g| {
                            let (groups, g2) = (groups.clone(), g.clone());
                            let on = groups.contains(g);
                            html! {
                                <label class="check">
                                    <input type="checkbox" checked={on} onchange={Callback::from(move |_: Event| {
                                        let mut list = (*groups).clone();
                                        if on { list.retain(|x| *x != g2) } else { list.push(g2.clone()) }
                                        groups.set(list);
                                    })} />
                                    { g.clone() }
                                </label>
                            }
                        }) }
                    </div>
                </fieldset>
                { field("model_mapping", "channel.model_mapping", Some(ctx.t("channel.model_mapping_hint").into()), true) }
                { field("model_prefix", "channel.model_prefix", None, false) }
                { field("tag", "channel.tag", None, false) }
                { field("priority", "channel.priority", None, false) }
                { field("weight", "channel.weight", None, false) }
                { field("test_model", "channel.test_model", None, false) }
                { field("system_prompt", "channel.system_prompt", None, true) }
                { field("param_override", "channel.param_override", Some(ctx.t("channel.param_override_hint").into()), true) }
                { field("headers", "channel.headers", Some(ctx.t("channel.headers_hint").into()), true) }
                { field("status_code_mapping", "channel.status_code_mapping", Some(ctx.t("channel.status_code_mapping_hint").into()), true) }
                { field("proxy", "channel.proxy", Some(ctx.t("channel.proxy_hint").into()), false) }
                { field("connect_timeout", "channel.connect_timeout", Some(ctx.t("channel.timeout_hint").into()), false) }
                { field("first_byte_timeout", "channel.first_byte_timeout", Some(ctx.t("channel.timeout_hint").into()), false) }
                { field("idle_timeout", "channel.idle_timeout", Some(ctx.t("channel.timeout_hint").into()), false) }
                { field("total_timeout", "channel.total_timeout", Some(ctx.t("channel.timeout_hint").into()), false) }
                { field("setting", "channel.setting", Some(ctx.t("channel.setting_hint").into()), true) }
                <label class="check field">
                    <input id="ch-auto-ban" type="checkbox" checked={*auto_ban} onchange={bind_check(&auto_ban)} />
                    { ctx.t("channel.auto_ban") }
                </label>
                <div class="form-actions wide">
                    if let Some(e) = &*form_error { <p id="channel-form-error" class="error" role="alert">{ e.clone() }</p> }
                    <button id="channel-save" type="submit" disabled={*saving}>{ if *saving { ctx.t("common.working") } else { ctx.t("common.save") } }</button>
                    <span class="muted">{ type_name(*channel_type) }</span>
                </div>
            </form>
        </section>
    }
}

enum Save {
    Create(ChannelCreate),
    Update(ChannelUpdate),
}

#[derive(Properties, PartialEq)]
struct KeyHealthProps {
    id: i64,
    keys: Vec<ChannelKey>,
    on_changed: Callback<()>,
}

/// The stored keys of a multi-key channel with their health; each can be enabled or disabled alone.
#[function_component(KeyHealth)]
fn key_health(props: &KeyHealthProps) -> Html {
    let ctx = use_ctx();
    let set = |k: &ChannelKey| {
        let (ctx, id, slot, on_changed) = (ctx.clone(), props.id, k.slot, props.on_changed.clone());
        let target = if k.status == 1 { 2 } else { 1 };
        Callback::from(move |_: MouseEvent| {
            let (ctx, on_changed) = (ctx.clone(), on_changed.clone());
            spawn_local(async move {
                match api::set_channel_key_status(id, slot, target).await {
                    Ok(()) => ctx.success("common.saved"),
                    Err(e) => ctx.error(&e),
                }
                on_changed.emit(());
            });
        })
    };
    html! {
        <div class="field wide">
            <span class="label">{ ctx.tf("channel.keys_title", &[("n", props.keys.len().to_string())]) }</span>
            <div class="table-wrap">
                <table id="channel-keys" class="data compact">
                    <thead><tr>
                        <th>{ "#" }</th><th>{ ctx.t("channel.key") }</th><th>{ ctx.t("common.status") }</th>
                        <th>{ ctx.t("channel.key_requests") }</th><th>{ ctx.t("channel.key_last_error") }</th><th></th>
                    </tr></thead>
                    <tbody>
                        { for props.keys.iter().map(|k| html! {
                            <tr>
                                <td>{ k.slot + 1 }</td>
                                <td><code>{ k.key.clone() }</code></td>
                                <td>{ key_status(&ctx, k) }</td>
                                <td>{ format!("{} / {}", k.request_count, k.error_count) }</td>
                                <td class="wrap">{ k.last_error.clone() }</td>
                                <td><button type="button" class="secondary small" onclick={set(k)}>
                                    { if k.status == 1 { ctx.t("common.disable") } else { ctx.t("common.enable") } }
                                </button></td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
        </div>
    }
}

fn key_status(ctx: &AppCtx, k: &ChannelKey) -> Html {
    let (key, class) = match k.status {
        1 => ("status.enabled", "ok"),
        2 => ("status.disabled", "off"),
        _ => ("status.auto_disabled", "bad"),
    };
    let title = if k.status_reason.is_empty() {
        String::new()
    } else {
        format!("{} · {}", k.status_reason, ctx.time(k.status_time))
    };
    html! { <span class={classes!("pill", class)} title={title}>{ ctx.t(key) }</span> }
}
