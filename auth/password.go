package auth

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"

	"infowork/audit"
)

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the embedded blocklist, lower-cased.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = true
	}
	return m
}()

func isCommonPassword(p string) bool { return commonPasswords[strings.ToLower(p)] }

// Character classes counted by Options.PasswordClasses. A character that is not an upper- or
// lower-case letter or a digit (punctuation, spaces, Chinese characters) counts as a symbol.
func passwordClasses(p string) int {
	var lower, upper, digit, symbol int
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			symbol = 1
		}
	}
	return lower + upper + digit + symbol
}

// ErrWrongPassword means the current password given to ChangePassword is wrong.
var ErrWrongPassword = errors.New("当前密码不正确")

// PolicyError is a new password the policy refuses; the message is for the user.
type PolicyError struct{ Msg string }

func (e *PolicyError) Error() string { return e.Msg }

// ChangePasswordRequest is the input of ChangePassword.
type ChangePasswordRequest struct {
	UserID          int64
	CurrentPassword string
	NewPassword     string
	KeepToken       string // the session making the change stays; every other one is revoked
	ClientIP        string
}

// passwordExpired reports whether a password set at changedAt must be changed now.
func (s *Service) passwordExpired(changedAt, now time.Time) bool {
	return s.opts.PasswordMaxAge > 0 && now.Sub(changedAt) > s.opts.PasswordMaxAge
}

// ChangePassword checks the current password, applies the policy and the history, stores the
// new hash, clears a forced change, revokes every other session of the user and audits it.
// A wrong current password counts toward the account lockout like a failed login.
func (s *Service) ChangePassword(ctx context.Context, r ChangePasswordRequest) error {
	var (
		username, hash string
		lockedTill     *time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT username, password_hash, locked_until FROM users WHERE id = $1 AND disabled_at IS NULL`, r.UserID).
		Scan(&username, &hash, &lockedTill)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrUnauthenticated
	}
	if err != nil {
		return fmt.Errorf("auth: change password of user %d: %w", r.UserID, err)
	}
	fail := func(detail string, e error) error {
		s.audit(ctx, audit.Event{UserID: r.UserID, Username: username, ClientIP: r.ClientIP, Action: "password.change", Outcome: audit.Failure, Detail: detail})
		return e
	}
	if lockedTill != nil && lockedTill.After(time.Now()) {
		return fail("account locked", ErrWrongPassword)
	}
	ok, err := argon2id.ComparePasswordAndHash(r.CurrentPassword, hash)
	if err != nil {
		return fmt.Errorf("auth: change password of %s: %w", username, err)
	}
	if !ok {
		if err := s.countFailure(ctx, r.UserID); err != nil {
			return err
		}
		return fail("wrong current password", ErrWrongPassword)
	}
	if err := s.CheckPassword(username, r.NewPassword); err != nil {
		return fail("policy: "+err.Error(), &PolicyError{Msg: err.Error()})
	}
	if r.NewPassword == r.CurrentPassword {
		return fail("same as current", &PolicyError{Msg: "新密码不能与当前密码相同"})
	}
	if n := s.opts.PasswordHistory; n > 0 {
		rows, err := s.db.Query(ctx, `SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2`, r.UserID, n)
		if err != nil {
			return fmt.Errorf("auth: change password of %s: read history: %w", username, err)
		}
		old, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("auth: change password of %s: read history: %w", username, err)
		}
		for _, h := range old {
			if same, _ := argon2id.ComparePasswordAndHash(r.NewPassword, h); same {
				return fail("reused", &PolicyError{Msg: fmt.Sprintf("新密码不能与最近 %d 次使用过的密码相同", n)})
			}
		}
	}
	newHash, err := argon2id.CreateHash(r.NewPassword, s.opts.HashParams)
	if err != nil {
		return fmt.Errorf("auth: change password of %s: hash: %w", username, err)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: change password of %s: %w", username, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, password_changed_at = now(), must_change_password = false,
		failed_logins = 0, locked_until = NULL, updated_at = now() WHERE id = $1`, r.UserID, newHash); err != nil {
		return fmt.Errorf("auth: change password of %s: %w", username, err)
	}
	if err := s.recordHistory(ctx, tx, r.UserID, newHash); err != nil {
		return err
	}
	revoked, err := revokeSessions(ctx, tx, r.UserID, hashToken(r.KeepToken), "password changed")
	if err != nil {
		return err
	}
	if err := audit.Record(ctx, tx, audit.Event{UserID: r.UserID, Username: username, ClientIP: r.ClientIP, Action: "password.change",
		Object: "user:" + username}); err != nil {
		return err
	}
	if err := audit.Record(ctx, tx, audit.Event{UserID: r.UserID, Username: username, ClientIP: r.ClientIP, Action: "session.revoke_all",
		Object: "user:" + username, Detail: fmt.Sprintf("password changed; %d other sessions revoked", revoked)}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: change password of %s: %w", username, err)
	}
	return nil
}

