//! The token a secondary signs its status with: an HS256 JWT (as GitLab's Geo uses JWTs) keyed
//! by the shared `geo.secret`, naming the site (`sub`), issued for the primary's status endpoint
//! (`aud`), living [`VALIDITY_SECONDS`], and carrying the SHA-256 of the exact body it signs, so a
//! captured token cannot carry another status and an old one is refused.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

/// How long a token is accepted after it is issued.
pub const VALIDITY_SECONDS: i64 = 60;
/// Clock difference between the sites tolerated on `iat` and `exp`.
const LEEWAY_SECONDS: u64 = 10;
const AUDIENCE: &str = "service-ping-geo-status";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    body_sha256: String,
}

/// Why a token was refused; the text is what the secondary is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the status is not signed (Authorization: Bearer <token>)")]
    Unsigned,
    #[error("the token's signature does not match the shared secret")]
    BadSignature,
    #[error("the token has expired: the status is stale")]
    Stale,
    #[error("the token is issued in the future: check the sites' clocks")]
    FromTheFuture,
    #[error("the token is not for this endpoint or is malformed")]
    Malformed,
    #[error("the token was signed for another body")]
    OtherBody,
}

/// Signs `body` for `site` at `now`.
pub fn sign(secret: &[u8], site: &str, body: &[u8], now: DateTime<Utc>) -> String {
    let claims = Claims {
        sub: site.to_string(),
        aud: AUDIENCE.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + VALIDITY_SECONDS,
        body_sha256: service_ping_protocol::hash::sha256_hex(body),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 claims always encode")
}

/// The site a valid token for `body` names. Expiry is checked against the system clock (with
/// [`LEEWAY_SECONDS`]); `now` checks that it was not issued in the future.
pub fn verify(
    secret: &[u8],
    token: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    let claims =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => Refusal::BadSignature,
                ErrorKind::ExpiredSignature => Refusal::Stale,
                _ => Refusal::Malformed,
            })?
            .claims;
    if claims.iat > now.timestamp() + LEEWAY_SECONDS as i64 {
        return Err(Refusal::FromTheFuture);
    }
    if claims.exp - claims.iat > VALIDITY_SECONDS {
        return Err(Refusal::Malformed);
    }
    if claims.body_sha256 != service_ping_protocol::hash::sha256_hex(body) {
        return Err(Refusal::OtherBody);
    }
    Ok(claims.sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_fresh_token_for_the_body_names_its_site() {
        let token = sign(SECRET, "site-b", b"{}", Utc::now());
        assert_eq!(
            verify(SECRET, &token, b"{}", Utc::now()),
            Ok("site-b".into())
        );
    }

    #[test]
    fn another_secret_another_body_or_an_old_token_is_refused() {
        let now = Utc::now();
        let token = sign(SECRET, "site-b", b"{}", now);
        let other = b"another secret, just as long as it";
        assert_eq!(
            verify(other, &token, b"{}", now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(verify(SECRET, &token, b"{ }", now), Err(Refusal::OtherBody));
        let old = sign(SECRET, "site-b", b"{}", now - chrono::Duration::minutes(5));
        assert_eq!(verify(SECRET, &old, b"{}", now), Err(Refusal::Stale));
        let future = sign(SECRET, "site-b", b"{}", now + chrono::Duration::minutes(5));
        assert_eq!(
            verify(SECRET, &future, b"{}", now),
            Err(Refusal::FromTheFuture)
        );
        assert_eq!(
            verify(SECRET, "not.a.token", b"{}", now),
            Err(Refusal::Malformed)
        );
    }
}
