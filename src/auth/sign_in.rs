//! Signing in, throttling failed attempts, and creating accounts. Plain functions over the
//! pool; the server functions in `mod.rs` are thin adapters over these.

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::db::{self, AccountRecord, NewAccount};
use super::password;
use crate::auth::password_policy::PasswordPolicy;
use crate::config::{Settings, SignInSettings};
use crate::db::Db;
use crate::error::AppError;

/// GitLab's wording: it does not say which half was wrong.
pub const INVALID_CREDENTIALS: &str = "Invalid login or password.";

/// Checks a login (username or email) and password, honouring the throttle. An attempt is
/// counted against the account (its username and email are one account; a login that names no
/// account is counted under that login) and the client address *before* the password is checked,
/// so parallel attempts cannot get more guesses than the limit; a successful one takes its
/// count back. Refusals are the client's doing (a wrong password, the throttle), so they are
/// logged as warnings, not errors.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn authenticate(
    db: &Db,
    limits: &SignInSettings,
    login: &str,
    password_attempt: SecretString,
    address: &str,
    now: DateTime<Utc>,
) -> Result<AccountRecord, AppError> {
    let login = login.trim();
    if login.is_empty() || password_attempt.expose_secret().is_empty() {
        return Err(AppError::Validation(
            "Enter your username or email and your password.".into(),
        ));
    }
    let account = db::find_by_login(db, login).await?;
    let account_subject = match &account {
        Some(account) => format!("account:{}", account.id),
        None => format!("login:{}", login.to_lowercase()),
    };
    let address_subject = format!("address:{address}");
    let subjects = [
        (account_subject.as_str(), limits.max_failures_per_account),
        (address_subject.as_str(), limits.max_failures_per_address),
    ];
    let reserved = reserve(db, limits, &subjects, now).await?;
    let stored_hash = account.as_ref().map(|a| a.password_hash.clone());
    let matches = password::verify(password_attempt, stored_hash).await?;
    match account {
        Some(account) if matches && account.is_active() => {
            db::release_attempt(db, &reserved).await?;
            db::clear_failures(db, &account_subject, now - window(limits)).await?;
            db::record_sign_in(db, account.id, now).await?;
            Ok(account)
        }
        _ => Err(AppError::Validation(INVALID_CREDENTIALS.into())),
    }
}

/// Checks a signed-in account's current password (before it is changed), counted against the
/// account like a sign-in, so a borrowed session cannot be used to guess it.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn confirm_password(
    db: &Db,
    limits: &SignInSettings,
    account: &AccountRecord,
    password_attempt: SecretString,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let subject = format!("account:{}", account.id);
    let subjects = [(subject.as_str(), limits.max_failures_per_account)];
    let reserved = reserve(db, limits, &subjects, now).await?;
    if !password::verify(password_attempt, Some(account.password_hash.clone())).await? {
        return Err(AppError::Validation(
            "The current password is not correct.".into(),
        ));
    }
    db::release_attempt(db, &reserved).await?;
    Ok(())
}

/// The throttle's window.
fn window(limits: &SignInSettings) -> Duration {
    Duration::minutes(i64::from(limits.window_minutes))
}

