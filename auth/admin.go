package auth

// Account administration by the separated administrators (三员分立):
//
//   - the system administrator (sysadmin) manages the existence of accounts: create (always as a
//     plain reporter at clearance public, with a password to change at first login), disable and
//     enable, reset the password, unlock;
//   - the security administrator (secadmin) is the only one who changes what an account may do:
//     roles, clearance and label categories.
//
// Every change is written in one transaction together with its audit row; a refused change is
// audited as a failure. Disabling an account and every change of its password or authorization
// kills its sessions in the same transaction.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/store"
)

// Admin performs the administrators' account changes.
type Admin struct{ s *Service }

// NewAdmin returns the account administration of s.
func NewAdmin(s *Service) *Admin { return &Admin{s: s} }

// Actor is the administrator performing a change, for the audit log.
type Actor struct {
	UserID   int64
	Username string
	ClientIP string
}

// AdminInputError is a refused administrative change; Message is for the administrator (zh-CN).
type AdminInputError struct{ Message string }

func (e *AdminInputError) Error() string { return e.Message }

func inputErr(format string, args ...any) error {
	return &AdminInputError{Message: fmt.Sprintf(format, args...)}
}

// Account is an account as the administrators see it.
type Account struct {
	ID              int64
	Username        string
	DisplayName     string
	Phone           string
	UnitCode        string
	UnitName        string
	Roles           []string
	Clearance       label.Level
	LabelCategories []string
	MustChange      bool
	FailedLogins    int
	LockedUntil     *time.Time
	DisabledAt      *time.Time
	LastLoginAt     *time.Time
	CreatedAt       time.Time
}

// Locked reports whether the account is locked after failed logins now.
func (a Account) Locked() bool { return a.LockedUntil != nil && a.LockedUntil.After(time.Now()) }

// Disabled reports whether the account is disabled.
func (a Account) Disabled() bool { return a.DisabledAt != nil }

// AdminRole returns the account's administrator role, "" for a business account.
func (a Account) AdminRole() string { return AdminRoleOf(a.Roles) }

// AdminRoleOf returns the administrator role among roles, "" when there is none.
func AdminRoleOf(roles []string) string {
	for _, r := range roles {
		if r == access.RoleSysAdmin || r == access.RoleSecAdmin || r == access.RoleAuditAdmin {
			return r
		}
	}
	return ""
}

const selectAccount = `SELECT u.id, u.username, u.display_name, u.phone, COALESCE(un.code, ''), COALESCE(un.name, ''),
	u.roles, u.clearance, u.label_categories, u.must_change_password, u.failed_logins, u.locked_until, u.disabled_at,
	u.last_login_at, u.created_at
	FROM users u LEFT JOIN units un ON un.id = u.unit_id`

func scanAccount(r pgx.CollectableRow) (Account, error) {
	var a Account
	var cl int16
	err := r.Scan(&a.ID, &a.Username, &a.DisplayName, &a.Phone, &a.UnitCode, &a.UnitName, &a.Roles, &cl, &a.LabelCategories,
		&a.MustChange, &a.FailedLogins, &a.LockedUntil, &a.DisabledAt, &a.LastLoginAt, &a.CreatedAt)
	a.Clearance = label.Level(cl)
	return a, err
}

// AccountFilter selects a page of accounts.
type AccountFilter struct {
	Query    string // part of the username or display name
	UnitCode string
	Page     int
	Size     int
}

