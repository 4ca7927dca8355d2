package ha_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupDrill runs deploy/postgres/backup-drill.sh (what `make backup-drill` runs): base
// backup, WAL archiving and a point-in-time restore into an empty directory, checked by
// per-table counts and checksums.
func TestBackupDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	script, err := filepath.Abs("../deploy/postgres/backup-drill.sh")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, "bash", script).CombinedOutput() // #nosec G204 -- the repository's own script
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("backup drill: %v", err)
	}
	if !strings.Contains(string(out), "backup-drill: OK") {
		t.Fatal("backup drill did not report OK")
	}
}
