//! Reading and clearing form inputs, shared by the pages.

use web_sys::HtmlInputElement;
use yew::NodeRef;

/// The current value of an `<input>` behind `node` (empty if it is not mounted).
pub fn input_value(node: &NodeRef) -> String {
    node.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
}

/// Clears the `<input>` behind `node`.
pub fn clear_input(node: &NodeRef) {
    if let Some(i) = node.cast::<HtmlInputElement>() {
        i.set_value("");
    }
}