// ListAccounts returns a page of accounts ordered by username, and the total.
func (a *Admin) ListAccounts(ctx context.Context, f AccountFilter) ([]Account, int, error) {
	if f.Size <= 0 || f.Size > 200 {
		f.Size = 50
	}
	if f.Page <= 0 {
		f.Page = 1
	}
	var where []string
	var args []any
	if q := strings.TrimSpace(f.Query); q != "" {
		args = append(args, "%"+escapeLike(q)+"%")
		where = append(where, fmt.Sprintf(`(u.username ILIKE $%[1]d OR u.display_name ILIKE $%[1]d)`, len(args)))
	}
	if f.UnitCode != "" {
		args = append(args, f.UnitCode)
		where = append(where, fmt.Sprintf(`un.code = $%d`, len(args)))
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := a.s.db.QueryRow(ctx, `SELECT count(*) FROM users u LEFT JOIN units un ON un.id = u.unit_id`+w, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("auth: list accounts: %w", err)
	}
	args = append(args, f.Size, (f.Page-1)*f.Size)
	rows, err := a.s.db.Query(ctx, selectAccount+w+fmt.Sprintf(` ORDER BY u.username LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: list accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAccount)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: list accounts: %w", err)
	}
	return out, total, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Account loads one account.
func (a *Admin) Account(ctx context.Context, id int64) (Account, error) {
	return a.account(ctx, a.s.db, id, false)
}

func (a *Admin) account(ctx context.Context, db store.DB, id int64, forUpdate bool) (Account, error) {
	q := selectAccount + ` WHERE u.id = $1`
	if forUpdate {
		q += ` FOR UPDATE OF u`
	}
	rows, err := db.Query(ctx, q, id)
	if err != nil {
		return Account{}, fmt.Errorf("auth: account %d: %w", id, err)
	}
	acc, err := pgx.CollectExactlyOneRow(rows, scanAccount)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("auth: account %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("auth: account %d: %w", id, err)
	}
	return acc, nil
}

// NewAccount is what the system administrator enters to create an account.
type NewAccount struct {
	Username    string
	DisplayName string
	Phone       string
	UnitCode    string
	Password    string // initial password; must be changed at first login
}

// change runs fn in a transaction with the account locked and appends the audit row; when fn
// fails the refusal is audited as a failure in a transaction of its own.
func (a *Admin) change(ctx context.Context, actor Actor, action string, id int64, fn func(tx pgx.Tx, acc Account) (detail string, err error)) error {
	var detail string
	err := pgx.BeginFunc(ctx, a.s.db, func(tx pgx.Tx) error {
		acc, err := a.account(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if detail, err = fn(tx, acc); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: actor.UserID, Username: actor.Username, ClientIP: actor.ClientIP,
			Action: action, Object: "user:" + acc.Username, Detail: detail})
	})
	if err != nil {
		a.auditFailure(ctx, actor, action, "user:"+strconv.FormatInt(id, 10), err)
	}
	return err
}

func (a *Admin) auditFailure(ctx context.Context, actor Actor, action, object string, cause error) {
	outcome := audit.Failure
	if errors.Is(cause, ErrSelfAdministration) {
		outcome = audit.Denied
	}
	if err := audit.Write(ctx, a.s.db, audit.Event{UserID: actor.UserID, Username: actor.Username, ClientIP: actor.ClientIP,
		Action: action, Object: object, Outcome: outcome, Detail: truncate(cause.Error(), 500)}); err != nil {
		a.s.log.Error("audit write failed", "action", action, "err", err)
	}
}

// ErrSelfAdministration refuses an administrator's change of its own account.
var ErrSelfAdministration = errors.New("不能对本人账户执行此操作（须由另一名管理员或通过命令行执行）")

// CreateAccount creates an account as the system administrator: role reporter of the given unit,
// clearance public, no label categories, initial password to be changed at first login. Only the
// security administrator can grant more.
func (a *Admin) CreateAccount(ctx context.Context, actor Actor, na NewAccount) (Account, error) {
	const action = "admin.user.create"
	na.Username = strings.TrimSpace(na.Username)
	fail := func(err error) (Account, error) {
		a.auditFailure(ctx, actor, action, "user:"+na.Username, err)
		return Account{}, err
	}
	switch {
	case !usernameRE.MatchString(na.Username):
		return fail(inputErr("用户名须为 2–64 个字母、数字或 . _ @ -"))
	case na.UnitCode == "":
		return fail(inputErr("请选择所属单位（新账户为该单位的信息员）"))
	case len([]rune(na.DisplayName)) > 50:
		return fail(inputErr("姓名最多 50 个字"))
	}
	if err := a.s.CheckPassword(na.Username, na.Password); err != nil {
		return fail(inputErr("初始口令不符合要求：%v", err))
	}
	hash, err := argon2id.CreateHash(na.Password, a.s.opts.HashParams)
	if err != nil {
		return Account{}, fmt.Errorf("auth: create account: %w", err)
	}
	var id int64
	err = pgx.BeginFunc(ctx, a.s.db, func(tx pgx.Tx) error {
		var unitID int64
		if err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, na.UnitCode).Scan(&unitID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return inputErr("单位 %s 不存在", na.UnitCode)
			}
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO users (username, display_name, phone, password_hash, unit_id, roles, clearance, must_change_password)
			VALUES ($1, $2, $3, $4, $5, $6, 0, true) RETURNING id`,
			na.Username, strings.TrimSpace(na.DisplayName), strings.TrimSpace(na.Phone), hash, unitID, []string{access.RoleReporter}).Scan(&id)
		if store.IsUniqueViolation(err, "") {
			return inputErr("用户名 %s 已被使用", na.Username)
		}
		if err != nil {
			return err
		}
		if err := a.s.recordHistory(ctx, tx, id, hash); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: actor.UserID, Username: actor.Username, ClientIP: actor.ClientIP,
			Action: action, Object: "user:" + na.Username,
			Detail: fmt.Sprintf("unit=%s roles=%s clearance=%s must_change_password=true", na.UnitCode, access.RoleReporter, label.Public)})
	})
	if err != nil {
		return fail(err)
	}
	return a.Account(ctx, id)
}

