//! The licensing slice's types and its one rule ([`access`]), apart from its server functions so
//! that the slices the rule guards (maintenance mode among them, whose guard the License page's
//! own server functions call) can stand on them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use service_ping_protocol::edition::{Edition, Plan};

/// The installed license as entitlement sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseState {
    None,
    InForce(Plan),
    Expired(NaiveDate),
    NotStarted(NaiveDate),
    /// Stored, but no longer verifies (e.g. the configured vendor key changed).
    Invalid(String),
}

/// Everything access to a paid feature depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementInputs {
    pub license: LicenseState,
    /// Service Ping as in force (a configuration lock included).
    pub service_ping_enabled: bool,
    /// The administrator's stored "Enable Registration Features" choice.
    pub registration_features_enabled: bool,
}

/// Whether the paid features are open, and why (or why not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    Licensed(Plan),
    RegistrationFeatures,
    /// Closed; the text says what unlocks it.
    Locked(String),
}

impl Access {
    pub fn is_open(&self) -> bool {
        !matches!(self, Access::Locked(_))
    }
}

const UNLOCK_WITH_LICENSE: &str = "or upload a Premium or Ultimate license";

/// The entitlement rule.
pub fn access(inputs: &EntitlementInputs) -> Access {
    let license_note = match &inputs.license {
        LicenseState::InForce(plan) => return Access::Licensed(*plan),
        LicenseState::None => String::new(),
        LicenseState::Expired(on) => format!("The license expired on {on}. "),
        LicenseState::NotStarted(on) => format!("The license starts on {on}. "),
        LicenseState::Invalid(reason) => format!("The installed license is not valid: {reason} "),
    };
    if !inputs.service_ping_enabled {
        return Access::Locked(format!(
            "{license_note}Registration Features need Service Ping, which is off: turn on Service Ping and then Registration Features on the Usage statistics page, {UNLOCK_WITH_LICENSE}."
        ));
    }
    if !inputs.registration_features_enabled {
        return Access::Locked(format!(
            "{license_note}Turn on \"Enable Registration Features\" on the Usage statistics page, {UNLOCK_WITH_LICENSE}."
        ));
    }
    Access::RegistrationFeatures
}

/// The edition a license state makes: only a license in force makes a paid edition.
pub fn edition(license: &LicenseState) -> Edition {
    match license {
        LicenseState::InForce(plan) => plan.edition(),
        _ => Edition::EeFree,
    }
}

/// The paid features behind the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Feature {
    Announcements,
    MaintenanceMode,
    PasswordComplexity,
    UserPermissionsExport,
    DevopsAdoption,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::Announcements,
        Feature::MaintenanceMode,
        Feature::PasswordComplexity,
        Feature::UserPermissionsExport,
        Feature::DevopsAdoption,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Feature::Announcements => "Announcements and email to users",
            Feature::MaintenanceMode => "Maintenance mode",
            Feature::PasswordComplexity => "Password complexity rules",
            Feature::UserPermissionsExport => "Users and permissions report",
            Feature::DevopsAdoption => "DevOps Adoption",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Feature::Announcements => {
                "Show a banner to everyone who signs in, and email every user of the platform."
            }
            Feature::MaintenanceMode => {
                "Make the instance read-only while you upgrade or move it: every write is refused with a message, and a banner says so."
            }
            Feature::PasswordComplexity => {
                "Require a minimum length and character classes, and refuse commonly breached passwords, wherever a password is set."
            }
            Feature::UserPermissionsExport => {
                "Download a CSV of every user with their role in each group and project."
            }
            Feature::DevopsAdoption => {
                "See which of the ten DevOps features each group used last month, and how adoption changes over time."
            }
        }
    }

    /// The sidebar's short name.
    pub fn nav_label(self) -> &'static str {
        match self {
            Feature::Announcements => "Announcements",
            Feature::MaintenanceMode => "Maintenance mode",
            Feature::PasswordComplexity => "Password rules",
            Feature::UserPermissionsExport => "Users and permissions",
            Feature::DevopsAdoption => "DevOps Adoption",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Feature::Announcements => "/admin/broadcast_messages",
            Feature::MaintenanceMode => "/admin/maintenance_mode",
            Feature::PasswordComplexity => "/admin/password_rules",
            Feature::UserPermissionsExport => "/admin/user_permissions",
            Feature::DevopsAdoption => "/admin/devops_adoption",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Every combination of license state × Service Ping × the toggle, with the exact outcome.
    #[test]
    fn the_entitlement_matrix() {
        let states = [
            LicenseState::None,
            LicenseState::InForce(Plan::Premium),
            LicenseState::InForce(Plan::Ultimate),
            LicenseState::Expired(day("2026-01-01")),
            LicenseState::NotStarted(day("2027-01-01")),
            LicenseState::Invalid("bad signature".into()),
        ];
        for license in states {
            for service_ping_enabled in [false, true] {
                for registration_features_enabled in [false, true] {
                    let inputs = EntitlementInputs {
                        license: license.clone(),
                        service_ping_enabled,
                        registration_features_enabled,
                    };
                    let got = access(&inputs);
                    let expected_open = match license {
                        LicenseState::InForce(_) => true,
                        _ => service_ping_enabled && registration_features_enabled,
                    };
                    assert_eq!(got.is_open(), expected_open, "{inputs:?} → {got:?}");
                    match (&license, &got) {
                        (LicenseState::InForce(plan), Access::Licensed(granted)) => {
                            assert_eq!(plan, granted)
                        }
                        (LicenseState::InForce(_), other) => panic!("{other:?}"),
                        (_, Access::Licensed(_)) => panic!("{inputs:?} licensed"),
                        _ => {}
                    }
                    let expected_edition = match license {
                        LicenseState::InForce(Plan::Premium) => "EEP",
                        LicenseState::InForce(Plan::Ultimate) => "EEU",
                        _ => "EE Free",
                    };
                    assert_eq!(edition(&inputs.license).as_str(), expected_edition);
                }
            }
        }
    }

    #[test]
    fn a_locked_feature_says_what_unlocks_it() {
        let locked = |license, sp, rf| match access(&EntitlementInputs {
            license,
            service_ping_enabled: sp,
            registration_features_enabled: rf,
        }) {
            Access::Locked(reason) => reason,
            other => panic!("{other:?}"),
        };
        let sp_off = locked(LicenseState::None, false, true);
        assert!(sp_off.contains("Service Ping, which is off"), "{sp_off}");
        assert!(sp_off.contains("Premium or Ultimate license"));
        let toggle_off = locked(LicenseState::None, true, false);
        assert!(
            toggle_off.contains("Enable Registration Features"),
            "{toggle_off}"
        );
        let expired = locked(LicenseState::Expired(day("2026-01-01")), true, false);
        assert!(
            expired.starts_with("The license expired on 2026-01-01."),
            "{expired}"
        );
    }
}
