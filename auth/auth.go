// Package auth manages accounts, passwords and sessions.
//
// Passwords are hashed with argon2id. Sessions are server-side rows keyed by the SHA-256 of a
// random token, so any web replica can serve any request and logout or disabling an account kills
// sessions at once. Browsers carry the token in an HttpOnly cookie; programs send it as a bearer
// token. Failed logins are counted per account (not per IP) and lock the account for a while;
// unknown users and wrong passwords get the same error and take the same time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/store"
)

// ErrInvalidCredentials is the one answer to every failed login.
var ErrInvalidCredentials = errors.New("用户名或密码错误，或账户已被暂时锁定")

// ErrUnauthenticated means the token is missing, unknown, revoked or expired.
var ErrUnauthenticated = errors.New("未登录或会话已过期")

// Session kinds.
const (
	KindWeb = "web"
	KindAPI = "api"
)

// Options configure the service; zero fields take the defaults.
type Options struct {
	IdleTimeout       time.Duration // default 30 min (等保 practice, ASVS L2)
	AbsoluteTimeout   time.Duration // default 12 h
	MaxFailures       int           // default 5 consecutive failures lock the account
	LockDuration      time.Duration // default 15 min
	MinPasswordLength int           // default 10
	HashParams        *argon2id.Params
	Logger            *slog.Logger
}

func (o *Options) defaults() {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = 12 * time.Hour
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = 5
	}
	if o.LockDuration == 0 {
		o.LockDuration = 15 * time.Minute
	}
	if o.MinPasswordLength == 0 {
		o.MinPasswordLength = 10
	}
	if o.HashParams == nil {
		o.HashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Service is the account and session service.
type Service struct {
	db        *pgxpool.Pool
	opts      Options
	log       *slog.Logger
	dummyHash string
}

// New builds the service.
func New(db *pgxpool.Pool, opts Options) (*Service, error) {
	opts.defaults()
	dummy, err := argon2id.CreateHash("infowork-timing-equalizer", opts.HashParams)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Service{db: db, opts: opts, log: opts.Logger.With("component", "auth"), dummyHash: dummy}, nil
}

// User is an account as the rest of the system sees it.
type User struct {
	ID                 int64
	Username           string
	DisplayName        string
	Phone              string
	UnitCode           string
	UnitName           string
	Roles              []string
	Clearance          label.Level
	MustChangePassword bool
}

// Subject returns the access-control subject for the user.
func (u User) Subject() access.Subject {
	return access.Subject{UserID: u.ID, Username: u.Username, UnitCode: u.UnitCode, Roles: u.Roles, Clearance: u.Clearance}
}

// Name returns the display name, or the username when there is none.
func (u User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Username
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username           string
	Password           string
	DisplayName        string
	Phone              string
	Roles              []string
	UnitCode           string
	Clearance          label.Level
	MustChangePassword bool
}

// CheckPassword applies the password policy.
func (s *Service) CheckPassword(username, password string) error {
	n := utf8.RuneCountInString(password)
	if n < s.opts.MinPasswordLength {
		return fmt.Errorf("密码至少 %d 个字符", s.opts.MinPasswordLength)
	}
	if n > 128 {
		return fmt.Errorf("密码最多 128 个字符")
	}
	if strings.EqualFold(password, username) || strings.Contains(strings.ToLower(password), strings.ToLower(username)) && len(username) >= 3 {
		return fmt.Errorf("密码不能包含用户名")
	}
	if isCommonPassword(password) {
		return fmt.Errorf("密码过于常见，请换一个")
	}
	return nil
}

var commonPasswords = map[string]bool{
	"password": true, "password1": true, "123456789": true, "1234567890": true, "12345678": true, "qwertyuiop": true,
	"11111111": true, "1qaz2wsx": true, "iloveyou": true, "admin12345": true, "admin123456": true, "password123": true,
	"abc1234567": true, "a123456789": true, "qwerty123": true, "1q2w3e4r5t": true, "88888888": true, "0000000000": true,
	"woaini1314": true, "aa123456789": true, "p@ssw0rd": true, "passw0rd": true,
}

func isCommonPassword(p string) bool { return commonPasswords[strings.ToLower(p)] }

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{2,64}$`)

// CreateUser validates and stores a new account.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	nu.Username = strings.TrimSpace(nu.Username)
	if !usernameRE.MatchString(nu.Username) {
		return User{}, fmt.Errorf("user %q: a username has 2–64 letters, digits or . _ @ -", nu.Username)
	}
	if err := access.ValidateRoles(nu.Roles); err != nil {
		return User{}, fmt.Errorf("user %s: %w", nu.Username, err)
	}
	if !nu.Clearance.Valid() {
		return User{}, fmt.Errorf("user %s: invalid clearance", nu.Username)
	}
	needsUnit := false
	for _, r := range nu.Roles {
		if r == access.RoleReporter || r == access.RoleUnitApprover {
			needsUnit = true
		}
	}
	if needsUnit && nu.UnitCode == "" {
		return User{}, fmt.Errorf("user %s: roles reporter and unit_approver need a unit (--unit CODE)", nu.Username)
	}
	if err := s.CheckPassword(nu.Username, nu.Password); err != nil {
		return User{}, fmt.Errorf("user %s: %w", nu.Username, err)
	}
	hash, err := argon2id.CreateHash(nu.Password, s.opts.HashParams)
	if err != nil {
		return User{}, fmt.Errorf("user %s: hash password: %w", nu.Username, err)
	}
	var unitID *int64
	if nu.UnitCode != "" {
		var id int64
		if err := s.db.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, nu.UnitCode).Scan(&id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return User{}, fmt.Errorf("user %s: unit %q does not exist", nu.Username, nu.UnitCode)
			}
			return User{}, fmt.Errorf("user %s: %w", nu.Username, err)
		}
		unitID = &id
	}
	var id int64
	err = s.db.QueryRow(ctx, `INSERT INTO users (username, display_name, phone, password_hash, unit_id, roles, clearance, must_change_password)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		nu.Username, nu.DisplayName, nu.Phone, hash, unitID, nu.Roles, int(nu.Clearance), nu.MustChangePassword).Scan(&id)
	if err != nil {
		if store.IsUniqueViolation(err, "") {
			return User{}, fmt.Errorf("user %s: %w: the username is taken", nu.Username, store.ErrConflict)
		}
		return User{}, fmt.Errorf("user %s: save: %w", nu.Username, err)
	}
	return s.UserByID(ctx, id)
}

