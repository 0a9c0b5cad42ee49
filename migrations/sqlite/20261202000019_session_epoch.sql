-- A password change moves the account's session epoch on; sessions signed in under an older
-- epoch are over (every other browser is signed out).
ALTER TABLE accounts ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
