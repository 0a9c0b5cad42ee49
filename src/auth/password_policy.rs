//! The rules a new password must meet, and the check every password set through the product
//! passes. Which rules are in force (the basic length, or the administrator's rules while the
//! Password rules feature is open) is the `password_rules` slice's decision; the rules themselves
//! sit here, below every slice that sets a password.
//!
//! "Breached" means the whole password (ignoring case) is in zxcvbn's list of the 30 000 most
//! common passwords from public breaches, shipped inside the `zxcvbn` crate: no network needed.

use serde::{Deserialize, Serialize};

/// The longest minimum an administrator may require.
pub const MAX_MINIMUM_LENGTH: u32 = 128;

/// What a new password must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PasswordPolicy {
    // Stored as a 64-bit integer on both backends (PostgreSQL has no unsigned type).
    #[cfg_attr(feature = "ssr", sqlx(try_from = "i64"))]
    pub minimum_length: u32,
    #[serde(deserialize_with = "crate::checkbox::deserialize")]
    pub require_lowercase: bool,
    #[serde(deserialize_with = "crate::checkbox::deserialize")]
    pub require_uppercase: bool,
    #[serde(deserialize_with = "crate::checkbox::deserialize")]
    pub require_number: bool,
    #[serde(deserialize_with = "crate::checkbox::deserialize")]
    pub require_symbol: bool,
    #[serde(deserialize_with = "crate::checkbox::deserialize")]
    pub reject_breached: bool,
}

impl PasswordPolicy {
    /// The rule without the paid feature: length only.
    pub fn basic() -> Self {
        PasswordPolicy {
            minimum_length: BASIC_MINIMUM_LENGTH,
            require_lowercase: false,
            require_uppercase: false,
            require_number: false,
            require_symbol: false,
            reject_breached: false,
        }
    }

    /// The rules in words, for forms.
    pub fn describe(&self) -> Vec<String> {
        let mut rules = vec![format!("at least {} characters", self.minimum_length)];
        let classes = [
            (self.require_lowercase, "a lowercase letter"),
            (self.require_uppercase, "an uppercase letter"),
            (self.require_number, "a number"),
            (self.require_symbol, "a symbol"),
        ];
        rules.extend(
            classes
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, what)| (*what).to_string()),
        );
        if self.reject_breached {
            rules.push("not a commonly breached password".into());
        }
        rules
    }
}

/// The minimum length of every password, with or without the feature.
pub const BASIC_MINIMUM_LENGTH: u32 = 12;

#[cfg(feature = "ssr")]
pub fn check(policy: &PasswordPolicy, password: &str, personal: &[&str]) -> Result<(), String> {
    let mut broken = Vec::new();
    if password.chars().count() < policy.minimum_length as usize {
        broken.push(format!("at least {} characters", policy.minimum_length));
    }
    type Class = (bool, fn(char) -> bool, &'static str);
    let classes: [Class; 4] = [
        (
            policy.require_lowercase,
            |c| c.is_lowercase(),
            "a lowercase letter",
        ),
        (
            policy.require_uppercase,
            |c| c.is_uppercase(),
            "an uppercase letter",
        ),
        (policy.require_number, |c| c.is_numeric(), "a number"),
        (
            policy.require_symbol,
            |c| !c.is_alphanumeric() && !c.is_whitespace(),
            "a symbol",
        ),
    ];
    for (required, present, what) in classes {
        if required && !password.chars().any(present) {
            broken.push(what.to_string());
        }
    }
    if policy.reject_breached && is_breached(password, personal) {
        broken.push("not a commonly breached or personal password".into());
    }
    match broken.as_slice() {
        [] => Ok(()),
        _ => Err(format!("The password must have {}.", broken.join(", "))),
    }
}

/// Whether the whole password is a common breached password or one of the person's own details.
#[cfg(feature = "ssr")]
fn is_breached(password: &str, personal: &[&str]) -> bool {
    use zxcvbn::matching::patterns::MatchPattern;
    let lowered = password.to_lowercase();
    if personal.iter().any(|p| p.to_lowercase() == lowered) {
        return true;
    }
    let entropy = zxcvbn::zxcvbn(&lowered, &[]);
    // zxcvbn does not export its dictionary type, only its Debug name.
    match entropy.sequence() {
        [only] => matches!(
            &only.pattern,
            MatchPattern::Dictionary(d)
                if format!("{:?}", d.dictionary_name) == "Passwords" && !d.reversed
        ),
        _ => false,
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn strict() -> PasswordPolicy {
        PasswordPolicy {
            minimum_length: 14,
            require_lowercase: true,
            require_uppercase: true,
            require_number: true,
            require_symbol: true,
            reject_breached: true,
        }
    }

    #[test]
    fn a_password_meeting_every_rule_passes() {
        assert_eq!(check(&strict(), "Tangerine-Kite-42x", &[]), Ok(()));
    }

    #[test]
    fn every_broken_rule_is_named() {
        let error = check(&strict(), "short", &[]).unwrap_err();
        assert_eq!(
            error,
            "The password must have at least 14 characters, an uppercase letter, a number, a symbol."
        );
        let error = check(&strict(), "ALLUPPERCASE-1234", &[]).unwrap_err();
        assert_eq!(error, "The password must have a lowercase letter.");
    }

    #[test]
    fn common_breached_passwords_are_refused_whatever_their_case() {
        let policy = PasswordPolicy {
            minimum_length: 8,
            ..PasswordPolicy::basic()
        };
        let breached = PasswordPolicy {
            reject_breached: true,
            ..policy.clone()
        };
        for common in ["password", "Password", "qwertyuiop", "iloveyou", "football"] {
            assert_eq!(check(&policy, common, &[]), Ok(()), "{common}");
            assert!(check(&breached, common, &[]).is_err(), "{common}");
        }
        assert_eq!(check(&breached, "violet-harbour-sextant", &[]), Ok(()));
    }

    #[test]
    fn the_persons_own_details_are_refused() {
        let policy = PasswordPolicy {
            reject_breached: true,
            ..PasswordPolicy::basic()
        };
        assert!(
            check(
                &policy,
                "Ada.Lovelace@example.com",
                &["ada.lovelace@example.com"]
            )
            .is_err()
        );
    }

    #[test]
    fn the_basic_rule_is_length_only() {
        assert_eq!(check(&PasswordPolicy::basic(), "aaaaaaaaaaaa", &[]), Ok(()));
        assert_eq!(
            check(&PasswordPolicy::basic(), "aaaaaaaaaaa", &[]).unwrap_err(),
            "The password must have at least 12 characters."
        );
    }
}
