//! License documents: what the vendor signs, how an instance verifies it.
//!
//! A license file is one line of base64 over a small JSON envelope
//! `{"format": "service-ping-license/1", "claims": "<base64 of the claims JSON>",
//! "signature": "<base64 Ed25519 signature over those claims bytes>"}`. The signature covers
//! the exact claims bytes, so changing any claim (or the plan, or a date) breaks it; the
//! instance needs only the vendor's public key (`licensing.public_key`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::edition::Plan;

const FORMAT: &str = "service-ping-license/1";
/// Licenses larger than this are refused before any decoding.
pub const MAX_LICENSE_BYTES: usize = 16 * 1024;

/// What a license grants and to whom, as the vendor signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The vendor's license number: the payload's `license_id`.
    pub id: u64,
    pub plan: Plan,
    /// Seats: the payload's `license_user_count`.
    pub seats: u32,
    pub licensee: Licensee,
    pub starts_at: NaiveDate,
    pub expires_at: NaiveDate,
    pub trial: bool,
    pub issued_at: DateTime<Utc>,
}

/// The person and company a license was issued to. Personal data: shown to administrators,
/// sent in a payload only through the declared `licensee.*` metrics (optional category).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Licensee {
    pub name: String,
    pub email: String,
    pub company: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    claims: String,
    signature: String,
}

/// Why a license file was refused. Every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error("This is not a license file: {0}.")]
    Malformed(String),
    #[error(
        "The license signature is not valid: the file was changed after it was issued, or it was issued by another vendor."
    )]
    BadSignature,
    #[error("The license expired on {0}. Upload a current license.")]
    Expired(NaiveDate),
    #[error("The license starts on {0}; it cannot be used before then.")]
    NotStarted(NaiveDate),
    #[error(
        "No vendor public key is configured (licensing.public_key), so licenses cannot be verified."
    )]
    NoPublicKey,
}

/// A license whose signature was verified. Holds the exact file text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLicense {
    pub claims: Claims,
    pub text: String,
}

impl VerifiedLicense {
    /// GitLab's `license_md5`: of the license file as uploaded (surrounding whitespace removed).
    pub fn md5(&self) -> String {
        hex::encode(Md5::digest(self.text.as_bytes()))
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.text.as_bytes()))
    }

    /// Whether the license is in force on `today`: started and not expired.
    pub fn validity(&self, today: NaiveDate) -> Result<(), LicenseError> {
        if today < self.claims.starts_at {
            return Err(LicenseError::NotStarted(self.claims.starts_at));
        }
        if today >= self.claims.expires_at {
            return Err(LicenseError::Expired(self.claims.expires_at));
        }
        Ok(())
    }
}

/// Signs `claims` into a license file's text.
pub fn issue(claims: &Claims, key: &SigningKey) -> String {
    let claims_bytes = serde_json::to_vec(claims).expect("claims serialize");
    let signature = key.sign(&claims_bytes);
    let envelope = Envelope {
        format: FORMAT.into(),
        claims: BASE64.encode(&claims_bytes),
        signature: BASE64.encode(signature.to_bytes()),
    };
    BASE64.encode(serde_json::to_vec(&envelope).expect("envelope serializes"))
}

/// Checks a license file's form and signature (not its dates: see [`VerifiedLicense::validity`]).
pub fn verify(text: &str, vendor: &VerifyingKey) -> Result<VerifiedLicense, LicenseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(LicenseError::Malformed("the file is empty".into()));
    }
    if text.len() > MAX_LICENSE_BYTES {
        return Err(LicenseError::Malformed(format!(
            "it is larger than {} KB",
            MAX_LICENSE_BYTES / 1024
        )));
    }
    let envelope_bytes = BASE64
        .decode(text)
        .map_err(|_| LicenseError::Malformed("it is not base64 text".into()))?;
    let envelope: Envelope = serde_json::from_slice(&envelope_bytes)
        .map_err(|_| LicenseError::Malformed("its envelope is not readable".into()))?;
    if envelope.format != FORMAT {
        return Err(LicenseError::Malformed(format!(
            "unknown format `{}`",
            envelope.format
        )));
    }
    let claims_bytes = BASE64
        .decode(&envelope.claims)
        .map_err(|_| LicenseError::Malformed("its claims are not base64".into()))?;
    let signature_bytes: [u8; 64] = BASE64
        .decode(&envelope.signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(LicenseError::BadSignature)?;
    vendor
        .verify(&claims_bytes, &Signature::from_bytes(&signature_bytes))
        .map_err(|_| LicenseError::BadSignature)?;
    let claims: Claims = serde_json::from_slice(&claims_bytes)
        .map_err(|e| LicenseError::Malformed(format!("its claims are not readable ({e})")))?;
    Ok(VerifiedLicense {
        claims,
        text: text.to_string(),
    })
}

