//! Channel export and import (root only): the selected channels, or all, downloaded as a `.json` file with
//! their keys (`GET /api/channel/export`), and a file uploaded back (`POST /api/channel/import`): a dry run
//! shows what would be created, skipped or refused, and only a confirmation writes.

use std::collections::BTreeSet;

use veloera_admin_types::channel_transfer::{ChannelExportFile, ChannelImportReport, EXPORT_VERSION};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use yew::prelude::*;

use crate::api;
use crate::ctx::{AppCtx, use_ctx};

/// The download's file name: the site and the moment of the export, so several files do not overwrite each other.
pub fn file_name(exported_at: i64) -> String {
    format!("veloera-channels-{exported_at}.json")
}

/// The file's text as an export, or why it is not one (said before anything is sent).
pub fn read_file(text: &str) -> Result<ChannelExportFile, String> {
    let file: ChannelExportFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.version != EXPORT_VERSION {
        return Err(format!("version {} (this build reads version {EXPORT_VERSION})", file.version));
    }
    Ok(file)
}

#[derive(Properties, PartialEq)]
pub struct TransferProps {
    /// The channels ticked in the list; none means all.
    pub selected: BTreeSet<i64>,
    /// After an import wrote channels.
    pub on_imported: Callback<()>,
}

/// A file waiting for the operator's confirmation, with what its dry run said.
#[derive(Clone, PartialEq)]
struct Pending {
    name: String,
    file: ChannelExportFile,
    preview: ChannelImportReport,
}

#[function_component(ChannelTransfer)]
pub fn channel_transfer(props: &TransferProps) -> Html {
    let ctx = use_ctx();
    let pending = use_state(|| None::<Pending>);
    let busy = use_state(|| false);
    let export = {
        let (ctx, busy, selected) = (ctx.clone(), busy.clone(), props.selected.clone());
        Callback::from(move |_: MouseEvent| {
            let (ctx, busy, ids) = (ctx.clone(), busy.clone(), selected.iter().copied().collect::<Vec<_>>());
            busy.set(true);
            spawn_local(async move {
                match api::export_channels(&ids).await {
                    Ok(file) => match download(&file) {
                        Ok(()) => ctx.notify(ctx.tf("transfer.exported", &[("n", file.channels.len().to_string())])),
                        Err(e) => ctx.notify(format!("{}: {e}", ctx.t("transfer.download_failed"))),
                    },
                    Err(e) => ctx.error(&e),
                }
                busy.set(false);
            });
        })
    };
    let choose = {
        let (ctx, pending, busy) = (ctx.clone(), pending.clone(), busy.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(chosen) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value("");
            let (ctx, pending, busy) = (ctx.clone(), pending.clone(), busy.clone());
            busy.set(true);
            spawn_local(async move {
                let text = JsFuture::from(chosen.text()).await.ok().and_then(|t| t.as_string()).unwrap_or_default();
                match read_file(&text) {
                    Err(why) => ctx.notify(format!("{}: {why}", ctx.t("transfer.not_an_export"))),
                    Ok(file) => match api::import_channels(&file, true).await {
                        Ok(preview) => pending.set(Some(Pending { name: chosen.name(), file, preview })),
                        Err(e) => ctx.error(&e),
                    },
                }
                busy.set(false);
            });
        })
    };
    let confirm = {
        let (ctx, pending, busy, done) = (ctx.clone(), pending.clone(), busy.clone(), props.on_imported.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(p) = (*pending).clone() else { return };
            let (ctx, pending, busy, done) = (ctx.clone(), pending.clone(), busy.clone(), done.clone());
            busy.set(true);
            spawn_local(async move {
                match api::import_channels(&p.file, false).await {
                    Ok(report) => {
                        ctx.notify(summary(&ctx, &report));
                        pending.set(None);
                        done.emit(());
                    }
                    Err(e) => ctx.error(&e),
                }
                busy.set(false);
            });
        })
    };
    let cancel = {
        let pending = pending.clone();
        Callback::from(move |_: MouseEvent| pending.set(None))
    };
    let export_label = if props.selected.is_empty() {
        ctx.t("transfer.export_all").to_string()
    } else {
        ctx.tf("transfer.export_selected", &[("n", props.selected.len().to_string())])
    };
    html! {
        <>
            <button id="channel-export" class="secondary" disabled={*busy} onclick={export}>{ export_label }</button>
            <label class="button secondary" for="channel-import-file">{ ctx.t("transfer.import") }</label>
            <input id="channel-import-file" class="sr-only" type="file" accept="application/json,.json" onchange={choose} disabled={*busy} />
            if let Some(p) = &*pending {
                <div class="modal-backdrop">
                    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="import-title">
                        <h2 id="import-title">{ ctx.tf("transfer.preview_title", &[("file", p.name.clone())]) }</h2>
                        <p id="import-preview">{ summary(&ctx, &p.preview) }</p>
                        if !p.preview.failed.is_empty() {
                            <ul class="import-failures">
                                { for p.preview.failed.iter().map(|f| html! { <li><strong>{ f.name.clone() }</strong>{ ": " }{ f.reason.clone() }</li> }) }
                            </ul>
                        }
                        <div class="form-actions">
                            <button id="import-confirm" disabled={*busy || p.preview.created == 0} onclick={confirm}>{ ctx.t("transfer.import_confirm") }</button>
                            <button class="secondary" onclick={cancel}>{ ctx.t("common.cancel") }</button>
                        </div>
                    </div>
                </div>
            }
        </>
    }
}

/// "n created, n skipped, n refused" in the reader's language.
fn summary(ctx: &AppCtx, r: &ChannelImportReport) -> String {
    ctx.tf(
        "transfer.summary",
        &[
            ("created", r.created.to_string()),
            ("skipped", r.skipped.to_string()),
            ("failed", r.failed.len().to_string()),
        ],
    )
}

/// Offers the export as a file download (a Blob behind a temporary link).
fn download(file: &ChannelExportFile) -> Result<(), String> {
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(js)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a").map_err(js)?.unchecked_into();
    link.set_href(&url);
    link.set_download(&file_name(file.exported_at));
    link.click();
    web_sys::Url::revoke_object_url(&url).map_err(js)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_export_of_a_known_version_is_read() {
        let ok = read_file(r#"{"version":1,"exported_at":5,"channels":[{"type":1,"name":"a","keys":["k"]}]}"#);
        assert_eq!(ok.map(|f| f.channels.len()), Ok(1));
        assert!(read_file(r#"{"version":2,"exported_at":5,"channels":[]}"#).unwrap_err().contains("version 2"));
        assert!(read_file("not json").is_err());
        assert!(read_file(r#"{"channels":[]}"#).is_err(), "a file without a version is not an export");
    }

    #[test]
    fn the_download_is_named_after_its_moment() {
        assert_eq!(file_name(1_796_000_000), "veloera-channels-1796000000.json");
    }
}
