package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"infowork/internal/testenv"
	"infowork/ratelimit"
)

// Two limiters on one database (two replicas) hammered concurrently grant exactly Limit.
func TestAllowIsSharedAndExact(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	a, b := ratelimit.New(db, ratelimit.Options{}), ratelimit.New(db, ratelimit.Options{})
	rule := ratelimit.Rule{Name: "login_user", Limit: 7, Window: time.Hour}
	var allowed, tripped atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			l := a
			if i%2 == 1 {
				l = b
			}
			d, err := l.Allow(t.Context(), rule, "li")
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			} else if d.RetryAfter <= 0 || d.RetryAfter > time.Hour {
				t.Errorf("RetryAfter = %s", d.RetryAfter)
			}
			if d.Tripped {
				tripped.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 7 || tripped.Load() != 1 {
		t.Errorf("allowed %d, tripped %d; want 7 and 1", allowed.Load(), tripped.Load())
	}
	// Other keys and other rules have their own budgets.
	if d, err := a.Allow(t.Context(), rule, "wang"); err != nil || !d.Allowed || d.Count != 1 {
		t.Errorf("another key: %+v, %v", d, err)
	}
	if d, err := a.Allow(t.Context(), ratelimit.Rule{Name: "off", Limit: 0, Window: time.Minute}, "li"); err != nil || !d.Allowed {
		t.Errorf("a rule with no limit refused: %+v, %v", d, err)
	}
}

func TestWindowsRollAndArePurged(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	l := ratelimit.New(db, ratelimit.Options{Retention: time.Hour})
	rule := ratelimit.Rule{Name: "ip", Limit: 1, Window: time.Minute}
	if d, _ := l.Allow(t.Context(), rule, "10.0.0.1"); !d.Allowed {
		t.Fatal("first event refused")
	}
	if d, _ := l.Allow(t.Context(), rule, "10.0.0.1"); d.Allowed {
		t.Fatal("second event in the window allowed")
	}
	// Move the window into the past: the next event starts a new window.
	if _, err := db.Exec(t.Context(), `UPDATE rate_limits SET window_start = window_start - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Allow(t.Context(), rule, "10.0.0.1"); !d.Allowed {
		t.Fatal("an event in a new window was refused")
	}
	n, err := l.Purge(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want the one old window", n, err)
	}
	var left int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM rate_limits`).Scan(&left); err != nil || left != 1 {
		t.Errorf("rows after purge = %d (%v), want the current window only", left, err)
	}
}
