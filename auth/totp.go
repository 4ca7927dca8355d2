package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"infowork/audit"
)

// TOTP parameters: RFC 6238 defaults, which every authenticator app supports.
const (
	totpPeriod  = 30
	totpSkew    = 1 // steps accepted either side of the current one
	totpDigits  = otp.DigitsSix
	mfaPendingT = 5 * time.Minute // how long a password-only session waits for its code
)

// ErrMFAInvalid is the answer to a wrong, expired or already used code.
var ErrMFAInvalid = errors.New("动态口令不正确或已使用，请输入验证器上的最新口令")

// ErrMFAEnrolled means the account already has a second factor.
var ErrMFAEnrolled = errors.New("已启用动态口令")

// Enrollment is what a user copies into an authenticator app.
type Enrollment struct {
	Secret string // base32
	URI    string // otpauth://totp/…
}

func totpAD(userID int64) []byte { return fmt.Appendf(nil, "users.totp_secret:%d", userID) }

// PendingTOTP returns the enrollment waiting for its first code, if there is one; it changes
// nothing (pages show it on GET).
func (s *Service) PendingTOTP(ctx context.Context, userID int64) (Enrollment, bool, error) {
	enr, err := s.totpEnrollment(ctx, userID, false)
	if errors.Is(err, errNoPending) {
		return Enrollment{}, false, nil
	}
	return enr, err == nil, err
}

// BeginTOTP starts the enrollment of a second factor: a new secret is sealed into
// users.totp_secret and stays unused until ConfirmTOTP sees a code from it. An enrollment
// already waiting is returned as it is.
func (s *Service) BeginTOTP(ctx context.Context, userID int64) (Enrollment, error) {
	return s.totpEnrollment(ctx, userID, true)
}

var errNoPending = errors.New("auth: no TOTP enrollment pending")

func (s *Service) totpEnrollment(ctx context.Context, userID int64, create bool) (Enrollment, error) {
	var (
		username string
		sealed   *string
		enrolled bool
	)
	err := s.db.QueryRow(ctx, `SELECT username, totp_secret, totp_enrolled_at IS NOT NULL FROM users WHERE id = $1`, userID).
		Scan(&username, &sealed, &enrolled)
	if err != nil {
		return Enrollment{}, fmt.Errorf("auth: TOTP enrollment of user %d: %w", userID, err)
	}
	if enrolled {
		return Enrollment{}, ErrMFAEnrolled
	}
	opts := totp.GenerateOpts{Issuer: s.opts.TOTPIssuer, AccountName: username, Period: totpPeriod, Digits: totpDigits, SecretSize: 20}
	if sealed != nil {
		if secret, err := s.sealer.open(*sealed, totpAD(userID)); err == nil {
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(secret))
			if err == nil {
				opts.Secret = raw
			}
		}
	}
	if opts.Secret == nil && !create {
		return Enrollment{}, errNoPending
	}
	key, err := totp.Generate(opts)
	if err != nil {
		return Enrollment{}, fmt.Errorf("auth: TOTP enrollment of %s: %w", username, err)
	}
	if opts.Secret == nil {
		if _, err := s.db.Exec(ctx, `UPDATE users SET totp_secret = $2, totp_last_step = NULL WHERE id = $1 AND totp_enrolled_at IS NULL`,
			userID, s.sealer.seal([]byte(key.Secret()), totpAD(userID))); err != nil {
			return Enrollment{}, fmt.Errorf("auth: TOTP enrollment of %s: %w", username, err)
		}
	}
	return Enrollment{Secret: key.Secret(), URI: key.URL()}, nil
}

