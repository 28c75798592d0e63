//! Token list (`GET /api/token/`) and a small create form (`POST /api/token/`).

use veloera_admin_types::{Token, status};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::inputs::{clear_input, input_value};

fn status_text(s: i32) -> String {
    match s {
        status::ENABLED => "enabled".into(),
        status::DISABLED => "disabled".into(),
        status::TOKEN_EXPIRED => "expired".into(),
        status::TOKEN_EXHAUSTED => "exhausted".into(),
        other => other.to_string(),
    }
}

fn row(t: &Token) -> Html {
    let remain = if t.unlimited_quota { "unlimited".to_string() } else { t.remain_quota.to_string() };
    let group = if t.group.is_empty() { "(user's)".to_string() } else { t.group.clone() };
    // 0 means no limit of that kind.
    let limit = |n: i64| if n == 0 { "∞".to_string() } else { n.to_string() };
    let rate_limit = if t.rate_limit_enabled {
        format!("{} / {} ok per {} s", limit(t.rate_limit_count), limit(t.rate_limit_success), t.rate_limit_period)
    } else {
        "off".to_string()
    };
    html! {
        <tr key={t.id}>
            <td>{ t.id }</td>
            <td>{ t.name.clone() }</td>
            <td><code>{ t.key.clone() }</code></td>
            <td>{ status_text(t.status) }</td>
            <td>{ remain }</td>
            <td>{ t.used_quota }</td>
            <td>{ group }</td>
            <td>{ rate_limit }</td>
        </tr>
    }
}

#[function_component(Tokens)]
pub fn tokens() -> Html {
    let list = use_state(|| None::<Result<Vec<Token>, String>>);
    let new_key = use_state(|| None::<String>);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let name = use_node_ref();

    let reload = {
        let list = list.clone();
        Callback::from(move |()| {
            let list = list.clone();
            spawn_local(async move { list.set(Some(api::list_tokens().await)) });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with((), move |_| reload.emit(()));
    }

    let onsubmit = {
        let (name, new_key, error, busy) = (name.clone(), new_key.clone(), error.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let token_name = input_value(&name);
            if token_name.trim().is_empty() {
                error.set(Some("Enter a token name.".into()));
                return;
            }
            busy.set(true);
            let (name, new_key, error, busy, reload) =
                (name.clone(), new_key.clone(), error.clone(), busy.clone(), reload.clone());
            spawn_local(async move {
                let result = api::create_token(token_name.trim().to_string()).await;
                busy.set(false);
                match result {
                    Ok(created) => {
                        error.set(None);
                        new_key.set(created.map(|t| t.key));
                        clear_input(&name);
                        reload.emit(());
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        })
    };

    let table = match &*list {
        None => html! { <p class="muted">{ "Loading tokens…" }</p> },
        Some(Err(msg)) => html! { <p id="tokens-error" class="error">{ msg.clone() }</p> },
        Some(Ok(rows)) => html! {
            <table id="tokens">
                <thead><tr>
                    <th>{ "ID" }</th><th>{ "Name" }</th><th>{ "Key" }</th><th>{ "Status" }</th>
                    <th>{ "Remaining quota" }</th><th>{ "Used quota" }</th><th>{ "Group" }</th>
                    <th>{ "Rate limit" }</th>
                </tr></thead>
                <tbody>{ for rows.iter().map(row) }</tbody>
            </table>
        },
    };

    html! {
        <section class="card">
            <h2>{ "Tokens" }</h2>
            <form class="inline" {onsubmit}>
                <input id="token-name" type="text" placeholder="New token name" ref={name} />
                <button id="create-token" type="submit" disabled={*busy}>{ "Create token" }</button>
            </form>
            if let Some(msg) = &*error {
                <p id="token-error" class="error">{ msg.clone() }</p>
            }
            if let Some(key) = &*new_key {
                <p class="notice">
                    { "New key (shown only once): " }
                    <code id="new-token-key">{ key.clone() }</code>
                </p>
            }
            { table }
        </section>
    }
}
