package desk_test

import (
	"context"
	"testing"

	"infowork/desk"
)

// BenchmarkDesk measures the desk (queue counts with overdue counts, the total and the first
// 200 items by due time) for an editor over 20,000 open reports.
//
//	go test -run '^$' -bench BenchmarkDesk -benchtime 20x ./desk/
func BenchmarkDesk(b *testing.B) {
	f := newFixtureTB(b)
	ctx := context.Background()
	if _, err := f.db.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, urgency, state, state_entered_at, source)
		SELECT (SELECT id FROM units WHERE code = 'Z101'), '测试' || g, '', '', (ARRAY['normal','urgent','very_urgent'])[1 + g % 3],
		       (ARRAY['submitted','in_review','unit_approval'])[1 + g % 3], now() - (g % 500) * interval '1 hour', 'import'
		FROM generate_series(1, 20000) g`); err != nil {
		b.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		v, err := f.desk.Desk(ctx, f.users["editor1"], desk.Filter{})
		if err != nil || v.Total != 20000 || len(v.Items) != desk.MaxQueueItems {
			b.Fatalf("desk: total %d items %d %v", v.Total, len(v.Items), err)
		}
	}
}