const selectUser = `SELECT u.id, u.username, u.display_name, u.phone, COALESCE(un.code, ''), COALESCE(un.name, ''),
	u.roles, u.clearance, u.must_change_password
	FROM users u LEFT JOIN units un ON un.id = u.unit_id`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var cl int16
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Phone, &u.UnitCode, &u.UnitName, &u.Roles, &cl, &u.MustChangePassword)
	u.Clearance = label.Level(cl)
	return u, err
}

// UserByID loads an account.
func (s *Service) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, selectUser+` WHERE u.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, store.ErrNotFound)
	}
	return u, err
}

// Session is an authenticated session.
type Session struct {
	Token     string // only set by Login
	CSRFToken string
	Kind      string
	ExpiresAt time.Time
	User      User
}

// LoginRequest carries the credentials and the request context for auditing.
type LoginRequest struct {
	Username, Password string
	Kind               string
	ClientIP           string
	UserAgent          string
}

// Login checks credentials and opens a new session (always a new token: no session fixation).
func (s *Service) Login(ctx context.Context, r LoginRequest) (Session, error) {
	username := strings.TrimSpace(r.Username)
	var (
		id         int64
		hash       string
		failed     int
		lockedTill *time.Time
		disabled   *time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT id, password_hash, failed_logins, locked_until, disabled_at FROM users WHERE username = $1`, username).
		Scan(&id, &hash, &failed, &lockedTill, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		_, _ = argon2id.ComparePasswordAndHash(r.Password, s.dummyHash) // same cost as a real check
		s.audit(ctx, audit.Event{Username: username, ClientIP: r.ClientIP, Action: "login", Outcome: audit.Failure, Detail: "unknown user"})
		return Session{}, ErrInvalidCredentials
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	ok, err := argon2id.ComparePasswordAndHash(r.Password, hash)
	if err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	now := time.Now()
	switch {
	case disabled != nil:
		s.audit(ctx, audit.Event{UserID: id, Username: username, ClientIP: r.ClientIP, Action: "login", Outcome: audit.Denied, Detail: "account disabled"})
		return Session{}, ErrInvalidCredentials
	case lockedTill != nil && lockedTill.After(now):
		s.audit(ctx, audit.Event{UserID: id, Username: username, ClientIP: r.ClientIP, Action: "login", Outcome: audit.Denied, Detail: "account locked"})
		return Session{}, ErrInvalidCredentials
	case !ok:
		// A lock that has run out starts the count afresh (one typo after it must not lock
		// again). The expressions use only the row's own columns so concurrent failures are
		// each counted (READ COMMITTED re-evaluates them on the newest row version).
		_, err := s.db.Exec(ctx, `UPDATE users SET
			failed_logins = CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END,
			locked_until = CASE
				WHEN (CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END) >= $2
					THEN clock_timestamp() + $3 * interval '1 microsecond'
				WHEN locked_until <= now() THEN NULL
				ELSE locked_until END
			WHERE id = $1`, id, s.opts.MaxFailures, s.opts.LockDuration.Microseconds())
		if err != nil {
			return Session{}, fmt.Errorf("auth: login: %w", err)
		}
		s.audit(ctx, audit.Event{UserID: id, Username: username, ClientIP: r.ClientIP, Action: "login", Outcome: audit.Failure, Detail: "wrong password"})
		return Session{}, ErrInvalidCredentials
	}
	kind := r.Kind
	if kind != KindAPI {
		kind = KindWeb
	}
	token, csrf := randomToken(), randomToken()
	expires := now.Add(s.opts.AbsoluteTimeout)
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = $1`, id); err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, kind, csrf_token, client_ip, user_agent, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, hashToken(token), id, kind, csrf, r.ClientIP, truncate(r.UserAgent, 300), expires); err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	if err := audit.Record(ctx, tx, audit.Event{UserID: id, Username: username, ClientIP: r.ClientIP, Action: "login", Outcome: audit.Success, Detail: kind}); err != nil {
		return Session{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	u, err := s.UserByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return Session{Token: token, CSRFToken: csrf, Kind: kind, ExpiresAt: expires, User: u}, nil
}

// Authenticate resolves a token to its session, enforcing idle and absolute expiry.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 200 {
		return Session{}, ErrUnauthenticated
	}
	var (
		sess     Session
		userID   int64
		lastSeen time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT s.user_id, s.kind, s.csrf_token, s.expires_at, s.last_seen_at FROM sessions s
		JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL AND s.expires_at > clock_timestamp()`,
		hashToken(token)).Scan(&userID, &sess.Kind, &sess.CSRFToken, &sess.ExpiresAt, &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: authenticate: %w", err)
	}
	now := time.Now()
	if now.Sub(lastSeen) > s.opts.IdleTimeout {
		_, _ = s.db.Exec(ctx, `UPDATE sessions SET revoked_at = now() WHERE token_hash = $1`, hashToken(token))
		return Session{}, ErrUnauthenticated
	}
	if now.Sub(lastSeen) > 30*time.Second { // throttle writes on busy sessions
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1`, hashToken(token)); err != nil {
			return Session{}, fmt.Errorf("auth: authenticate: %w", err)
		}
	}
	sess.User, err = s.UserByID(ctx, userID)
	if err != nil {
		return Session{}, err
	}
	return sess, nil
}

// Logout revokes the session of token.
func (s *Service) Logout(ctx context.Context, token, clientIP string) error {
	var uid int64
	var username string
	err := s.db.QueryRow(ctx, `UPDATE sessions s SET revoked_at = now() FROM users u
		WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.id = s.user_id RETURNING u.id, u.username`, hashToken(token)).Scan(&uid, &username)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	s.audit(ctx, audit.Event{UserID: uid, Username: username, ClientIP: clientIP, Action: "logout"})
	return nil
}

func (s *Service) audit(ctx context.Context, e audit.Event) {
	if err := audit.Write(ctx, s.db, e); err != nil {
		s.log.Error("audit write failed", "action", e.Action, "err", err)
	}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