/// Counts an attempt against each `(subject, limit)` before a password is checked; the ids to
/// take back if it succeeds, or the refusal while a subject is at its limit.
async fn reserve(
    db: &Db,
    limits: &SignInSettings,
    subjects: &[(&str, u32)],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, AppError> {
    let window = window(limits);
    match db::reserve_attempt(db, subjects, now - window, now).await? {
        db::Reservation::Reserved(ids) => Ok(ids),
        db::Reservation::Throttled { oldest } => Err(throttled(oldest, window, now)),
    }
}

/// The refusal while a subject is at its limit: when its oldest failure leaves the window.
fn throttled(oldest: Option<DateTime<Utc>>, window: Duration, now: DateTime<Utc>) -> AppError {
    let frees_at = oldest.unwrap_or(now) + window;
    let minutes = ((frees_at - now).num_seconds() + 59).div_euclid(60).max(1);
    AppError::TooManyRequests(format!(
        "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    ))
}

/// Input for [`create_account`], checked before anything is stored.
pub struct AccountRequest {
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub password: SecretString,
    pub is_admin: bool,
}

impl AccountRequest {
    fn validate(&self, policy: &PasswordPolicy) -> Result<(), AppError> {
        let username_ok = !self.username.is_empty()
            && self.username.len() <= 64
            && self
                .username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !username_ok {
            return Err(AppError::Validation(
                "Username must be 1–64 characters of letters, digits, '_', '-' or '.'.".into(),
            ));
        }
        let email_ok = self.email.len() <= 254
            && self
                .email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !email_ok {
            return Err(AppError::Validation(format!(
                "'{}' is not a valid email address.",
                self.email
            )));
        }
        let name = self.name.as_deref().unwrap_or(&self.username);
        crate::auth::password_policy::check(
            policy,
            self.password.expose_secret(),
            &[&self.username, &self.email, name],
        )
        .map_err(AppError::Validation)
    }
}

/// Creates an account after validating it against the password rules in force; a taken
/// username or email is a conflict.
#[tracing::instrument(skip_all, err)]
pub async fn create_account(
    db: &Db,
    request: AccountRequest,
    policy: &PasswordPolicy,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    request.validate(policy)?;
    let password_hash = password::hash(request.password).await?;
    let name = request.name.as_deref().unwrap_or(&request.username);
    let new = NewAccount {
        username: &request.username,
        email: &request.email,
        name,
        password_hash: &password_hash,
        is_admin: request.is_admin,
    };
    db::insert(db, new, now)
        .await?
        .ok_or_else(|| AppError::Conflict("That username or email is already taken.".into()))
}

/// On a first start with no administrator, creates `root` with a random password and writes the
/// password to `<data-dir>/initial_root_password` (mode 0600), as GitLab does. Returns the path
/// when it did so. The password itself is never logged.
#[tracing::instrument(skip_all, err)]
pub async fn ensure_initial_root(
    db: &Db,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Option<std::path::PathBuf>, AppError> {
    if db::any_admin_exists(db).await? {
        return Ok(None);
    }
    let password = password::generate();
    let path = settings.initial_root_password_path();
    write_private_file(&path, &initial_password_text(&password)).await?;
    let request = AccountRequest {
        username: "root".into(),
        email: "admin@example.com".into(),
        name: Some("Administrator".into()),
        password,
        is_admin: true,
    };
    create_account(db, request, &PasswordPolicy::basic(), now).await?;
    Ok(Some(path))
}

fn initial_password_text(password: &SecretString) -> String {
    format!(
        "# The password of the administrator `root`, generated on first start.\n\
         # Sign in at /users/sign_in, then delete this file.\n\
         Password: {}\n",
        password.expose_secret()
    )
}

/// Writes `contents` to a new file only its owner can read. Whatever was at the path (an old
/// file with a wider mode, or a symbolic link pointing elsewhere) is removed first, not written
/// through: the file is created exclusively, so its mode is 0600 and nothing else receives the
/// secret.
async fn write_private_file(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = path.to_owned();
    let contents = contents.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                anyhow::bail!("replacing {}: {e}", path.display())
            }
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        file.write_all(contents.as_bytes())?;
        Ok(())
    })
    .await?
}

/// Reads the password back from a file written by [`ensure_initial_root`].
pub fn parse_initial_password(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|line| line.strip_prefix("Password: "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SignInSettings {
        SignInSettings {
            max_failures_per_account: 3,
            max_failures_per_address: 5,
            window_minutes: 15,
        }
    }

    async fn account(db: &Db, username: &str, password: &str) {
        let request = AccountRequest {
            username: username.into(),
            email: format!("{username}@example.com"),
            name: None,
            password: SecretString::from(password),
            is_admin: true,
        };
        create_account(db, request, &PasswordPolicy::basic(), Utc::now())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sign_in_accepts_username_or_email_and_rejects_a_wrong_password() {
        let (db, _dir) = crate::db::test_database().await;
        account(&db, "ada", "analytical-engine").await;
        let now = Utc::now();
        let by_name = authenticate(
            &db,
            &limits(),
            "ada",
            "analytical-engine".into(),
            "127.0.0.1",
            now,
        )
        .await;
        assert_eq!(by_name.unwrap().username, "ada");
        let by_email = authenticate(
            &db,
            &limits(),
            "ADA@example.com",
            "analytical-engine".into(),
            "127.0.0.1",
            now,
        )
        .await;
        assert!(by_email.is_ok());
        let wrong = authenticate(
            &db,
            &limits(),
            "ada",
            "difference-engine".into(),
            "127.0.0.1",
            now,
        )
        .await;
        assert_eq!(wrong.unwrap_err().to_string(), INVALID_CREDENTIALS);
    }

    #[tokio::test]
    async fn repeated_failures_lock_the_account_for_the_window_even_with_the_right_password() {
        let (db, _dir) = crate::db::test_database().await;
        account(&db, "grace", "compiler-cobol").await;
        let start = Utc::now();
        for _ in 0..3 {
            let _ = authenticate(
                &db,
                &limits(),
                "grace",
                "nope-nope-nope".into(),
                "10.0.0.1",
                start,
            )
            .await;
        }
        let locked = authenticate(
            &db,
            &limits(),
            "grace",
            "compiler-cobol".into(),
            "10.0.0.2",
            start,
        )
        .await;
        assert_eq!(
            locked.unwrap_err().to_string(),
            "Too many failed sign-in attempts. Try again in 15 minutes."
        );
        let later = start + Duration::minutes(16);
        assert!(
            authenticate(
                &db,
                &limits(),
                "grace",
                "compiler-cobol".into(),
                "10.0.0.2",
                later
            )
            .await
            .is_ok()
        );
    }

    #[tokio::test]
    async fn failures_from_one_address_lock_that_address_across_accounts() {
        let (db, _dir) = crate::db::test_database().await;
        account(&db, "linus", "kernel-hacker").await;
        let now = Utc::now();
        for i in 0..5 {
            let _ = authenticate(
                &db,
                &limits(),
                &format!("ghost{i}"),
                "whatever-pw".into(),
                "10.9.9.9",
                now,
            )
            .await;
        }
        let from_same = authenticate(
            &db,
            &limits(),
            "linus",
            "kernel-hacker".into(),
            "10.9.9.9",
            now,
        )
        .await;
        assert!(matches!(from_same, Err(AppError::TooManyRequests(_))));
        let from_other = authenticate(
            &db,
            &limits(),
            "linus",
            "kernel-hacker".into(),
            "10.1.1.1",
            now,
        )
        .await;
        assert!(from_other.is_ok());
    }

    #[tokio::test]
    async fn account_validation_names_what_is_wrong_and_stores_nothing() {
        let (db, _dir) = crate::db::test_database().await;
        let bad = AccountRequest {
            username: "has space".into(),
            email: "x@example.com".into(),
            name: None,
            password: SecretString::from("long-enough-password"),
            is_admin: false,
        };
        assert!(
            create_account(&db, bad, &PasswordPolicy::basic(), Utc::now())
                .await
                .unwrap_err()
                .to_string()
                .contains("Username")
        );
        let short = AccountRequest {
            username: "ok".into(),
            email: "x@example.com".into(),
            name: None,
            password: SecretString::from("short"),
            is_admin: false,
        };
        assert!(
            create_account(&db, short, &PasswordPolicy::basic(), Utc::now())
                .await
                .unwrap_err()
                .to_string()
                .contains("at least 12")
        );
        assert!(db::find_by_login(&db, "ok").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_taken_username_is_a_conflict() {
        let (db, _dir) = crate::db::test_database().await;
        account(&db, "twin", "first-password-x").await;
        let again = AccountRequest {
            username: "TWIN".into(),
            email: "other@example.com".into(),
            name: None,
            password: SecretString::from("second-password-x"),
            is_admin: false,
        };
        assert!(matches!(
            create_account(&db, again, &PasswordPolicy::basic(), Utc::now()).await,
            Err(AppError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn first_start_creates_root_with_a_private_password_file_once() {
        let (db, _dir) = crate::db::test_database().await;
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_owned(),
            ..Settings::default()
        };
        let path = ensure_initial_root(&db, &settings, Utc::now())
            .await
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let password = parse_initial_password(&text).unwrap().to_string();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let root = authenticate(
            &db,
            &limits(),
            "root",
            SecretString::from(password),
            "127.0.0.1",
            Utc::now(),
        )
        .await;
        assert!(root.unwrap().is_admin);
        assert!(
            ensure_initial_root(&db, &settings, Utc::now())
                .await
                .unwrap()
                .is_none()
        );
    }
}
