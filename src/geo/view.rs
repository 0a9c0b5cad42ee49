//! The Geo sites page: its content is written on the server ([`super::get_geo_sites`]), so the
//! browser bundle holds none of Geo's types for a page that only shows them.

use leptos::prelude::*;
use leptos_meta::Title;

use super::get_geo_sites;
use crate::components::{PageHeader, loaded};

#[component]
pub fn GeoSitesPage() -> impl IntoView {
    let content = Resource::new(|| (), |_| get_geo_sites());
    view! {
        <Title text="Geo sites · Admin · Service Ping"/>
        <PageHeader title="Geo sites" subtitle="Secondary sites report their status and weekly Git traffic to the primary, whose payload carries them."/>
        {loaded(content, |html| view! { <div inner_html=html></div> })}
    }
}