// SetDisabled disables (killing every session) or enables an account.
func (a *Admin) SetDisabled(ctx context.Context, actor Actor, id int64, disabled bool) error {
	action := "admin.user.enable"
	if disabled {
		action = "admin.user.disable"
	}
	return a.change(ctx, actor, action, id, func(tx pgx.Tx, acc Account) (string, error) {
		if acc.ID == actor.UserID {
			return "", ErrSelfAdministration
		}
		if disabled {
			if _, err := tx.Exec(ctx, `UPDATE users SET disabled_at = COALESCE(disabled_at, now()), updated_at = now() WHERE id = $1`, id); err != nil {
				return "", err
			}
			n, err := revokeSessions(ctx, tx, id, nil, "account disabled by "+actor.Username)
			return fmt.Sprintf("sessions_revoked=%d", n), err
		}
		_, err := tx.Exec(ctx, `UPDATE users SET disabled_at = NULL, failed_logins = 0, locked_until = NULL, updated_at = now() WHERE id = $1`, id)
		return "", err
	})
}

// ResetPassword sets a new initial password that must be changed at the next login, clears any
// lock and kills the account's sessions.
func (a *Admin) ResetPassword(ctx context.Context, actor Actor, id int64, password string) error {
	return a.change(ctx, actor, "admin.user.reset_password", id, func(tx pgx.Tx, acc Account) (string, error) {
		if acc.ID == actor.UserID {
			return "", ErrSelfAdministration
		}
		if err := a.s.CheckPassword(acc.Username, password); err != nil {
			return "", inputErr("新口令不符合要求：%v", err)
		}
		hash, err := argon2id.CreateHash(password, a.s.opts.HashParams)
		if err != nil {
			return "", err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, must_change_password = true, password_changed_at = now(),
			failed_logins = 0, locked_until = NULL, updated_at = now() WHERE id = $1`, id, hash); err != nil {
			return "", err
		}
		if err := a.s.recordHistory(ctx, tx, id, hash); err != nil {
			return "", err
		}
		n, err := revokeSessions(ctx, tx, id, nil, "password reset by "+actor.Username)
		return fmt.Sprintf("must_change_password=true sessions_revoked=%d", n), err
	})
}

// Unlock clears the failed-login count and lock of an account.
func (a *Admin) Unlock(ctx context.Context, actor Actor, id int64) error {
	return a.change(ctx, actor, "admin.user.unlock", id, func(tx pgx.Tx, acc Account) (string, error) {
		_, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = now() WHERE id = $1`, id)
		return fmt.Sprintf("failed_logins=%d", acc.FailedLogins), err
	})
}

// Authorization is what the security administrator sets on an account.
type Authorization struct {
	Roles      []string
	Clearance  label.Level
	Categories []string
}

// SetAuthorization sets an account's roles, clearance and label categories (security
// administrator only). Roles follow access.ValidateRoles (one administrator role alone, never
// with business roles); reporters and unit approvers need a unit. A change kills the account's
// sessions so the new rights apply at once.
func (a *Admin) SetAuthorization(ctx context.Context, actor Actor, id int64, z Authorization) error {
	return a.change(ctx, actor, "admin.user.authorize", id, func(tx pgx.Tx, acc Account) (string, error) {
		if acc.ID == actor.UserID {
			return "", ErrSelfAdministration
		}
		roles := slices.Clone(z.Roles)
		slices.Sort(roles)
		roles = slices.Compact(roles)
		if err := access.ValidateRoles(roles); err != nil {
			if len(roles) == 0 {
				return "", inputErr("至少选择一个角色")
			}
			return "", inputErr("角色组合不允许：三员（系统管理员、安全管理员、审计管理员）每个账户只能担任其一，且不能兼任业务角色")
		}
		if acc.UnitCode == "" && (slices.Contains(roles, access.RoleReporter) || slices.Contains(roles, access.RoleUnitApprover)) {
			return "", inputErr("信息员和单位审签人必须属于一个单位；该账户没有所属单位")
		}
		if !z.Clearance.Valid() {
			return "", inputErr("密级无效")
		}
		newLabel := label.Label{Level: z.Clearance, Categories: z.Categories}
		if err := label.SetUserLabel(ctx, tx, id, newLabel); err != nil {
			if errors.Is(err, label.ErrUnknownCategory) || errors.Is(err, label.ErrInvalidCategory) {
				return "", inputErr("标识类别无效：%v", err)
			}
			return "", err
		}
		var cats []string
		if err := tx.QueryRow(ctx, `UPDATE users SET roles = $2, updated_at = now() WHERE id = $1 RETURNING label_categories`, id, roles).Scan(&cats); err != nil {
			return "", err
		}
		oldRoles := slices.Clone(acc.Roles)
		slices.Sort(oldRoles)
		changed := !slices.Equal(oldRoles, roles) || acc.Clearance != z.Clearance || !slices.Equal(acc.LabelCategories, cats)
		detail := fmt.Sprintf("roles %s→%s; clearance %s→%s; categories [%s]→[%s]",
			strings.Join(oldRoles, ","), strings.Join(roles, ","), acc.Clearance, z.Clearance,
			strings.Join(acc.LabelCategories, ","), strings.Join(cats, ","))
		if !changed {
			return detail + "; unchanged", nil
		}
		n, err := revokeSessions(ctx, tx, id, nil, "authorization changed by "+actor.Username)
		return fmt.Sprintf("%s; sessions_revoked=%d", detail, n), err
	})
}
