package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/auth"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/store"
	"infowork/unit"
)

const goodPassword = "Tianqi-晴朗-2025"

func newService(t *testing.T, opts auth.Options) (*auth.Service, *pgxpool.Pool) {
	t.Helper()
	db := testenv.DB(t)
	if _, err := unit.Upsert(t.Context(), db, unit.Unit{Code: "B01", Name: "发展改革委", Kind: unit.KindBureau}); err != nil {
		t.Fatal(err)
	}
	opts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	opts.Logger = testenv.Logger(t)
	s, err := auth.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func reporter(username string) auth.NewUser {
	return auth.NewUser{Username: username, Password: goodPassword, Roles: []string{"reporter"}, UnitCode: "B01", Clearance: label.Internal}
}

func createUser(t *testing.T, s *auth.Service, nu auth.NewUser) auth.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), nu)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func login(t *testing.T, s *auth.Service, username, password string) auth.Session {
	t.Helper()
	sess, err := s.Login(t.Context(), auth.LoginRequest{Username: username, Password: password, ClientIP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return sess
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, auth.Options{})
	ctx := t.Context()

	u := createUser(t, s, auth.NewUser{Username: " zhang.san ", Password: goodPassword, DisplayName: "张三",
		Roles: []string{"reporter", "unit_approver"}, UnitCode: "B01", Clearance: label.Secret})
	if u.ID == 0 || u.Username != "zhang.san" || u.UnitCode != "B01" || u.UnitName != "发展改革委" ||
		u.Clearance != label.Secret || len(u.Roles) != 2 || u.Name() != "张三" {
		t.Fatalf("created user = %+v", u)
	}
	if sub := u.Subject(); sub.UserID != u.ID || sub.UnitCode != "B01" || !sub.CanSubmit() {
		t.Errorf("Subject() = %+v", sub)
	}
	if r := createUser(t, s, auth.NewUser{Username: "researcher1", Password: goodPassword, Roles: []string{"researcher"}}); r.UnitCode != "" || r.Name() != "researcher1" {
		t.Errorf("researcher without unit = %+v", r)
	}

	tests := []struct {
		name    string
		nu      auth.NewUser
		wantErr string
	}{
		{"too short", auth.NewUser{Username: "a1", Password: "Ab3$efg9", Roles: []string{"leader"}}, "至少 10"},
		{"too short in runes", auth.NewUser{Username: "a2", Password: "密码密码密码密码密", Roles: []string{"leader"}}, "至少 10"},
		{"too long", auth.NewUser{Username: "a3", Password: strings.Repeat("x1Y", 43), Roles: []string{"leader"}}, "最多 128"},
		{"contains username", auth.NewUser{Username: "wangwu", Password: "xx-WangWu-2025", Roles: []string{"leader"}}, "用户名"},
		{"equals username", auth.NewUser{Username: "abcdefghijk", Password: "ABCDEFGHIJK", Roles: []string{"leader"}}, "用户名"},
		{"common password", auth.NewUser{Username: "a4", Password: "Password123", Roles: []string{"leader"}}, "常见"},
		{"common digits", auth.NewUser{Username: "a5", Password: "1234567890", Roles: []string{"leader"}}, "常见"},
		{"unknown unit", auth.NewUser{Username: "a6", Password: goodPassword, Roles: []string{"reporter"}, UnitCode: "NOPE"}, `unit "NOPE" does not exist`},
		{"admin plus other role", auth.NewUser{Username: "a7", Password: goodPassword, Roles: []string{"sysadmin", "editor"}}, "cannot be combined"},
		{"two admin roles", auth.NewUser{Username: "a8", Password: goodPassword, Roles: []string{"secadmin", "auditadmin"}}, "cannot be combined"},
		{"reporter without unit", auth.NewUser{Username: "a9", Password: goodPassword, Roles: []string{"reporter"}}, "need a unit"},
		{"unit approver without unit", auth.NewUser{Username: "b1", Password: goodPassword, Roles: []string{"unit_approver"}}, "need a unit"},
		{"no role", auth.NewUser{Username: "b2", Password: goodPassword}, "at least one role"},
		{"unknown role", auth.NewUser{Username: "b3", Password: goodPassword, Roles: []string{"root"}}, "unknown role"},
		{"bad clearance", auth.NewUser{Username: "b4", Password: goodPassword, Roles: []string{"leader"}, Clearance: 4}, "invalid clearance"},
	}
	for _, tt := range tests {
		_, err := s.CreateUser(ctx, tt.nu)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: CreateUser error = %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := s.UserByID(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(missing) = %v, want store.ErrNotFound", err)
	}

	_, err := s.CreateUser(ctx, reporter("zhang.san"))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username: error = %v, want store.ErrConflict", err)
	}
}

func TestUsersTableHoldsOnlyValidAccounts(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	for _, nu := range []auth.NewUser{
		{Username: "x1", Password: "short", Roles: []string{"leader"}},
		{Username: "x2", Password: goodPassword, Roles: []string{"sysadmin", "secadmin"}},
		{Username: "x3", Password: goodPassword, Roles: []string{"reporter"}},
	} {
		if _, err := s.CreateUser(ctx, nu); err == nil {
			t.Fatalf("CreateUser(%s) accepted invalid input", nu.Username)
		}
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("users rows = %d (%v), want 1", n, err)
	}
	var hash string
	if err := db.QueryRow(ctx, `SELECT password_hash FROM users WHERE username = 'li'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, goodPassword) {
		t.Errorf("password stored as %q, want an argon2id hash", hash)
	}
}

func TestLoginSessions(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	u := createUser(t, s, reporter("li"))

	a := login(t, s, "li", goodPassword)
	b := login(t, s, " li ", goodPassword)
	if a.Token == "" || b.Token == "" || a.Token == b.Token || a.CSRFToken == b.CSRFToken {
		t.Fatalf("two logins gave tokens %q and %q (csrf %q, %q); want distinct fresh tokens", a.Token, b.Token, a.CSRFToken, b.CSRFToken)
	}
	if a.User.ID != u.ID || a.Kind != auth.KindWeb || !a.ExpiresAt.After(time.Now().Add(11*time.Hour)) {
		t.Errorf("session = %+v", a)
	}
	api, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword, Kind: auth.KindAPI})
	if err != nil || api.Kind != auth.KindAPI {
		t.Fatalf("api login = %+v, %v", api, err)
	}
	// The database never holds a usable token.
	var leaked int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE position($1::bytea in token_hash) > 0 OR csrf_token = $2`,
		[]byte(a.Token), a.Token).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("token stored in clear (%d rows, %v)", leaked, err)
	}

	for _, tok := range []string{a.Token, b.Token} {
		got, err := s.Authenticate(ctx, tok)
		if err != nil {
			t.Fatalf("Authenticate after login: %v", err)
		}
		if got.User.Username != "li" || got.User.UnitCode != "B01" || got.CSRFToken == "" || got.Token != "" {
			t.Errorf("Authenticate = %+v", got)
		}
	}
	if err := s.Logout(ctx, a.Token, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, a.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("Authenticate after logout = %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Authenticate(ctx, b.Token); err != nil {
		t.Errorf("other session ended by logout of the first: %v", err)
	}
	if err := s.Logout(ctx, a.Token, "10.0.0.1"); err != nil {
		t.Errorf("second logout = %v, want nil", err)
	}
	var logouts int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'logout' AND user_id = $1`, u.ID).Scan(&logouts); err != nil || logouts != 1 {
		t.Errorf("logout audit rows = %d (%v), want 1", logouts, err)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	createUser(t, s, reporter("li"))

	_, errWrong := s.Login(ctx, auth.LoginRequest{Username: "li", Password: "not-the-password", ClientIP: "10.0.0.2"})
	_, errUnknown := s.Login(ctx, auth.LoginRequest{Username: "nobody", Password: goodPassword, ClientIP: "10.0.0.2"})
	_, errEmpty := s.Login(ctx, auth.LoginRequest{})
	for _, err := range []error{errWrong, errUnknown, errEmpty} {
		if err != auth.ErrInvalidCredentials { //nolint:errorlint // the identical value is the point
			t.Errorf("failed login error = %v, want the ErrInvalidCredentials value itself", err)
		}
	}
	if errWrong.Error() != errUnknown.Error() {
		t.Errorf("messages differ: %q vs %q", errWrong, errUnknown)
	}

	rows, err := db.Query(ctx, `SELECT username, outcome, detail, client_ip FROM audit_log WHERE action = 'login' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var u, o, d, ip string
		if err := rows.Scan(&u, &o, &d, &ip); err != nil {
			t.Fatal(err)
		}
		got = append(got, u+"|"+o+"|"+d+"|"+ip)
	}
	want := []string{"li|failure|wrong password|10.0.0.2", "nobody|failure|unknown user|10.0.0.2", "|failure|unknown user|"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("login audit rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	login(t, s, "li", goodPassword)
	var ok int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'success' AND username = 'li' AND detail = 'web'`).Scan(&ok); err != nil || ok != 1 {
		t.Errorf("login success audit rows = %d (%v), want 1", ok, err)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	createUser(t, s, reporter("wang"))

	// Four failures, then the right password: not locked, and the counter starts again.
	for i := range 4 {
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: "wrong-" + string(rune('a'+i))}); err != auth.ErrInvalidCredentials { //nolint:errorlint
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	login(t, s, "li", goodPassword)
	var failed int
	if err := db.QueryRow(ctx, `SELECT failed_logins FROM users WHERE username = 'li'`).Scan(&failed); err != nil || failed != 0 {
		t.Fatalf("failed_logins after success = %d (%v), want 0", failed, err)
	}

	// Five failures from five addresses lock the account.
	for i := range 5 {
		_, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: "wrong", ClientIP: "192.0.2." + string(rune('1'+i))})
		if err != auth.ErrInvalidCredentials { //nolint:errorlint
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	for _, ip := range []string{"192.0.2.1", "198.51.100.7", ""} {
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword, ClientIP: ip}); err != auth.ErrInvalidCredentials { //nolint:errorlint
			t.Fatalf("right password on a locked account from %q: %v, want ErrInvalidCredentials", ip, err)
		}
	}
	// Another account is not affected.
	login(t, s, "wang", goodPassword)
	var denied int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'denied' AND detail = 'account locked' AND username = 'li'`).Scan(&denied); err != nil || denied != 3 {
		t.Errorf("locked-login audit rows = %d (%v), want 3", denied, err)
	}

	// The lock expires.
	if _, err := db.Exec(ctx, `UPDATE users SET locked_until = now() - interval '1 second' WHERE username = 'li'`); err != nil {
		t.Fatal(err)
	}
	login(t, s, "li", goodPassword)
	var locked *time.Time
	if err := db.QueryRow(ctx, `SELECT failed_logins, locked_until FROM users WHERE username = 'li'`).Scan(&failed, &locked); err != nil || failed != 0 || locked != nil {
		t.Errorf("after a successful login: failed_logins = %d, locked_until = %v (%v)", failed, locked, err)
	}
}

func TestLockDurationOption(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{MaxFailures: 2, LockDuration: time.Hour})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	for range 2 {
		_, _ = s.Login(ctx, auth.LoginRequest{Username: "li", Password: "wrong"})
	}
	var left float64
	if err := db.QueryRow(ctx, `SELECT extract(epoch FROM locked_until - now()) FROM users WHERE username = 'li'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left < 3500 || left > 3601 {
		t.Errorf("lock lasts %.0f s, want about 3600", left)
	}
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Errorf("login after MaxFailures=2 failures: %v", err)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	createUser(t, s, reporter("wang"))

	for _, tok := range []string{"", "x", "not-a-token-at-all", strings.Repeat("a", 43), strings.Repeat("a", 201)} {
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Authenticate(%.20q) = %v, want ErrUnauthenticated", tok, err)
		}
	}

	expired := login(t, s, "li", goodPassword)
	if _, err := db.Exec(ctx, `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE username = 'li')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, expired.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("expired session: %v, want ErrUnauthenticated", err)
	}

	idle := login(t, s, "wang", goodPassword)
	if _, err := db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE user_id = (SELECT id FROM users WHERE username = 'wang')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, idle.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("idle session: %v, want ErrUnauthenticated", err)
	}
	// Idle expiry revokes: coming back "fresh" does not revive it.
	if _, err := db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() WHERE user_id = (SELECT id FROM users WHERE username = 'wang')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, idle.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("idle-revoked session came back: %v", err)
	}
}

