//! The frame around every page: session and site status, the context, header, side navigation, toasts and
//! the confirmation dialog.

mod app;
mod confirm;
mod header;
mod nav;
mod toasts;

pub use app::App;
