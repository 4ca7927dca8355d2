package testpg

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	err := connect(t, AdminDSN(t)).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func currentDatabase(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestNewDatabaseIsolatedAndDropped(t *testing.T) {
	ctx := context.Background()
	var first, second string
	t.Run("use", func(t *testing.T) {
		// Registered before NewDatabase, so this connection is still open when the
		// database is dropped: cleanup must terminate it first.
		var leftover *pgx.Conn
		t.Cleanup(func() {
			if leftover != nil {
				leftover.Close(context.Background())
			}
		})
		dsn := NewDatabase(t)
		var err error
		if leftover, err = pgx.Connect(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		a := connect(t, dsn)
		b := connect(t, NewDatabase(t))
		first, second = currentDatabase(t, a), currentDatabase(t, b)
		if first == second || !strings.HasPrefix(first, "t_") {
			t.Fatalf("databases %q and %q: want two distinct t_… names", first, second)
		}
		if _, err := a.Exec(ctx, "CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Exec(ctx, "INSERT INTO note VALUES (1, '民情信息')"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'note'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("second database sees the first one's table: count %d, %v", n, err)
		}
	})
	for _, name := range []string{first, second} {
		if databaseExists(t, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestNewDatabaseFromTemplate(t *testing.T) {
	ctx := context.Background()
	tmplDSN := NewDatabase(t)
	tmpl := connect(t, tmplDSN)
	tmplName := currentDatabase(t, tmpl)
	if _, err := tmpl.Exec(ctx, "CREATE TABLE unit (code text PRIMARY KEY); INSERT INTO unit VALUES ('d01'), ('d02')"); err != nil {
		t.Fatal(err)
	}
	tmpl.Close(ctx) // a template must have no connections while it is cloned

	clone := connect(t, NewDatabaseFromTemplate(t, tmplName))
	var n int
	if err := clone.QueryRow(ctx, "SELECT count(*) FROM unit").Scan(&n); err != nil || n != 2 {
		t.Fatalf("clone has %d units, %v; want 2", n, err)
	}
	if _, err := clone.Exec(ctx, "INSERT INTO unit VALUES ('d03')"); err != nil {
		t.Fatal(err)
	}
	again := connect(t, NewDatabaseFromTemplate(t, tmplName))
	if err := again.QueryRow(ctx, "SELECT count(*) FROM unit").Scan(&n); err != nil || n != 2 {
		t.Fatalf("second clone has %d units, %v; want 2 (clones must not share rows)", n, err)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@127.0.0.1:5432/postgres?sslmode=disable", "postgres://u@127.0.0.1:5432/t_1?sslmode=disable"},
		{"postgresql://u:p@h/x", "postgresql://u:p@h/t_1"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=t_1"},
	} {
		got, err := withDatabase(tc.in, "t_1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