func TestIdleTimeoutOption(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{IdleTimeout: 2 * time.Minute})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	sess := login(t, s, "li", goodPassword)
	if _, err := db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() - interval '90 seconds'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); err != nil {
		t.Fatalf("90 s idle with a 2 min timeout: %v", err)
	}
	// Activity moved last_seen_at forward, so the session survives another 90 s.
	if _, err := db.Exec(ctx, `UPDATE sessions SET last_seen_at = last_seen_at - interval '90 seconds'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); err != nil {
		t.Fatalf("active session expired: %v", err)
	}
	if _, err := db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() - interval '121 seconds'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("121 s idle with a 2 min timeout: %v, want ErrUnauthenticated", err)
	}
	var revoked bool
	if err := db.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM sessions`).Scan(&revoked); err != nil || !revoked {
		t.Errorf("idle session not revoked in the database (%v)", err)
	}
}

func TestDisabledUser(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	sess := login(t, s, "li", goodPassword)
	if _, err := s.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE users SET disabled_at = now() WHERE username = 'li'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("session of a disabled user: %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Errorf("login of a disabled user: %v, want ErrInvalidCredentials", err)
	}
	var denied int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'denied' AND detail = 'account disabled'`).Scan(&denied); err != nil || denied != 1 {
		t.Errorf("disabled-login audit rows = %d (%v), want 1", denied, err)
	}
}

// After a lock has run out, one more typo must not lock the account again at once: the
// failure count starts afresh.
func TestLockExpiryResetsCount(t *testing.T) {
	t.Parallel()
	s, db := newService(t, auth.Options{})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	for range 5 {
		_, _ = s.Login(ctx, auth.LoginRequest{Username: "li", Password: "wrong"})
	}
	if _, err := db.Exec(ctx, `UPDATE users SET locked_until = now() - interval '1 second' WHERE username = 'li'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: "typo"}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword}); err != nil {
		t.Fatalf("one typo after the lock ran out locked the account again: %v", err)
	}
}

// A lock shorter than a second still locks.
func TestSubSecondLock(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, auth.Options{MaxFailures: 1, LockDuration: 800 * time.Millisecond})
	ctx := t.Context()
	createUser(t, s, reporter("li"))
	_, _ = s.Login(ctx, auth.LoginRequest{Username: "li", Password: "wrong"})
	if _, err := s.Login(ctx, auth.LoginRequest{Username: "li", Password: goodPassword}); err != auth.ErrInvalidCredentials { //nolint:errorlint
		t.Fatalf("login right after the failure that locks: %v, want ErrInvalidCredentials", err)
	}
}
