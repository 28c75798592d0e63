//! The channel list's tag view: rows grouped by tag, each group headed by the actions Veloera offers for a
//! whole tag (enable all, disable all, edit: rename, priority, weight).

use veloera_admin_types::{Channel, ChannelTagEdit};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::ctx::use_ctx;
use crate::widgets::bind;

/// The channels grouped by tag, tags in name order and untagged channels last; each group in list order.
pub fn grouped(items: &[Channel]) -> Vec<(String, Vec<&Channel>)> {
    let mut groups: Vec<(String, Vec<&Channel>)> = Vec::new();
    for c in items {
        match groups.iter_mut().find(|(t, _)| *t == c.tag) {
            Some((_, list)) => list.push(c),
            None => groups.push((c.tag.clone(), vec![c])),
        }
    }
    groups.sort_by(|(a, _), (b, _)| (a.is_empty(), a).cmp(&(b.is_empty(), b)));
    groups
}

#[derive(Properties, PartialEq)]
pub struct TagHeaderProps {
    pub tag: String,
    pub count: usize,
    /// Columns of the table, for the header row's span.
    pub cols: usize,
    pub on_changed: Callback<()>,
}

#[function_component(TagHeader)]
pub fn tag_header(props: &TagHeaderProps) -> Html {
    let ctx = use_ctx();
    let editing = use_state(|| false);
    let new_tag = use_state(|| props.tag.clone());
    let priority = use_state(String::new);
    let weight = use_state(String::new);
    if props.tag.is_empty() {
        return html! {
            <tr class="tag-row"><td colspan={props.cols.to_string()}><strong>{ ctx.t("channel.untagged") }</strong>
                <span class="muted">{ format!(" · {}", props.count) }</span></td></tr>
        };
    }
    let set_status = |enable: bool| {
        let (ctx, tag, done) = (ctx.clone(), props.tag.clone(), props.on_changed.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx2, tag2, done) = (ctx.clone(), tag.clone(), done.clone());
            let run = move || {
                let (ctx, tag, done) = (ctx2.clone(), tag2.clone(), done.clone());
                spawn_local(async move {
                    match api::set_tag_status(&tag, enable).await {
                        Ok(()) => {
                            ctx.success("common.saved");
                            done.emit(());
                        }
                        Err(e) => ctx.error(&e),
                    }
                });
            };
            if enable { run() } else { ctx.ask(ctx.tf("channel.confirm_disable_tag", &[("tag", tag.clone())]), run) }
        })
    };
    let save = {
        let (ctx, tag, done, editing) = (ctx.clone(), props.tag.clone(), props.on_changed.clone(), editing.clone());
        let (new_tag, priority, weight) = (new_tag.clone(), priority.clone(), weight.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let number = |s: &str| s.trim().parse::<i64>().ok();
            if [&*priority, &*weight].iter().any(|v| !v.trim().is_empty() && number(v).is_none()) {
                return ctx.toast.emit(crate::ctx::Toast { error: true, text: ctx.t("form.not_a_number").into() });
            }
            let body = ChannelTagEdit {
                tag: tag.clone(),
                new_tag: Some(new_tag.trim().to_string()).filter(|t| *t != tag),
                priority: number(&priority),
                weight: number(&weight),
                ..ChannelTagEdit::default()
            };
            let (ctx, done, editing) = (ctx.clone(), done.clone(), editing.clone());
            spawn_local(async move {
                match api::edit_tag(&body).await {
                    Ok(()) => {
                        ctx.success("common.saved");
                        editing.set(false);
                        done.emit(());
                    }
                    Err(e) => ctx.error(&e),
                }
            });
        })
    };
    let toggle = {
        let editing = editing.clone();
        Callback::from(move |_: MouseEvent| editing.set(!*editing))
    };
    html! {
        <tr class="tag-row">
            <td colspan={props.cols.to_string()}>
                <div class="row">
                    <strong class="tag-name">{ props.tag.clone() }</strong>
                    <span class="muted">{ format!("· {}", props.count) }</span>
                    <button class="secondary small tag-enable" onclick={set_status(true)}>{ ctx.t("channel.enable_tag") }</button>
                    <button class="secondary small danger-text tag-disable" onclick={set_status(false)}>{ ctx.t("channel.disable_tag") }</button>
                    <button class="secondary small tag-edit" aria-expanded={editing.to_string()} onclick={toggle}>{ ctx.t("channel.edit_tag") }</button>
                </div>
                if *editing {
                    <form class="filters tag-form" onsubmit={save}>
                        <label>{ ctx.t("channel.tag") }<input value={(*new_tag).clone()} oninput={bind(&new_tag)} /></label>
                        <label>{ ctx.t("channel.priority") }<input inputmode="numeric" placeholder={ctx.t("channel.tag_keep")} value={(*priority).clone()} oninput={bind(&priority)} /></label>
                        <label>{ ctx.t("channel.weight") }<input inputmode="numeric" placeholder={ctx.t("channel.tag_keep")} value={(*weight).clone()} oninput={bind(&weight)} /></label>
                        <button type="submit">{ ctx.t("common.save") }</button>
                    </form>
                }
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: i64, tag: &str) -> Channel {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": 1, "name": format!("c{id}"), "key": "", "base_url": "", "models": "", "group": "",
            "model_mapping": "", "status": 1, "priority": 0, "weight": 0, "auto_ban": 1, "test_model": "",
            "openai_organization": "", "tag": tag, "created_time": 0, "used_quota": 0
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rows_group_by_tag_in_name_order_with_untagged_last() {
        let items = [channel(1, ""), channel(2, "b"), channel(3, "a"), channel(4, "b")];
        let groups = grouped(&items);
        let shape: Vec<(&str, Vec<i64>)> =
            groups.iter().map(|(t, cs)| (t.as_str(), cs.iter().map(|c| c.id).collect())).collect();
        assert_eq!(shape, vec![("a", vec![3]), ("b", vec![2, 4]), ("", vec![1])]);
    }
}
