package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/internal/testenv"
)

// CLI-created accounts must change their password at the first login unless told otherwise.
func TestUserCreateForcesPasswordChange(t *testing.T) {
	dsn := testenv.DSN(t)
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	t.Setenv("INFOWORK_DATA_DIR", t.TempDir())
	ctx := context.Background()
	for _, args := range [][]string{
		{"user", "create", "--username", "admin1", "--password", "Initial-pass-2026", "--role", "sysadmin"},
		{"user", "create", "--username", "chosen", "--password", "Initial-pass-2026", "--role", "researcher", "--no-must-change-password"},
	} {
		if err := run(ctx, args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for user, want := range map[string]bool{"admin1": true, "chosen": false} {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT must_change_password FROM users WHERE username = $1`, user).Scan(&got); err != nil || got != want {
			t.Errorf("%s: must_change_password = %v (%v), want %v", user, got, err, want)
		}
	}
	// The password policy from the environment applies to the CLI too.
	t.Setenv("INFOWORK_PASSWORD_CLASSES", "3")
	err = run(ctx, []string{"user", "create", "--username", "weak", "--password", "alllowercaseletters", "--role", "researcher"})
	if err == nil || !strings.Contains(err.Error(), "至少 3 类") {
		t.Errorf("INFOWORK_PASSWORD_CLASSES=3, one-class password: %v", err)
	}
}

func TestAccountConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("INFOWORK_DATA_DIR", dir)
	for _, k := range []string{"INFOWORK_PASSWORD_MIN_LENGTH", "INFOWORK_PASSWORD_CLASSES", "INFOWORK_PASSWORD_MAX_AGE_DAYS",
		"INFOWORK_PASSWORD_HISTORY", "INFOWORK_SESSION_IDLE", "INFOWORK_SESSION_MAX", "INFOWORK_SECRET_KEY"} {
		t.Setenv(k, "")
	}
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	o, err := cfg.authOptions(cfg.logger(), true)
	if err != nil {
		t.Fatal(err)
	}
	if o.MinPasswordLength != 10 || o.PasswordClasses != 0 || o.PasswordMaxAge != 0 || o.PasswordHistory != 5 ||
		o.IdleTimeout != 30*time.Minute || o.AbsoluteTimeout != 12*time.Hour || len(o.SecretKey) != 32 {
		t.Errorf("defaults: %+v", o)
	}
	st, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key not created with 0600: %v", err)
	}

	// A 等保 deployment.
	t.Setenv("INFOWORK_PASSWORD_CLASSES", "3")
	t.Setenv("INFOWORK_PASSWORD_MAX_AGE_DAYS", "90")
	t.Setenv("INFOWORK_PASSWORD_HISTORY", "0")
	t.Setenv("INFOWORK_SESSION_IDLE", "15m")
	t.Setenv("INFOWORK_SECRET_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	cfg, err = loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	o, err = cfg.authOptions(cfg.logger(), true)
	if err != nil {
		t.Fatal(err)
	}
	if o.PasswordClasses != 3 || o.PasswordMaxAge != 90*24*time.Hour || o.PasswordHistory >= 0 || o.IdleTimeout != 15*time.Minute ||
		string(o.SecretKey) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("等保 settings: %+v", o)
	}
	for k, v := range map[string]string{"INFOWORK_PASSWORD_CLASSES": "5", "INFOWORK_PASSWORD_MIN_LENGTH": "6", "INFOWORK_SESSION_IDLE": "soon"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("%s=%s: %v, want an error naming the variable", k, v, err)
			}
		})
	}
}
