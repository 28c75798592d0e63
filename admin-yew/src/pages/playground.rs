//! The playground: a conversation with one of the models and groups the user may use, billed to the user like
//! any request (`POST /pg/chat/completions` with the session). The answer streams in as plain text: model
//! output is never interpreted as HTML.

use serde_json::{Value, json};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::widgets::{PageHead, bind, bind_select};

/// One turn of the conversation, as the chat API takes it.
#[derive(Clone, PartialEq)]
struct Turn {
    role: &'static str,
    content: String,
}

/// The chat request for the conversation so far (the answer being written is not part of it).
fn request_body(model: &str, group: &str, system: &str, settings: (&str, &str), turns: &[Turn]) -> Value {
    let mut messages = Vec::new();
    if !system.trim().is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(turns.iter().map(|t| json!({"role": t.role, "content": t.content})));
    let mut body = json!({"model": model, "group": group, "messages": messages, "stream": true});
    if let Ok(t) = settings.0.trim().parse::<f64>() {
        body["temperature"] = json!(t);
    }
    if let Ok(n) = settings.1.trim().parse::<i64>()
        && n > 0
    {
        body["max_tokens"] = json!(n);
    }
    body
}

#[function_component(Playground)]
pub fn playground() -> Html {
    let ctx = use_ctx();
    let models = use_state(Vec::<String>::new);
    let groups = use_state(Vec::<(String, String)>::new);
    let model = use_state(String::new);
    let group = use_state(String::new);
    let system = use_state(String::new);
    let temperature = use_state(|| "0.7".to_string());
    let max_tokens = use_state(String::new);
    let prompt = use_state(String::new);
    let turns = use_state(Vec::<Turn>::new);
    let answer = use_state(|| None::<String>);
    let abort = use_state(|| None::<web_sys::AbortController>);
    {
        let (ctx, models, groups, model, group) =
            (ctx.clone(), models.clone(), groups.clone(), model.clone(), group.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match api::usable_models().await {
                    Ok(list) => {
                        model.set(list.first().cloned().unwrap_or_default());
                        models.set(list);
                    }
                    Err(e) => ctx.error(&e),
                }
                match api::usable_groups().await {
                    Ok(map) => {
                        let own = ctx.user.as_ref().map(|u| u.group.clone()).unwrap_or_default();
                        let list: Vec<(String, String)> = map
                            .into_iter()
                            .map(|(name, info)| {
                                let desc = info.get("desc").and_then(Value::as_str).unwrap_or_default().to_string();
                                (name, desc)
                            })
                            .collect();
                        let first = list.iter().find(|(n, _)| *n == own).or(list.first()).map(|(n, _)| n.clone());
                        group.set(first.unwrap_or(own));
                        groups.set(list);
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        });
    }
    let send = {
        let (ctx, model, group, system, temperature, max_tokens) =
            (ctx.clone(), model.clone(), group.clone(), system.clone(), temperature.clone(), max_tokens.clone());
        let (prompt, turns, answer, abort) = (prompt.clone(), turns.clone(), answer.clone(), abort.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = prompt.trim().to_string();
            if text.is_empty() || model.is_empty() || abort.is_some() {
                return;
            }
            let mut history = (*turns).clone();
            history.push(Turn { role: "user", content: text });
            let body = request_body(&model, &group, &system, (&temperature, &max_tokens), &history);
            let Ok(controller) = web_sys::AbortController::new() else { return };
            let signal = controller.signal();
            abort.set(Some(controller));
            turns.set(history.clone());
            prompt.set(String::new());
            answer.set(Some(String::new()));
            let (ctx, turns, answer, abort) = (ctx.clone(), turns.clone(), answer.clone(), abort.clone());
            spawn_local(async move {
                // The state handle shows the value of its render, so the text so far is kept here.
                let mut written = String::new();
                let outcome = api::playground(&body, &signal, |piece| {
                    written.push_str(piece);
                    answer.set(Some(written.clone()));
                })
                .await;
                if let Err(e) = outcome {
                    ctx.error(&e);
                }
                if !written.is_empty() {
                    history.push(Turn { role: "assistant", content: written });
                    turns.set(history);
                }
                answer.set(None);
                abort.set(None);
                ctx.refresh_user.emit(());
            });
        })
    };
    let stop = {
        let abort = abort.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(controller) = &*abort {
                controller.abort();
            }
        })
    };
    let clear = {
        let (turns, abort) = (turns.clone(), abort.clone());
        Callback::from(move |_: MouseEvent| {
            if abort.is_none() {
                turns.set(Vec::new());
            }
        })
    };
    let running = abort.is_some();
    let bubble = |role: &str, text: String, id: Option<&'static str>| {
        let who = if role == "user" { ctx.t("pg.you") } else { ctx.t("pg.assistant") };
        html! {
            <div class={classes!("pg-turn", format!("pg-{role}"))}>
                <span class="muted small">{ who }</span>
                <pre class="pg-text" id={id}>{ text }</pre>
            </div>
        }
    };
    html! {
        <>
            <section class="card">
                <PageHead title={ctx.t("nav.playground")} />
                <div class="form-grid">
                    <div class="field">
                        <label for="pg-model">{ ctx.t("pg.model") }</label>
                        <select id="pg-model" onchange={bind_select(&model)}>
                            { for models.iter().map(|m| html! { <option value={m.clone()} selected={*m == *model}>{ m.clone() }</option> }) }
                        </select>
                    </div>
                    <div class="field">
                        <label for="pg-group">{ ctx.t("pg.group") }</label>
                        <select id="pg-group" onchange={bind_select(&group)}>
                            { for groups.iter().map(|(g, desc)| {
                                let label = if desc.is_empty() { g.clone() } else { format!("{g} · {desc}") };
                                html! { <option value={g.clone()} selected={*g == *group}>{ label }</option> }
                            }) }
                        </select>
                    </div>
                    <div class="field">
                        <label for="pg-temperature">{ ctx.t("pg.temperature") }</label>
                        <input id="pg-temperature" type="number" min="0" max="2" step="0.1" value={(*temperature).clone()} oninput={bind(&temperature)} />
                    </div>
                    <div class="field">
                        <label for="pg-max-tokens">{ ctx.t("pg.max_tokens") }</label>
                        <input id="pg-max-tokens" type="number" min="1" placeholder={ctx.t("pg.max_tokens_hint")} value={(*max_tokens).clone()} oninput={bind(&max_tokens)} />
                    </div>
                    <div class="field wide">
                        <label for="pg-system">{ ctx.t("pg.system") }</label>
                        <textarea id="pg-system" rows="2" value={(*system).clone()} oninput={bind(&system)} />
                    </div>
                </div>
                if models.is_empty() { <p class="muted">{ ctx.t("pg.no_models") }</p> }
            </section>
            <section class="card pg-chat" aria-live="polite">
                if turns.is_empty() && answer.is_none() { <p class="muted">{ ctx.t("pg.empty") }</p> }
                { for turns.iter().map(|t| bubble(t.role, t.content.clone(), None)) }
                if let Some(a) = &*answer { { bubble("assistant", a.clone(), Some("pg-answer")) } }
                <form class="stack" onsubmit={send}>
                    <label class="sr-only" for="pg-prompt">{ ctx.t("pg.prompt") }</label>
                    <textarea id="pg-prompt" rows="3" placeholder={ctx.t("pg.prompt")} value={(*prompt).clone()} oninput={bind(&prompt)} />
                    <div class="form-actions">
                    <button id="pg-send" type="submit" disabled={running || models.is_empty()}>{ ctx.t("pg.send") }</button>
                    if running {
                        <button id="pg-stop" type="button" class="secondary" onclick={stop}>{ ctx.t("pg.stop") }</button>
                    } else {
                        <button id="pg-clear" type="button" class="secondary" onclick={clear}>{ ctx.t("pg.clear") }</button>
                    }
                    </div>
                </form>
            </section>
        </>
    }
}
