package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/auth"
	"infowork/category"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

// Password is the password of every demo account. Demo accounts exist only in demo
// installations; `infowork demo` prints them.
const Password = "Demo-2026-infowork" // #nosec G101 -- published demo password for demo installations only, not a secret

// Account is one demo login.
type Account struct {
	Username, DisplayName, Role, UnitCode string
	Clearance                             label.Level
	Note                                  string
}

// Accounts are created by Seed; the first unit-bound ones use units that the corpus and the
// shipped sample both have.
var Accounts = []Account{
	{"reporter", "张信息员", access.RoleReporter, "Z001", label.Internal, "直报点信息员：只看本单位，密级内部"},
	{"bureau", "李信息员", access.RoleReporter, "B001", label.Internal, "委办局信息员：只看本单位"},
	{"approver", "王审签", access.RoleUnitApprover, "Z001", label.Secret, "单位审签人"},
	{"editor", "赵编辑", access.RoleEditor, "", label.Secret, "编辑：全部单位，密级秘密"},
	{"researcher", "钱研究", access.RoleResearcher, "", label.Secret, "研究人员：全部单位，密级秘密"},
	{"reader", "孙公开", access.RoleResearcher, "", label.Public, "研究人员：只看公开信息（演示密级过滤）"},
	{"leader", "周领导", access.RoleLeader, "", label.Confidential, "领导：全部单位，密级机密"},
	{"sysadmin", "吴系统", access.RoleSysAdmin, "", label.Public, "系统管理员：账户、单位、运行状态（首次登录绑定动态口令）"},
	{"secadmin", "郑安全", access.RoleSecAdmin, "", label.Public, "安全管理员：角色、密级、标识（首次登录绑定动态口令）"},
	{"auditadmin", "冯审计", access.RoleAuditAdmin, "", label.Public, "审计管理员：审计日志（首次登录绑定动态口令）"},
}

// SeedResult reports what Seed did.
type SeedResult struct {
	Units, Categories, Accounts, Messages, Skipped int
	Took                                           time.Duration
}

// Seed writes the data set through the normal domain code (so every report gets its outbox row
// and is indexed like any other). It is idempotent: units and categories are upserted, existing
// accounts are kept, and reports are keyed by their SourceID.
func Seed(ctx context.Context, db *pgxpool.Pool, authSvc *auth.Service, subs *submission.Service, ds *Dataset, progress io.Writer) (SeedResult, error) {
	start := time.Now()
	var res SeedResult
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := unit.Upsert(ctx, tx, unit.Unit{Code: "OFFICE", Name: "市委市政府信息办", Kind: unit.KindOffice}); err != nil {
			return err
		}
		// Parents first: units whose parent is not yet stored wait for a later pass.
		pending := ds.Units
		for len(pending) > 0 {
			var next []Unit
			for _, u := range pending {
				if _, err := unit.Upsert(ctx, tx, unit.Unit{Code: u.Code, Name: u.Name, Kind: u.Kind, ParentCode: u.Parent, District: u.District}); err != nil {
					if u.Parent != "" && len(next) < len(pending) {
						next = append(next, u)
						continue
					}
					return err
				}
				res.Units++
			}
			if len(next) == len(pending) {
				return fmt.Errorf("demo: units with missing parents: %d", len(next))
			}
			pending = next
		}
		for _, c := range ds.Categories {
			if _, err := category.Upsert(ctx, tx, category.Category{Code: c.Code, Name: c.Name, ParentCode: c.Parent, Level: c.Level}); err != nil {
				return err
			}
			res.Categories++
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("demo: seed units and categories: %w", err)
	}
	for _, a := range Accounts {
		_, err := authSvc.CreateUser(ctx, auth.NewUser{Username: a.Username, Password: Password, DisplayName: a.DisplayName,
			Roles: []string{a.Role}, UnitCode: a.UnitCode, Clearance: a.Clearance, Phone: "0731-8888" + fmt.Sprintf("%04d", len(a.Username)*37%10000)})
		switch {
		case err == nil:
			res.Accounts++
		case errors.Is(err, store.ErrConflict):
		default:
			return res, fmt.Errorf("demo: account %s: %w", a.Username, err)
		}
	}
	system := access.Subject{Username: "demo", Clearance: label.Confidential, Roles: []string{access.RoleReporter}}
	const batch = 500
	for i := 0; i < len(ds.Messages); i += batch {
		end := min(i+batch, len(ds.Messages))
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if err := access.SetBypass(ctx, tx); err != nil { // trusted loader: row-level security would refuse the inserts
				return err
			}
			for _, m := range ds.Messages[i:end] {
				c, err := subs.CreateTx(ctx, tx, m.UnitCode, system, submission.Input{
					Title: m.Title, Body: m.Body, CategoryCode: m.CategoryCode, Urgency: m.Urgency,
					Classification: m.Classification, Source: "demo", SourceRef: m.SourceID, ReportedAt: m.Time,
				})
				var ve *submission.ValidationError
				switch {
				case errors.As(err, &ve):
					res.Skipped++
					continue
				case err != nil:
					return err
				case c.Duplicate:
					continue
				}
				res.Messages++
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("demo: seed messages: %w", err)
		}
		if progress != nil {
			bar(progress, end, len(ds.Messages))
		}
	}
	if progress != nil && len(ds.Messages) > 0 {
		fmt.Fprintln(progress)
	}
	if _, err := seedPeriodicals(ctx, db); err != nil { // periodicals.go (issue 6)
		return res, err
	}
	res.Took = time.Since(start)
	return res, nil
}

// bar draws a one-line progress bar.
func bar(w io.Writer, done, total int) {
	const width = 30
	filled := width * done / max(total, 1)
	b := make([]rune, width)
	for i := range b {
		b[i] = '░'
		if i < filled {
			b[i] = '█'
		}
	}
	fmt.Fprintf(w, "\r载入演示信息 %s %d/%d", string(b), done, total)
}
