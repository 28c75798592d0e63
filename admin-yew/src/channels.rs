//! Channel list: `GET /api/channel/`.

use veloera_admin_types::{Channel, status};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;

fn status_text(s: i32) -> String {
    match s {
        status::ENABLED => "enabled".into(),
        status::DISABLED => "disabled".into(),
        status::CHANNEL_AUTO_DISABLED => "auto-disabled".into(),
        other => other.to_string(),
    }
}

#[function_component(Channels)]
pub fn channels() -> Html {
    let list = use_state(|| None::<Result<Vec<Channel>, String>>);
    {
        let list = list.clone();
        use_effect_with((), move |_| {
            spawn_local(async move { list.set(Some(api::list_channels().await)) });
        });
    }

    let body = match &*list {
        None => html! { <p class="muted">{ "Loading channels…" }</p> },
        Some(Err(msg)) => html! { <p id="channels-error" class="error">{ msg.clone() }</p> },
        Some(Ok(rows)) => html! {
            <table id="channels">
                <thead><tr>
                    <th>{ "ID" }</th><th>{ "Name" }</th><th>{ "Type" }</th><th>{ "Models" }</th>
                    <th>{ "Group" }</th><th>{ "Status" }</th><th>{ "Priority" }</th>
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|c| html! {
                        <tr key={c.id}>
                            <td>{ c.id }</td>
                            <td>{ c.name.clone() }</td>
                            <td>{ c.channel_type }</td>
                            <td class="wrap">{ c.models.clone() }</td>
                            <td>{ c.group.clone() }</td>
                            <td>{ status_text(c.status) }</td>
                            <td>{ c.priority }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        },
    };

    html! {
        <section class="card">
            <h2>{ "Channels" }</h2>
            { body }
        </section>
    }
}
