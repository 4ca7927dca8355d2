package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/internal/testenv"
)

// TestServeDeliversNotifications: a single 'infowork serve' (no separate 'infowork notify')
// delivers a notification to the user's webhook channel, signed, and marks it sent; the in-app
// inbox still has it unread.
func TestServeDeliversNotifications(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole server in-process")
	}
	dsn := testenv.DSN(t)
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	t.Setenv("INFOWORK_DATA_DIR", t.TempDir())
	t.Setenv("INFOWORK_SEARCH_ENGINE", "embedded")
	t.Setenv("INFOWORK_HTTP_ADDR", freeAddr(t))
	t.Setenv("INFOWORK_LOG_LEVEL", "warn")
	t.Setenv("INFOWORK_SMTP_ADDR", "")
	t.Setenv("INFOWORK_NOTIFY_WEBHOOK_SECRET", "hook-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var ue usageError
	if err := run(ctx, []string{"serve", "--notify-interval", "0s"}); !errors.As(err, &ue) {
		t.Fatalf("serve --notify-interval 0s: want a usage error, got %v", err)
	}

	got := make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte("hook-secret"))
		mac.Write(body)
		if r.Header.Get("X-Infowork-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		got <- m
	}))
	defer hook.Close()

	for _, args := range [][]string{
		{"user", "create", "--username", "zhou", "--password", "Initial-pass-2026", "--role", "editor", "--no-must-change-password"},
		{"user", "create", "--username", "wu", "--password", "Initial-pass-2026", "--role", "editor", "--no-must-change-password"},
		{"notify", "channel", "--username", "zhou", "--kind", "webhook", "--address", hook.URL + "/sms"},
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
	// One notification for a user with a channel, one for a user without (in-app only).
	if _, err := conn.Exec(ctx, `INSERT INTO notifications (user_id, kind, message)
		SELECT id, 'mention', CASE username WHEN 'zhou' THEN '吴编辑在稿件中提到了您' ELSE '仅站内提醒' END
		FROM users WHERE username IN ('zhou', 'wu')`); err != nil {
		t.Fatal(err)
	}

	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(sctx, []string{"serve", "--notify-interval", "200ms"}) }()
	select {
	case m := <-got:
		if m["user"] != "zhou" || m["message"] != "吴编辑在稿件中提到了您" {
			t.Errorf("webhook got %v", m)
		}
	case err := <-done:
		t.Fatalf("serve ended before delivering: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("no notification delivered by 'infowork serve' within 90 s")
	}
	// The delivered row is marked sent (the dispatcher commits after the post); the other user
	// has no channel, so the row stays for the in-app inbox only and nothing fails.
	deadline := time.Now().Add(10 * time.Second)
	var sent, unsentWithoutError int
	for time.Now().Before(deadline) {
		if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE n.sent_at IS NOT NULL AND u.username = 'zhou'),
				count(*) FILTER (WHERE n.sent_at IS NULL AND n.send_attempts = 0 AND u.username = 'wu')
			FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.read_at IS NULL`).Scan(&sent, &unsentWithoutError); err != nil {
			t.Fatal(err)
		}
		if sent == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sent != 1 || unsentWithoutError != 1 {
		t.Errorf("after delivery: zhou's sent %d (want 1), wu's untouched in-app notification %d (want 1)", sent, unsentWithoutError)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	select {
	case m := <-got:
		t.Errorf("delivered twice: %v", m)
	default:
	}
}
