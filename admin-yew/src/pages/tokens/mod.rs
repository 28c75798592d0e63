//! Tokens: the list (search, status, reveal and copy keys, example calls) and the create/edit form.

pub mod edit;
pub mod list;

use veloera_admin_types::{Token, status};
use yew::prelude::*;

use crate::ctx::AppCtx;

/// Status pill of a token: Veloera's numbers, plus "expired" for an enabled token whose time has passed.
pub fn status_pill(ctx: &AppCtx, t: &Token) -> Html {
    let expired = t.expired_time > 0 && t.expired_time < crate::format::now();
    let (key, class) = match t.status {
        status::ENABLED if expired => ("status.expired", "warn"),
        status::ENABLED => ("status.enabled", "ok"),
        status::DISABLED => ("status.disabled", "off"),
        status::TOKEN_EXPIRED => ("status.expired", "warn"),
        status::TOKEN_EXHAUSTED => ("status.exhausted", "bad"),
        _ => ("status.unknown", "off"),
    };
    html! { <span class={classes!("pill", class)}>{ ctx.t(key) }</span> }
}

/// The site's address for example calls: `ServerAddress` when set, else this page's origin.
pub fn site_address(ctx: &AppCtx) -> String {
    let configured = ctx.status.server_address.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct ExampleProps {
    pub key_text: String,
}

/// Example calls with `key_text`: curl against `/v1` and `/hf/v1`, and the OpenAI Python SDK.
#[function_component(Examples)]
pub fn examples(props: &ExampleProps) -> Html {
    let ctx = crate::ctx::use_ctx();
    let base = site_address(&ctx);
    let key = &props.key_text;
    let curl = format!(
        "curl {base}/v1/chat/completions \\\n  -H \"Authorization: Bearer {key}\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\"model\": \"gpt-4o-mini\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'"
    );
    let sdk = format!(
        "from openai import OpenAI\n\nclient = OpenAI(base_url=\"{base}/v1\", api_key=\"{key}\")\nreply = client.chat.completions.create(\n    model=\"gpt-4o-mini\",\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)\nprint(reply.choices[0].message.content)"
    );
    let hf = format!("{base}/hf/v1");
    html! {
        <div class="examples" id="token-examples">
            <h3>{ ctx.t("token.examples") }</h3>
            <p class="muted">{ ctx.tf("token.examples_base", &[("v1", format!("{base}/v1")), ("hf", hf)]) }</p>
            <div class="code-block"><pre><code>{ curl.clone() }</code></pre><crate::widgets::CopyButton text={curl} /></div>
            <div class="code-block"><pre><code>{ sdk.clone() }</code></pre><crate::widgets::CopyButton text={sdk} /></div>
        </div>
    }
}
