//! The browser bundle's entry point: takes over the page the server rendered. Built for
//! `wasm32-unknown-unknown` by `cargo leptos build`; its own crate, so that only this build makes
//! a cdylib.
#![forbid(unsafe_code)]
// Hydrating the whole app instantiates deeply nested view types, as the dashboard crate does.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(service_ping::app::App);
    // Marks the page as interactive, for people's tools and for the browser tests.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
