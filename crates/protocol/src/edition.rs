//! Plans and editions, in GitLab's vocabulary: what a license grants and what the payload's
//! `edition` reports. Shared by the instance (and its browser bundle) and the vendor's collector.

use serde::{Deserialize, Serialize};

/// A paid plan a license grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Premium,
    Ultimate,
}

impl Plan {
    pub fn title(self) -> &'static str {
        match self {
            Plan::Premium => "Premium",
            Plan::Ultimate => "Ultimate",
        }
    }

    /// The payload's `license_plan`.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Premium => "premium",
            Plan::Ultimate => "ultimate",
        }
    }

    pub fn edition(self) -> Edition {
        match self {
            Plan::Premium => Edition::Premium,
            Plan::Ultimate => Edition::Ultimate,
        }
    }
}

impl std::str::FromStr for Plan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "premium" => Ok(Plan::Premium),
            "ultimate" => Ok(Plan::Ultimate),
            other => Err(format!(
                "unknown plan `{other}`: expected premium or ultimate"
            )),
        }
    }
}

/// Edition in GitLab's vocabulary, as the payload's `edition` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Edition {
    #[serde(rename = "EE Free")]
    EeFree,
    #[serde(rename = "EEP")]
    Premium,
    #[serde(rename = "EEU")]
    Ultimate,
}

impl Edition {
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::EeFree => "EE Free",
            Edition::Premium => "EEP",
            Edition::Ultimate => "EEU",
        }
    }
}