// recordHistory appends hash to the user's password history and trims it to the configured
// length (at least the current password is kept).
func (s *Service) recordHistory(ctx context.Context, tx pgx.Tx, userID int64, hash string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO password_history (user_id, password_hash) VALUES ($1, $2)`, userID, hash); err != nil {
		return fmt.Errorf("auth: password history of user %d: %w", userID, err)
	}
	keep := max(s.opts.PasswordHistory, 1)
	if _, err := tx.Exec(ctx, `DELETE FROM password_history WHERE user_id = $1 AND id NOT IN
		(SELECT id FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2)`, userID, keep); err != nil {
		return fmt.Errorf("auth: password history of user %d: %w", userID, err)
	}
	return nil
}

// countFailure adds one failed authentication (wrong password or wrong second-factor code) to
// the account and locks it when MaxFailures is reached. A lock that has run out starts the count
// afresh (one typo after it must not lock again). The expressions use only the row's own
// columns so concurrent failures are each counted (READ COMMITTED re-evaluates them on the
// newest row version).
func (s *Service) countFailure(ctx context.Context, userID int64) error {
	return s.recordFailure(ctx, userID, audit.Event{})
}

// recordFailure counts a failure and, when e has an action, audits it in the same transaction.
func (s *Service) recordFailure(ctx context.Context, userID int64, e audit.Event) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: count failure of user %d: %w", userID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = tx.Exec(ctx, `UPDATE users SET
		failed_logins = CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END,
		locked_until = CASE
			WHEN (CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END) >= $2
				THEN clock_timestamp() + $3 * interval '1 microsecond'
			WHEN locked_until <= now() THEN NULL
			ELSE locked_until END
		WHERE id = $1`, userID, s.opts.MaxFailures, s.opts.LockDuration.Microseconds())
	if err != nil {
		return fmt.Errorf("auth: count failure of user %d: %w", userID, err)
	}
	if e.Action != "" {
		if err := audit.Record(ctx, tx, e); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: count failure of user %d: %w", userID, err)
	}
	return nil
}

// validate names the field and the limit of every out-of-range option.
func (o *Options) validate() error {
	switch {
	case o.MinPasswordLength < 8:
		return fmt.Errorf("auth: MinPasswordLength %d is below 8 (ASVS V6.2.1)", o.MinPasswordLength)
	case o.MinPasswordLength > 64:
		return fmt.Errorf("auth: MinPasswordLength %d is above 64 (passwords of 64 characters must be allowed)", o.MinPasswordLength)
	case o.PasswordClasses < 0 || o.PasswordClasses > 4:
		return fmt.Errorf("auth: PasswordClasses %d: want 0 to 4", o.PasswordClasses)
	case o.PasswordMaxAge < 0:
		return fmt.Errorf("auth: PasswordMaxAge %s is negative", o.PasswordMaxAge)
	case o.PasswordHistory > 24:
		return fmt.Errorf("auth: PasswordHistory %d is above 24", o.PasswordHistory)
	case len(o.SecretKey) != 0 && len(o.SecretKey) != KeySize:
		return fmt.Errorf("auth: SecretKey is %d bytes, want %d", len(o.SecretKey), KeySize)
	case o.IdleTimeout < 0 || o.AbsoluteTimeout < 0 || o.IdleTimeout > o.AbsoluteTimeout:
		return fmt.Errorf("auth: IdleTimeout %s must be positive and not above AbsoluteTimeout %s", o.IdleTimeout, o.AbsoluteTimeout)
	}
	return nil
}