/// A vendor public key from its base64 text (32 bytes).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = BASE64
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("must be the base64 of a 32-byte Ed25519 public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("is not an Ed25519 public key: {e}"))
}

/// A vendor signing key from its base64 text (32 bytes).
pub fn parse_signing_key(text: &str) -> Result<SigningKey, String> {
    let bytes: [u8; 32] = BASE64
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("must be the base64 of a 32-byte Ed25519 secret key")?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A new random signing key.
pub fn generate_signing_key() -> SigningKey {
    let mut secret = [0u8; 32];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut secret);
    SigningKey::from_bytes(&secret)
}

pub fn encode_key(bytes: &[u8; 32]) -> String {
    BASE64.encode(bytes)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn claims(plan: Plan, starts: &str, expires: &str) -> Claims {
        Claims {
            id: 4711,
            plan,
            seats: 250,
            licensee: Licensee {
                name: "Ada Vendorcustomer".into(),
                email: "ada@customer.example".into(),
                company: "Customer Ltd".into(),
            },
            starts_at: starts.parse().unwrap(),
            expires_at: expires.parse().unwrap(),
            trial: false,
            issued_at: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn an_issued_license_verifies_with_the_vendor_key_and_keeps_its_claims() {
        let claims = claims(Plan::Ultimate, "2026-01-01", "2027-01-01");
        let text = issue(&claims, &key(7));
        let license = verify(&format!("\n{text}\n"), &key(7).verifying_key()).unwrap();
        assert_eq!(license.claims, claims);
        assert_eq!(license.text, text);
        assert_eq!(license.sha256().len(), 64);
        assert_eq!(license.md5().len(), 32);
    }

    #[test]
    fn another_vendors_license_is_refused() {
        let text = issue(&claims(Plan::Premium, "2026-01-01", "2027-01-01"), &key(1));
        assert_eq!(
            verify(&text, &key(2).verifying_key()),
            Err(LicenseError::BadSignature)
        );
    }

    #[test]
    fn a_changed_claim_breaks_the_signature() {
        let text = issue(&claims(Plan::Premium, "2026-01-01", "2027-01-01"), &key(3));
        let mut envelope: serde_json::Value =
            serde_json::from_slice(&BASE64.decode(&text).unwrap()).unwrap();
        let claims_text =
            String::from_utf8(BASE64.decode(envelope["claims"].as_str().unwrap()).unwrap())
                .unwrap();
        let upgraded = claims_text.replace("\"premium\"", "\"ultimate\"");
        assert_ne!(upgraded, claims_text);
        envelope["claims"] = BASE64.encode(upgraded).into();
        let tampered = BASE64.encode(serde_json::to_vec(&envelope).unwrap());
        assert_eq!(
            verify(&tampered, &key(3).verifying_key()),
            Err(LicenseError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let vendor = key(4).verifying_key();
        for (text, expected) in [
            ("", "empty"),
            ("not base64 !!", "base64"),
            (&BASE64.encode("{\"a\":1}"), "envelope"),
        ] {
            match verify(text, &vendor) {
                Err(LicenseError::Malformed(reason)) => {
                    assert!(reason.contains(expected), "{reason}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let huge = "A".repeat(MAX_LICENSE_BYTES + 1);
        assert!(matches!(
            verify(&huge, &vendor),
            Err(LicenseError::Malformed(_))
        ));
    }

    #[test]
    fn validity_runs_from_the_start_day_to_the_day_before_expiry() {
        let text = issue(&claims(Plan::Premium, "2026-03-01", "2026-06-01"), &key(5));
        let license = verify(&text, &key(5).verifying_key()).unwrap();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        assert_eq!(
            license.validity(day("2026-02-28")),
            Err(LicenseError::NotStarted(day("2026-03-01")))
        );
        assert_eq!(license.validity(day("2026-03-01")), Ok(()));
        assert_eq!(license.validity(day("2026-05-31")), Ok(()));
        assert_eq!(
            license.validity(day("2026-06-01")),
            Err(LicenseError::Expired(day("2026-06-01")))
        );
    }

    #[test]
    fn keys_round_trip_through_their_text() {
        let key = generate_signing_key();
        let public = encode_key(&key.verifying_key().to_bytes());
        assert_eq!(parse_public_key(&public).unwrap(), key.verifying_key());
        let secret = encode_key(&key.to_bytes());
        assert_eq!(
            parse_signing_key(&secret).unwrap().to_bytes(),
            key.to_bytes()
        );
        assert!(parse_public_key("short").is_err());
    }
}
