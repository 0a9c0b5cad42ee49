//! Instance-wide settings: what the administrator chose in the dashboard, overridden by what the
//! operator locked in the configuration file or environment.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod db;

/// A boolean setting as the dashboard shows it: its value in force and, when the operator fixed
/// it in configuration, why the control is locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toggle {
    pub enabled: bool,
    pub locked_reason: Option<String>,
}

#[cfg(feature = "ssr")]
impl Toggle {
    /// The stored choice, unless a lock decides.
    pub fn resolve(stored: bool, lock: Option<&crate::server::config::Lock>) -> Self {
        match lock {
            Some(lock) => Toggle {
                enabled: lock.value,
                locked_reason: Some(lock.reason.clone()),
            },
            None => Toggle {
                enabled: stored,
                locked_reason: None,
            },
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::server::config::Lock;

    #[test]
    fn a_lock_overrides_the_stored_choice_and_carries_its_reason() {
        let lock = Lock {
            value: false,
            reason: "DO_NOT_TRACK is set in the environment".into(),
        };
        assert_eq!(
            Toggle::resolve(true, Some(&lock)),
            Toggle {
                enabled: false,
                locked_reason: Some(lock.reason.clone())
            }
        );
        assert_eq!(
            Toggle::resolve(true, None),
            Toggle {
                enabled: true,
                locked_reason: None
            }
        );
    }
}
