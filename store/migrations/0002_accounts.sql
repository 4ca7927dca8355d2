-- Accounts: password history, TOTP second factor, session states and revocation reasons, and the
-- shared rate-limit counters. PostgreSQL 12 compatible (KingbaseES V8R6).

-- users.totp_secret (from 0001) holds the AES-GCM-sealed TOTP secret (see package auth). It is
-- in use once totp_enrolled_at is set; before that it is an enrollment waiting for its first
-- code. totp_last_step is the last time step (unix time / 30 s) whose code was accepted, so a
-- code is good once only.
ALTER TABLE users ADD COLUMN totp_enrolled_at timestamptz;
ALTER TABLE users ADD COLUMN totp_last_step bigint;

-- The hashes of the passwords a user has had, newest first by id; the current one included.
-- Kept to the configured history length (INFOWORK_PASSWORD_HISTORY).
CREATE TABLE password_history (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_history_user ON password_history (user_id, id DESC);

-- A session is 'active', or 'mfa_pending' between a correct password and a correct second
-- factor (it can then only submit the code).
ALTER TABLE sessions ADD COLUMN state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'mfa_pending'));
ALTER TABLE sessions ADD COLUMN revoke_reason text NOT NULL DEFAULT '';

-- Fixed-window counters shared by every web replica: one row per key and window, bumped with
-- INSERT … ON CONFLICT DO UPDATE … RETURNING. Not user data: old windows are deleted
-- periodically (package ratelimit).
CREATE TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
