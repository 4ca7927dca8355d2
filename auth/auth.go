// Package auth manages accounts, passwords and sessions.
//
// Passwords are hashed with argon2id. Sessions are server-side rows keyed by the SHA-256 of a
// random token, so any web replica can serve any request and logout or disabling an account kills
// sessions at once. Browsers carry the token in an HttpOnly cookie; programs send it as a bearer
// token. Failed logins are counted per account (not per IP) and lock the account for a while;
// unknown users and wrong passwords get the same error and take the same time.
//
// The password policy (length, blocklist, optional character classes, rotation and history) is
// configuration, because 等保 and ASVS disagree on composition and rotation (docs/security.md).
// A second factor (TOTP, secret sealed with AES-GCM) makes a login two-step; administrators must
// have one. A session whose user must first change the password or enroll a second factor
// carries a Restriction that the web layer enforces.
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
	MinPasswordLength int           // default 10; at least 8 (ASVS V6.2.1)
	// PasswordClasses is how many of lower case, upper case, digit and symbol a password must
	// mix: 0 (default, ASVS V6.2.5) to 4; 等保 deployments set 3.
	PasswordClasses int
	// PasswordMaxAge forces a change after this long: 0 (default, ASVS V6.2.10) never; 等保
	// deployments set 90 days.
	PasswordMaxAge time.Duration
	// PasswordHistory is how many recent passwords (the current one included) cannot be reused:
	// 0 means the default 5; negative turns the check off.
	PasswordHistory int
	// SecretKey (32 bytes) seals TOTP secrets at rest. Empty: a random key for this process
	// only, with a warning (enrolled second factors then stop working at restart).
	SecretKey  []byte
	TOTPIssuer string // shown in authenticator apps; default "infowork"
	HashParams *argon2id.Params
	Logger     *slog.Logger
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
	if o.PasswordHistory == 0 {
		o.PasswordHistory = 5
	}
	if o.TOTPIssuer == "" {
		o.TOTPIssuer = "infowork"
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
	sealer    *sealer
}

// New builds the service.
func New(db *pgxpool.Pool, opts Options) (*Service, error) {
	opts.defaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	dummy, err := argon2id.CreateHash("infowork-timing-equalizer", opts.HashParams)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	log := opts.Logger.With("component", "auth")
	key := opts.SecretKey
	if len(key) == 0 {
		log.Warn("no secret key configured: TOTP secrets are sealed with a key of this process only")
		key = make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	sl, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Service{db: db, opts: opts, log: log, dummyHash: dummy, sealer: sl}, nil
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
	LabelCategories    []string // label categories (compartments) the user holds
	MustChangePassword bool
	MFAEnrolled        bool // a confirmed second factor (TOTP)
	PasswordChangedAt  time.Time
}

// Subject returns the access-control subject for the user.
func (u User) Subject() access.Subject {
	return access.Subject{UserID: u.ID, Username: u.Username, UnitCode: u.UnitCode, Roles: u.Roles, Clearance: u.Clearance,
		Categories: u.LabelCategories}
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
	if passwordClasses(password) < s.opts.PasswordClasses {
		return fmt.Errorf("密码须包含小写字母、大写字母、数字、符号中的至少 %d 类", s.opts.PasswordClasses)
	}
	return nil
}

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
	err = s.db.QueryRow(ctx, `WITH u AS (INSERT INTO users (username, display_name, phone, password_hash, unit_id, roles, clearance, must_change_password)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, password_hash),
		h AS (INSERT INTO password_history (user_id, password_hash) SELECT id, password_hash FROM u)
		SELECT id FROM u`,
		nu.Username, nu.DisplayName, nu.Phone, hash, unitID, nu.Roles, int(nu.Clearance), nu.MustChangePassword).Scan(&id)
	if err != nil {
		if store.IsUniqueViolation(err, "") {
			return User{}, fmt.Errorf("user %s: %w: the username is taken", nu.Username, store.ErrConflict)
		}
		return User{}, fmt.Errorf("user %s: save: %w", nu.Username, err)
	}
	return s.UserByID(ctx, id)
}

const (
	userColumns = `u.id, u.username, u.display_name, u.phone, COALESCE(un.code, ''), COALESCE(un.name, ''),
	u.roles, u.clearance, u.label_categories, u.must_change_password, u.totp_enrolled_at IS NOT NULL, u.password_changed_at`
	userFrom   = ` FROM users u LEFT JOIN units un ON un.id = u.unit_id`
	selectUser = `SELECT ` + userColumns + userFrom
)

// scanUser scans the userColumns of row, followed by the extra columns into extra.
func scanUser(row pgx.Row, extra ...any) (User, error) {
	var u User
	var cl int16
	err := row.Scan(append([]any{&u.ID, &u.Username, &u.DisplayName, &u.Phone, &u.UnitCode, &u.UnitName, &u.Roles, &cl, &u.LabelCategories,
		&u.MustChangePassword, &u.MFAEnrolled, &u.PasswordChangedAt}, extra...)...)
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
	Token     string // only set by Login and VerifyMFA
	CSRFToken string
	Kind      string
	State     string // StateActive or StateMFAPending
	ExpiresAt time.Time
	User      User
	// Restriction is "" for a full session, else one of the Restrict* values: the session may
	// then only do what lifts the restriction.
	Restriction string
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
		// Count and audit in one transaction: one commit, like the unknown-user path, so the
		// two cannot be told apart by the time a commit (an fsync) takes.
		if err := s.recordFailure(ctx, id, audit.Event{UserID: id, Username: username, ClientIP: r.ClientIP, Action: "login",
			Outcome: audit.Failure, Detail: "wrong password"}); err != nil {
			return Session{}, err
		}
		return Session{}, ErrInvalidCredentials
	}
	kind := r.Kind
	if kind != KindAPI {
		kind = KindWeb
	}
	u, err := s.UserByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	state, ttl, detail := StateActive, s.opts.AbsoluteTimeout, kind
	if u.MFAEnrolled {
		// The failure count is only reset once the second factor is right too; otherwise the
		// password would buy unlimited guesses at the code.
		state, ttl, detail = StateMFAPending, min(mfaPendingT, s.opts.AbsoluteTimeout), kind+"; second factor pending"
	} else if _, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = $1`, id); err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	sess, err := s.insertSession(ctx, tx, id, kind, state, r.ClientIP, r.UserAgent, ttl)
	if err != nil {
		return Session{}, err
	}
	if err := audit.Record(ctx, tx, audit.Event{UserID: id, Username: username, ClientIP: r.ClientIP, Action: "login", Outcome: audit.Success, Detail: detail}); err != nil {
		return Session{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	sess.User = u
	sess.Restriction = s.restriction(state, u)
	return sess, nil
}

// Authenticate resolves a token to its session, enforcing idle and absolute expiry.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 200 {
		return Session{}, ErrUnauthenticated
	}
	var (
		sess     Session
		lastSeen time.Time
	)
	// The session and its account in one statement: every authenticated request runs it.
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+`, s.kind, s.state, s.csrf_token, s.expires_at, s.last_seen_at`+userFrom+`
		JOIN sessions s ON s.user_id = u.id
		WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL AND s.expires_at > clock_timestamp()`,
		hashToken(token)), &sess.Kind, &sess.State, &sess.CSRFToken, &sess.ExpiresAt, &lastSeen)
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
	sess.User = u
	sess.Restriction = s.restriction(sess.State, sess.User)
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
