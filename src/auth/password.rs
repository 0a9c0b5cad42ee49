//! Argon2id password hashing. Hashing is deliberately slow, so it runs on the blocking pool,
//! and at most as many at once as there are cores: each run takes about 19 MiB, and more at once
//! would only queue on the CPU while holding their memory.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use rand::distributions::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};

/// A PHC-format argon2id hash of a valid password, used to spend the same time verifying a
/// login that matches no account, so response times do not reveal which logins exist.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VydmljZXBpbmdkZWNveQ$0pTXbCv1zYKhUUvTd+fBDl8nN3vprtA/xNb9IaZ6Q4M";

/// The permits for hashing at once: one per core. A process-wide bound, like the CPU it guards.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores)
});

/// Hashes a password with argon2id and a random salt.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    let _permit = HASHING.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// True when `password` matches `stored` (a PHC string). `None` verifies against a decoy
/// and returns false.
pub async fn verify(password: SecretString, stored: Option<String>) -> anyhow::Result<bool> {
    let _permit = HASHING.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY_HASH.to_string());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await?
}

/// A random password for generated accounts: 24 alphanumeric characters (≈143 bits).
pub fn generate() -> SecretString {
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    SecretString::from(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let stored = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify(SecretString::from("correct horse"), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(SecretString::from("wrong horse"), Some(stored))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies_even_with_the_decoy_password() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify(SecretString::from("anything"), None).await.unwrap());
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.expose_secret().len(), 24);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
