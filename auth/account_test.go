package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"infowork/auth"
	"infowork/internal/testenv"
	"infowork/label"
)

func testKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, auth.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func admin(username string) auth.NewUser {
	return auth.NewUser{Username: username, Password: goodPassword, Roles: []string{"sysadmin"}, Clearance: label.Public}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	for _, tt := range []struct {
		opts auth.Options
		want string
	}{
		{auth.Options{MinPasswordLength: 6}, "MinPasswordLength 6 is below 8"},
		{auth.Options{MinPasswordLength: 65}, "MinPasswordLength 65 is above 64"},
		{auth.Options{PasswordClasses: 5}, "PasswordClasses 5"},
		{auth.Options{PasswordClasses: -1}, "PasswordClasses -1"},
		{auth.Options{PasswordMaxAge: -time.Hour}, "PasswordMaxAge"},
		{auth.Options{PasswordHistory: 25}, "PasswordHistory 25"},
		{auth.Options{SecretKey: []byte("short")}, "SecretKey is 5 bytes, want 32"},
		{auth.Options{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour}, "IdleTimeout"},
	} {
		if _, err := auth.New(db, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error naming %q", tt.opts, err, tt.want)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	asvs, _ := newService(t, auth.Options{MinPasswordLength: 8})
	dengbao, _ := newService(t, auth.Options{PasswordClasses: 3})
	for _, tt := range []struct {
		svc      *auth.Service
		name     string
		password string
		wantErr  string // "" accepts
	}{
		// ASVS (the default): length and blocklist, no composition rule.
		{asvs, "7 characters", "Xk9#mQ2", "至少 8"},
		{asvs, "8 characters", "Xk9#mQ2z", ""},
		{asvs, "64 characters", strings.Repeat("长句子也可以", 10) + "abcd", ""},
		{asvs, "passphrase of one class", "correcthorsebatterystaple", ""},
		{asvs, "Chinese habit", "woaini1314", "常见"},
		{asvs, "Chinese habit, upper case", "WoAiNi1314", "常见"},
		{asvs, "520 1314", "5201314520", ""}, // not on the list; the list is exact, not a pattern
		{asvs, "qq habit", "qq123456", "常见"},
		{asvs, "a + digits", "a123456789", "常见"},
		{asvs, "abc + digits", "abc123456", "常见"},
		{asvs, "keyboard run", "1qaz2wsx3edc", "常见"},
		{asvs, "pinyin", "zhongguo123", "常见"},
		// 等保 (3 classes of lower, upper, digit, symbol).
		{dengbao, "two classes", "abcdefgh1234", "至少 3 类"},
		{dengbao, "one class", "correcthorsebatterystaple", "至少 3 类"},
		{dengbao, "three classes", "Abcdefgh1234", ""},
		{dengbao, "Chinese counts as a symbol", "abcdef1234晴朗", ""},
		{dengbao, "blocklist before classes", "P@ssw0rd123", "常见"},
	} {
		err := tt.svc.CheckPassword("someone", tt.password)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %q refused: %v", tt.name, tt.password, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %q: error %v, want one containing %q", tt.name, tt.password, err, tt.wantErr)
		}
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	u := createUser(t, s, reporter("li"))
	keep := login(t, s, "li", goodPassword)
	other := login(t, s, "li", goodPassword)
	change := func(cur, next string) error {
		return s.ChangePassword(ctx, auth.ChangePasswordRequest{UserID: u.ID, CurrentPassword: cur, NewPassword: next, KeepToken: keep.Token, ClientIP: "10.0.0.9"})
	}

	if err := change("wrong-current", "Brand-new-pass-1"); !errors.Is(err, auth.ErrWrongPassword) {
		t.Fatalf("wrong current password: %v, want ErrWrongPassword", err)
	}
	var failed int
	if err := db.QueryRow(ctx, `SELECT failed_logins FROM users WHERE id = $1`, u.ID).Scan(&failed); err != nil || failed != 1 {
		t.Errorf("failed_logins after a wrong current password = %d (%v), want 1 (it counts toward the lockout)", failed, err)
	}
	var pe *auth.PolicyError
	if err := change(goodPassword, "short"); !errors.As(err, &pe) || !strings.Contains(pe.Msg, "至少") {
		t.Errorf("short new password: %v, want a PolicyError about the length", err)
	}
	if err := change(goodPassword, goodPassword); !errors.As(err, &pe) || !strings.Contains(pe.Msg, "相同") {
		t.Errorf("same password again: %v, want a PolicyError", err)
	}
	if err := change(goodPassword, "Second-pass-2026"); err != nil {
		t.Fatal(err)
	}
	// The other session is gone, the one that made the change stays.
	if _, err := s.Authenticate(ctx, other.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("other session after a password change: %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Authenticate(ctx, keep.Token); err != nil {
		t.Errorf("the session that changed the password was ended: %v", err)
	}
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Errorf("old password still logs in: %v", err)
	}
	login(t, s, "li", "Second-pass-2026")

	// History: the last 5 passwords (the current one included) are refused.
	if err := change("Second-pass-2026", goodPassword); !errors.As(err, &pe) || !strings.Contains(pe.Msg, "最近 5 次") {
		t.Errorf("reusing the first password: %v, want a history PolicyError", err)
	}

	var audited []string
	rows, err := db.Query(ctx, `SELECT action || '|' || outcome || '|' || client_ip FROM audit_log WHERE action IN ('password.change', 'session.revoke_all') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		audited = append(audited, a)
	}
	want := []string{"password.change|failure|10.0.0.9", "password.change|failure|10.0.0.9", "password.change|failure|10.0.0.9",
		"password.change|success|10.0.0.9", "session.revoke_all|success|10.0.0.9", "password.change|failure|10.0.0.9"}
	if !slices.Equal(audited, want) {
		t.Errorf("audit rows:\n%s\nwant:\n%s", strings.Join(audited, "\n"), strings.Join(want, "\n"))
	}
	var reason string
	if err := db.QueryRow(ctx, `SELECT revoke_reason FROM sessions WHERE token_hash = sha256($1::bytea)`, []byte(other.Token)).Scan(&reason); err != nil || reason != "password changed" {
		t.Errorf("revoke reason = %q (%v)", reason, err)
	}
}

func TestPasswordHistoryLength(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, auth.Options{PasswordHistory: 2})
	ctx := t.Context()
	u := createUser(t, s, reporter("li"))
	const a, b, c = goodPassword, "Second-pass-2026", "Third-pass-2026"
	for _, step := range []struct {
		cur, next string
		ok        bool
	}{
		{a, b, true},
		{b, a, false}, // a is the previous password: within the last 2
		{b, c, true},
		{c, b, false}, // b is within the last 2 (c, b)
		{c, a, true},  // a is third back: allowed with a history of 2
	} {
		err := s.ChangePassword(ctx, auth.ChangePasswordRequest{UserID: u.ID, CurrentPassword: step.cur, NewPassword: step.next})
		if (err == nil) != step.ok {
			t.Fatalf("change %q → %q: %v, want ok=%v", step.cur, step.next, err, step.ok)
		}
	}
	// A negative history turns the check off (only "same as current" remains).
	off, _ := newService(t, auth.Options{PasswordHistory: -1})
	v := createUser(t, off, reporter("wang"))
	for _, step := range [][2]string{{a, b}, {b, a}} {
		if err := off.ChangePassword(ctx, auth.ChangePasswordRequest{UserID: v.ID, CurrentPassword: step[0], NewPassword: step[1]}); err != nil {
			t.Fatalf("history off: change %q → %q: %v", step[0], step[1], err)
		}
	}
}

func TestForcedAndExpiredPasswordRestrict(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{PasswordMaxAge: 90 * 24 * time.Hour})
	ctx := t.Context()
	nu := reporter("li")
	nu.MustChangePassword = true
	u := createUser(t, s, nu)
	sess := login(t, s, "li", goodPassword)
	if sess.Restriction != auth.RestrictPasswordChange {
		t.Fatalf("login with an initial password: restriction %q, want %q", sess.Restriction, auth.RestrictPasswordChange)
	}
	if err := s.ChangePassword(ctx, auth.ChangePasswordRequest{UserID: u.ID, CurrentPassword: goodPassword, NewPassword: "Second-pass-2026", KeepToken: sess.Token}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, sess.Token); err != nil || got.Restriction != "" || got.User.MustChangePassword {
		t.Fatalf("after the change: %+v, %v; want an unrestricted session", got, err)
	}

	// Rotation: 89 days is fine, 91 days forces a change.
	for _, tt := range []struct {
		days int
		want string
	}{{89, ""}, {91, auth.RestrictPasswordChange}} {
		if _, err := db.Exec(ctx, `UPDATE users SET password_changed_at = now() - $2 * interval '1 day' WHERE id = $1`, u.ID, tt.days); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Authenticate(ctx, sess.Token); err != nil || got.Restriction != tt.want {
			t.Errorf("password %d days old: restriction %q (%v), want %q", tt.days, got.Restriction, err, tt.want)
		}
	}
	// Without a maximum age (ASVS, the default) an old password never forces a change.
	asvs, db2 := newService(t, auth.Options{})
	createUser(t, asvs, reporter("wang"))
	if _, err := db2.Exec(ctx, `UPDATE users SET password_changed_at = now() - interval '1000 days'`); err != nil {
		t.Fatal(err)
	}
	if got := login(t, asvs, "wang", goodPassword); got.Restriction != "" {
		t.Errorf("no rotation configured, 1000-day-old password: restriction %q", got.Restriction)
	}
}

// code returns the TOTP code of secret for now + offset steps.
func code(t *testing.T, secret string, steps int) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(steps)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enroll(t *testing.T, s *auth.Service, userID int64) string {
	t.Helper()
	enr, err := s.BeginTOTP(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTP(t.Context(), userID, code(t, enr.Secret, 0), "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	return enr.Secret
}

func TestTOTPEnrollmentAndTwoStepLogin(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{SecretKey: testKey(t)})
	ctx := t.Context()
	u := createUser(t, s, admin("sys1"))

	first := login(t, s, "sys1", goodPassword)
	if first.Restriction != auth.RestrictMFAEnrollment || first.State != auth.StateActive {
		t.Fatalf("administrator without a second factor: state %q restriction %q, want active/%q", first.State, first.Restriction, auth.RestrictMFAEnrollment)
	}
	if _, ok, err := s.PendingTOTP(ctx, u.ID); ok || err != nil {
		t.Fatalf("PendingTOTP before BeginTOTP = %v, %v", ok, err)
	}
	enr, err := s.BeginTOTP(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enr.URI, "otpauth://totp/infowork:sys1?") || !strings.Contains(enr.URI, "secret="+enr.Secret) {
		t.Errorf("otpauth URI = %q", enr.URI)
	}
	again, ok, err := s.PendingTOTP(ctx, u.ID)
	if err != nil || !ok || again.Secret != enr.Secret {
		t.Fatalf("PendingTOTP = %+v, %v, %v; want the same secret", again, ok, err)
	}
	var sealed string
	if err := db.QueryRow(ctx, `SELECT totp_secret FROM users WHERE id = $1`, u.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, enr.Secret) {
		t.Errorf("totp_secret stored as %q: want it sealed", sealed)
	}
	if err := s.ConfirmTOTP(ctx, u.ID, "000000", ""); !errors.Is(err, auth.ErrMFAInvalid) {
		if code(t, enr.Secret, 0) != "000000" {
			t.Errorf("confirm with a wrong code: %v, want ErrMFAInvalid", err)
		}
	}
	if err := s.ConfirmTOTP(ctx, u.ID, code(t, enr.Secret, 0), "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, first.Token); err != nil || got.Restriction != "" {
		t.Errorf("after enrollment: restriction %q (%v), want none", got.Restriction, err)
	}
	if _, err := s.BeginTOTP(ctx, u.ID); !errors.Is(err, auth.ErrMFAEnrolled) {
		t.Errorf("BeginTOTP when enrolled: %v, want ErrMFAEnrolled", err)
	}

	// Two-step login. The enrollment used the current step, so the code of the next one logs in.
	pending := login(t, s, "sys1", goodPassword)
	if pending.State != auth.StateMFAPending || pending.Restriction != auth.RestrictMFA || time.Until(pending.ExpiresAt) > 6*time.Minute {
		t.Fatalf("password step: %+v; want a short mfa_pending session", pending)
	}
	if got, err := s.Authenticate(ctx, pending.Token); err != nil || got.Restriction != auth.RestrictMFA {
		t.Fatalf("pending session: restriction %q (%v)", got.Restriction, err)
	}
	next := code(t, enr.Secret, 1)
	full, err := s.VerifyMFA(ctx, auth.MFARequest{Token: pending.Token, Code: next, ClientIP: "10.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	if full.Token == pending.Token || full.State != auth.StateActive || full.Restriction != "" || full.User.ID != u.ID ||
		!full.ExpiresAt.After(time.Now().Add(11*time.Hour)) {
		t.Fatalf("after the code: %+v; want a new, full, 12-hour session", full)
	}
	if _, err := s.Authenticate(ctx, pending.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the pending token still works after the second step: %v", err)
	}

	// The same code again (a replay) is refused, even in a new login.
	replay := login(t, s, "sys1", goodPassword)
	if _, err := s.VerifyMFA(ctx, auth.MFARequest{Token: replay.Token, Code: next}); !errors.Is(err, auth.ErrMFAInvalid) {
		t.Errorf("replayed code: %v, want ErrMFAInvalid", err)
	}
	var details []string
	rows, _ := db.Query(ctx, `SELECT outcome || ' ' || detail FROM audit_log WHERE action IN ('mfa.verify', 'mfa.enroll') ORDER BY id`)
	for rows.Next() {
		var d string
		_ = rows.Scan(&d)
		details = append(details, d)
	}
	want := []string{"failure wrong code", "success totp", "success web", "failure replayed code"}
	if !slices.Equal(details, want) {
		t.Errorf("MFA audit rows %q, want %q", details, want)
	}

	// A different key does not open the sealed secret: no login.
	other, err := auth.New(db, auth.Options{SecretKey: testKey(t), Logger: testenv.Logger(t),
		HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	p2 := login(t, other, "sys1", goodPassword)
	if _, err := other.VerifyMFA(ctx, auth.MFARequest{Token: p2.Token, Code: code(t, enr.Secret, 1)}); err == nil {
		t.Error("a service with another secret key accepted a code")
	}
}

func TestMFAFailuresLockTheAccount(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{SecretKey: testKey(t), MaxFailures: 3})
	ctx := t.Context()
	u := createUser(t, s, admin("sys1"))
	secret := enroll(t, s, u.ID)
	wrong := func() string { // a code that is wrong for every accepted step
		for _, c := range []string{"000000", "111111", "222222", "333333"} {
			if c != code(t, secret, -1) && c != code(t, secret, 0) && c != code(t, secret, 1) {
				return c
			}
		}
		t.Fatal("no wrong code found")
		return ""
	}

	p := login(t, s, "sys1", goodPassword)
	for range 2 {
		if _, err := s.VerifyMFA(ctx, auth.MFARequest{Token: p.Token, Code: wrong()}); !errors.Is(err, auth.ErrMFAInvalid) {
			t.Fatalf("wrong code: %v, want ErrMFAInvalid", err)
		}
	}
	// The right password does not wipe the count of wrong codes.
	p = login(t, s, "sys1", goodPassword)
	if _, err := s.VerifyMFA(ctx, auth.MFARequest{Token: p.Token, Code: wrong()}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Fatalf("third wrong code with MaxFailures=3: %v, want ErrInvalidCredentials (locked)", err)
	}
	if _, err := s.Authenticate(ctx, p.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("pending session survived the lock: %v", err)
	}
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "sys1", Password: goodPassword}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Errorf("login while locked by wrong codes: %v", err)
	}
	// After the lock, a right code completes a login and resets the count.
	if _, err := db.Exec(ctx, `UPDATE users SET locked_until = now() - interval '1 second' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	p = login(t, s, "sys1", goodPassword)
	if _, err := s.VerifyMFA(ctx, auth.MFARequest{Token: p.Token, Code: code(t, secret, 1)}); err != nil {
		t.Fatalf("right code after the lock ran out: %v", err)
	}
	var failed int
	if err := db.QueryRow(ctx, `SELECT failed_logins FROM users WHERE id = $1`, u.ID).Scan(&failed); err != nil || failed != 0 {
		t.Errorf("failed_logins after a complete login = %d (%v)", failed, err)
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	u := createUser(t, s, reporter("li"))
	w := createUser(t, s, reporter("wang"))
	var toks []string
	for range 3 {
		toks = append(toks, login(t, s, "li", goodPassword).Token)
	}
	bystander := login(t, s, "wang", goodPassword)
	n, err := s.RevokeAll(ctx, u.ID, "roles changed")
	if err != nil || n != 3 {
		t.Fatalf("RevokeAll = %d, %v; want 3", n, err)
	}
	for _, tok := range toks {
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("session survived RevokeAll: %v", err)
		}
	}
	if got, err := s.Authenticate(ctx, bystander.Token); err != nil || got.User.ID != w.ID {
		t.Errorf("another user's session was revoked: %v", err)
	}
	var detail string
	if err := db.QueryRow(ctx, `SELECT detail FROM audit_log WHERE action = 'session.revoke_all' AND user_id = $1`, u.ID).Scan(&detail); err != nil ||
		detail != "roles changed; 3 sessions revoked" {
		t.Errorf("audit detail = %q (%v)", detail, err)
	}
}

// Unknown users and wrong passwords cost the same: both verify one argon2id hash at the
// production parameters.
func TestLoginFailureTimingLooksAlike(t *testing.T) {
	// Not parallel, and the two kinds of attempt are interleaved, so load from other tests
	// and packages falls on both alike; the bound is loose on purpose: it catches a path that
	// skips the password hash (a 10× difference), not scheduling noise.
	db := testenv.DB(t)
	s, err := auth.New(db, auth.Options{Logger: testenv.Logger(t), MaxFailures: 1000})
	if err != nil {
		t.Fatal(err)
	}
	createUser(t, s, reporter2("li"))
	attempt := func(username string) time.Duration {
		start := time.Now()
		if _, err := s.Login(t.Context(), auth.LoginRequest{Username: username, Password: "not-the-password"}); err != auth.ErrInvalidCredentials { //nolint:errorlint
			t.Fatal(err)
		}
		return time.Since(start)
	}
	var known, unknown []time.Duration
	for range 11 {
		known = append(known, attempt("li"))
		unknown = append(unknown, attempt("nobody"))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[len(known)/2], unknown[len(unknown)/2]
	if r := float64(u) / float64(k); r < 0.33 || r > 3 {
		t.Errorf("median failure time: unknown user %s, wrong password %s (ratio %.2f); want them alike", u, k, r)
	}
}

func reporter2(username string) auth.NewUser {
	nu := reporter(username)
	nu.UnitCode = ""
	nu.Roles = []string{"researcher"}
	return nu
}

func TestSecretKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	k1, err := auth.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || len(k1) != auth.KeySize {
		t.Fatalf("key file mode %v (%v), key %d bytes; want 0600 and %d", st.Mode().Perm(), err, len(k1), auth.KeySize)
	}
	k2, err := auth.LoadOrCreateKeyFile(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second start read a different key (%v)", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Errorf("world-readable key file: %v, want a refusal naming 0600", err)
	}
	for _, enc := range []string{hex.EncodeToString(k1), base64.StdEncoding.EncodeToString(k1), base64.RawURLEncoding.EncodeToString(k1)} {
		if k, err := auth.ParseKey(enc); err != nil || string(k) != string(k1) {
			t.Errorf("ParseKey(%q) = %v", enc, err)
		}
	}
	if _, err := auth.ParseKey(base64.StdEncoding.EncodeToString(k1[:16])); err == nil {
		t.Error("ParseKey accepted a 16-byte key")
	}
}

var _ = context.Background
var _ *pgxpool.Pool
