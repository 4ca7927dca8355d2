package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"strings"

	"infowork/access"
	"infowork/audit"
	"infowork/auth"
	"infowork/label"
	"infowork/outbox"
	"infowork/store"
	"infowork/unit"
)

func cmdMigrate(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError{"migrate takes no arguments"}
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	db, err := cfg.openDB(ctx, cfg.logger()) // openDB migrates
	if err != nil {
		return err
	}
	db.Close()
	ms, _ := store.Migrations()
	fmt.Printf("database is at schema version %d\n", ms[len(ms)-1].Version)
	return nil
}

func cmdUnitCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("unit create", flag.ContinueOnError)
	code := fs.String("code", "", "unit code (letters, digits, . _ -)")
	name := fs.String("name", "", "unit name")
	kind := fs.String("kind", unit.KindDirect, "direct, bureau, district or office")
	parent := fs.String("parent", "", "parent unit code")
	district := fs.String("district", "", "district the unit belongs to")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *code == "" || *name == "" {
		return usageError{"unit create needs --code and --name"}
	}
	_, db, _, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	id, err := unit.Upsert(ctx, db, unit.Unit{Code: *code, Name: *name, Kind: *kind, ParentCode: *parent, District: *district})
	if err != nil {
		return err
	}
	fmt.Printf("unit %s saved (id %d)\n", *code, id)
	return nil
}

func cmdUserCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	username := fs.String("username", "", "login name")
	password := fs.String("password", "", "initial password")
	roles := fs.String("role", "", "role(s), comma-separated: "+strings.Join(access.Roles, ", "))
	unitCode := fs.String("unit", "", "unit code (required for reporter and unit_approver)")
	clearance := fs.String("clearance", "public", "public, internal, secret or confidential")
	name := fs.String("name", "", "display name")
	phone := fs.String("phone", "", "phone number")
	mustChange := fs.Bool("must-change-password", true, "require a password change at first login (the default)")
	noMustChange := fs.Bool("no-must-change-password", false, "do not require a password change at first login (for accounts whose password the user chose)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *username == "" || *password == "" || *roles == "" {
		return usageError{"user create needs --username, --password and --role"}
	}
	lvl, err := label.Parse(*clearance)
	if err != nil {
		return usageError{err.Error()}
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	authOpts, err := cfg.authOptions(log, false)
	if err != nil {
		return err
	}
	svc, err := auth.New(db, authOpts)
	if err != nil {
		return err
	}
	u, err := svc.CreateUser(ctx, auth.NewUser{Username: *username, Password: *password, DisplayName: *name, Phone: *phone,
		Roles: strings.Split(*roles, ","), UnitCode: *unitCode, Clearance: lvl, MustChangePassword: *mustChange && !*noMustChange})
	if err != nil {
		return err
	}
	if err := audit.Write(ctx, db, audit.Event{Username: "cli", Action: "user.create", Object: "user:" + u.Username,
		Detail: fmt.Sprintf("roles=%s clearance=%s unit=%s", strings.Join(u.Roles, ","), u.Clearance, u.UnitCode)}); err != nil {
		return err
	}
	fmt.Printf("user %s created (id %d, roles %s, clearance %s)\n", u.Username, u.ID, strings.Join(u.Roles, ","), u.Clearance)
	if u.MustChangePassword {
		fmt.Println("  the password must be changed at the first login")
	}
	if auth.RequiresMFA(u.Roles) {
		fmt.Println("  administrators must enroll a second factor (TOTP) at the first login")
	}
	return nil
}

func cmdAuditVerify(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError{"audit verify takes no arguments"}
	}
	_, db, _, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := audit.Verify(ctx, db)
	if err != nil {
		return err
	}
	if res.BrokenAt != 0 {
		return fmt.Errorf("audit chain broken at row %d of %d: %s", res.BrokenAt, res.Rows, res.Reason)
	}
	fmt.Printf("audit chain intact: %d rows verified\n", res.Rows)
	return nil
}

func cmdOutboxReplay(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError{"outbox replay takes no arguments"}
	}
	_, db, _, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := outbox.Replay(ctx, db)
	if err != nil {
		return err
	}
	fmt.Printf("%d dead-letter rows returned to the queue\n", n)
	return nil
}

// queueAll puts every searchable record into the outbox. It is trusted internal work, so it
// runs with the row-level-security bypass (the application role would otherwise see no rows).
func queueAll(ctx context.Context, db *pgxpool.Pool) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		// Records already waiting in the outbox (a fresh demo load, say) are not queued twice.
		tag, err := tx.Exec(ctx, `INSERT INTO outbox (entity, entity_id)
			SELECT 'submission', s.id FROM submissions s
			WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity = 'submission' AND o.entity_id = s.id AND o.dead_at IS NULL)
			ORDER BY s.id`)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queue records for indexing: %w", err)
	}
	return n, nil
}