// ConfirmTOTP completes the enrollment with a code from the new secret.
func (s *Service) ConfirmTOTP(ctx context.Context, userID int64, code, clientIP string) error {
	var (
		username string
		sealed   *string
		enrolled bool
	)
	err := s.db.QueryRow(ctx, `SELECT username, totp_secret, totp_enrolled_at IS NOT NULL FROM users WHERE id = $1`, userID).
		Scan(&username, &sealed, &enrolled)
	if err != nil {
		return fmt.Errorf("auth: confirm TOTP for user %d: %w", userID, err)
	}
	if enrolled {
		return ErrMFAEnrolled
	}
	step, ok := int64(0), false
	if sealed != nil {
		secret, err := s.sealer.open(*sealed, totpAD(userID))
		if err != nil {
			return err
		}
		step, ok = matchTOTP(string(secret), code, time.Now())
	}
	if !ok {
		s.audit(ctx, audit.Event{UserID: userID, Username: username, ClientIP: clientIP, Action: "mfa.enroll", Outcome: audit.Failure, Detail: "wrong code"})
		return ErrMFAInvalid
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: confirm TOTP for %s: %w", username, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `UPDATE users SET totp_enrolled_at = now(), totp_last_step = $2, updated_at = now()
		WHERE id = $1 AND totp_enrolled_at IS NULL`, userID, step); err != nil {
		return fmt.Errorf("auth: confirm TOTP for %s: %w", username, err)
	}
	if err := audit.Record(ctx, tx, audit.Event{UserID: userID, Username: username, ClientIP: clientIP, Action: "mfa.enroll",
		Object: "user:" + username, Detail: "totp"}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: confirm TOTP for %s: %w", username, err)
	}
	return nil
}

// ResetTOTP removes the user's second factor (for an administrator's "lost phone" action) and
// ends the user's sessions; an administrator then has to enroll again at the next login.
func (s *Service) ResetTOTP(ctx context.Context, userID int64, reason string) error {
	if _, err := s.db.Exec(ctx, `UPDATE users SET totp_secret = NULL, totp_enrolled_at = NULL, totp_last_step = NULL, updated_at = now()
		WHERE id = $1`, userID); err != nil {
		return fmt.Errorf("auth: reset TOTP of user %d: %w", userID, err)
	}
	_, err := s.RevokeAll(ctx, userID, "second factor reset: "+reason)
	return err
}

// MFARequest is the second step of a login.
type MFARequest struct {
	Token     string // of the mfa_pending session
	Code      string
	ClientIP  string
	UserAgent string
}

// VerifyMFA checks the code of an mfa_pending session. On success the pending session is
// revoked and a new, full session is returned (a new token at every privilege change). Wrong
// and replayed codes count toward the account lockout; once the account locks, the pending
// session is revoked and the answer is ErrInvalidCredentials, as at login.
func (s *Service) VerifyMFA(ctx context.Context, r MFARequest) (Session, error) {
	var (
		userID     int64
		kind       string
		username   string
		sealed     *string
		lockedTill *time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT s.user_id, s.kind, u.username, u.totp_secret, u.locked_until FROM sessions s
		JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.state = 'mfa_pending' AND s.revoked_at IS NULL AND u.disabled_at IS NULL
			AND u.totp_enrolled_at IS NOT NULL AND s.expires_at > clock_timestamp()`, hashToken(r.Token)).
		Scan(&userID, &kind, &username, &sealed, &lockedTill)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
	}
	ev := audit.Event{UserID: userID, Username: username, ClientIP: r.ClientIP, Action: "mfa.verify"}
	endPending := func(detail string) (Session, error) {
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE token_hash = $1`,
			hashToken(r.Token), detail); err != nil {
			return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
		}
		return Session{}, ErrInvalidCredentials
	}
	if lockedTill != nil && lockedTill.After(time.Now()) {
		ev.Outcome, ev.Detail = audit.Denied, "account locked"
		s.audit(ctx, ev)
		return endPending("account locked")
	}
	secret, err := s.sealer.open(*sealed, totpAD(userID))
	if err != nil {
		return Session{}, err
	}
	step, ok := matchTOTP(string(secret), r.Code, time.Now())
	var tx pgx.Tx
	detail := "wrong code"
	if ok {
		if tx, err = s.db.Begin(ctx); err != nil {
			return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		// Single use: the step must be newer than the last accepted one; the row update makes
		// two concurrent uses of one code race for a single winner.
		tag, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = $2, failed_logins = 0, locked_until = NULL, last_login_at = now()
			WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)`, userID, step)
		if err != nil {
			return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
		}
		if tag.RowsAffected() == 0 {
			ok, detail = false, "replayed code"
			_ = tx.Rollback(ctx)
		}
	}
	if !ok {
		if err := s.countFailure(ctx, userID); err != nil {
			return Session{}, err
		}
		ev.Outcome, ev.Detail = audit.Failure, detail
		s.audit(ctx, ev)
		var locked bool
		if err := s.db.QueryRow(ctx, `SELECT COALESCE(locked_until > now(), false) FROM users WHERE id = $1`, userID).Scan(&locked); err != nil {
			return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
		}
		if locked {
			return endPending("account locked after wrong codes")
		}
		return Session{}, ErrMFAInvalid
	}
	if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = 'mfa completed' WHERE token_hash = $1`, hashToken(r.Token)); err != nil {
		return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
	}
	sess, err := s.insertSession(ctx, tx, userID, kind, StateActive, r.ClientIP, r.UserAgent, s.opts.AbsoluteTimeout)
	if err != nil {
		return Session{}, err
	}
	ev.Outcome, ev.Detail = audit.Success, kind
	if err := audit.Record(ctx, tx, ev); err != nil {
		return Session{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Session{}, fmt.Errorf("auth: verify second factor: %w", err)
	}
	if sess.User, err = s.UserByID(ctx, userID); err != nil {
		return Session{}, err
	}
	sess.Restriction = s.restriction(sess.State, sess.User)
	return sess, nil
}

// insertSession opens a session row and returns it with its fresh token (User left empty).
func (s *Service) insertSession(ctx context.Context, tx pgx.Tx, userID int64, kind, state, clientIP, userAgent string, ttl time.Duration) (Session, error) {
	token, csrf := randomToken(), randomToken()
	expires := time.Now().Add(ttl)
	if _, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, kind, csrf_token, client_ip, user_agent, expires_at, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, hashToken(token), userID, kind, csrf, clientIP, truncate(userAgent, 300), expires, state); err != nil {
		return Session{}, fmt.Errorf("auth: open session: %w", err)
	}
	return Session{Token: token, CSRFToken: csrf, Kind: kind, State: state, ExpiresAt: expires}, nil
}

// matchTOTP returns the time step whose code equals code, within ±totpSkew steps of now.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	cur := now.Unix() / totpPeriod
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}
