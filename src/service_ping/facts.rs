//! The facts about this installation that system metrics report: identity, host, operating
//! system, database, and the settings in force.

use crate::config::InstanceSettings;
use crate::instance::InstanceIdentity;
use crate::licensing::entitlement::Entitlement;
use service_ping_engine::{DataCategory, Facts};

/// Gathers the facts for a payload that permits `categories`.
pub fn gather(
    identity: &InstanceIdentity,
    instance: &InstanceSettings,
    service_ping_enabled: bool,
    categories: &[DataCategory],
    entitlement: &Entitlement,
    topology: serde_json::Value,
    (geo_enabled, geo_node_usage): (bool, serde_json::Value),
) -> Facts {
    Facts {
        uuid: identity.uuid.to_string(),
        hostname: instance.hostname.clone().unwrap_or_else(machine_hostname),
        version: identity.version.to_string(),
        installation_type: instance.installation_type.clone(),
        edition: entitlement.edition.as_str().to_string(),
        database_adapter: identity.database.adapter.clone(),
        database_version: identity.database.version.clone(),
        database_flavor: identity.database.flavor.clone(),
        pg_system_id: identity.database.system_id,
        operating_system: operating_system(),
        service_ping_enabled,
        include_optional_data: categories.contains(&DataCategory::Optional),
        collected_data_categories: categories.iter().map(|c| c.as_str().to_string()).collect(),
        license: entitlement.license_facts(),
        topology,
        geo_enabled,
        geo_node_usage,
    }
}

/// The kernel's host name, or `localhost` when it cannot be read.
fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `<id>-<version>` from `/etc/os-release` (e.g. `debian-12`), as GitLab reports it; the bare
/// OS family when the file is missing.
fn operating_system() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| os_release_name(&text))
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

fn os_release_name(text: &str) -> Option<String> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(|value| value.trim().trim_matches('"').to_string())
    };
    let id = field("ID")?;
    Some(match field("VERSION_ID") {
        Some(version) => format!("{id}-{version}"),
        None => id,
    })
}

#[cfg(test)]
mod tests {
    use super::os_release_name;

    #[test]
    fn the_operating_system_is_id_and_version() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(os_release_name(text).as_deref(), Some("debian-12"));
        assert_eq!(os_release_name("ID=arch\n").as_deref(), Some("arch"));
        assert_eq!(os_release_name("NAME=x\n"), None);
    }
}
