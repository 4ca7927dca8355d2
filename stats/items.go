package stats

import (
	"context"
	"fmt"
	"time"

	"infowork/access"
	"infowork/search"
)

// Which records of a group a drill-down lists.
const (
	WhichAll       = "all"
	WhichSubmitted = "submitted"
	WhichAdopted   = "adopted"
	WhichMerged    = "merged"
	WhichReturned  = "returned"
)

var whichCond = map[string]string{
	WhichAll:       "true",
	WhichSubmitted: "s.state NOT IN ('draft', 'unit_approval')",
	WhichAdopted:   "s.state = 'adopted'",
	WhichMerged:    "s.state = 'merged'",
	WhichReturned:  "(s.state = 'returned' OR EXISTS (SELECT 1 FROM workflow_events w WHERE w.submission_id = s.id AND w.to_state = 'returned'))",
}

// WhichName is the zh-CN name of a drill-down selection.
func WhichName(w string) string {
	return map[string]string{WhichAll: "全部信息", WhichSubmitted: "已报送", WhichAdopted: "采用", WhichMerged: "综合采用", WhichReturned: "退回过"}[w]
}

// Item is one record of a drill-down list.
type Item struct {
	ID             int64
	Title          string
	UnitName       string
	State          string
	Classification int
	ReportedAt     time.Time
}

// ItemPage is a page of a drill-down list.
type ItemPage struct {
	Items []Item
	Total int
	Page  int
	Size  int
}

// Items lists the records behind one number of a statistics table (dim = key, which), newest
// first, within sub's access: the same predicate as Table, so the count here equals the number
// shown there.
func (s *Service) Items(ctx context.Context, sub access.Subject, dim, key, which string, f Filter, page, size int) (ItemPage, error) {
	k, ok := keyExpr[dim]
	cond, wok := whichCond[which]
	if !ok || !wok {
		return ItemPage{}, fmt.Errorf("%w: 维度或类别无效", search.ErrBadQuery)
	}
	w, args := where(sub, f)
	args = append(args, key)
	w += fmt.Sprintf(" AND %s = $%d AND %s", k, len(args), cond)
	from := topCategories + ` SELECT %s FROM submissions s JOIN units u ON u.id = s.unit_id LEFT JOIN top t ON t.id = s.category_id WHERE ` + w
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return ItemPage{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	p := ItemPage{Page: max(page, 1), Size: size}
	if err := tx.QueryRow(ctx, fmt.Sprintf(from, "count(*)"), args...).Scan(&p.Total); err != nil {
		return p, fmt.Errorf("stats: items: %w", err)
	}
	args = append(args, size, (p.Page-1)*size)
	rows, err := tx.Query(ctx, fmt.Sprintf(from, "s.id, s.title, u.name, s.state, s.classification, s.reported_at")+
		fmt.Sprintf(" ORDER BY s.reported_at DESC, s.id DESC LIMIT $%d OFFSET $%d", len(args)-1, len(args)), args...)
	if err != nil {
		return p, fmt.Errorf("stats: items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it Item
		var lvl int16
		if err := rows.Scan(&it.ID, &it.Title, &it.UnitName, &it.State, &lvl, &it.ReportedAt); err != nil {
			return p, fmt.Errorf("stats: items: %w", err)
		}
		it.Classification = int(lvl)
		p.Items = append(p.Items, it)
	}
	return p, rows.Err()
}

// Heat counts the visible records per district and top category (the office's heat map).
func (s *Service) Heat(ctx context.Context, sub access.Subject, f Filter) (map[string]map[string]int, error) {
	w, args := where(sub, f)
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, topCategories+`SELECT s.district, COALESCE(t.top_name, ''), count(*)
		FROM submissions s JOIN units u ON u.id = s.unit_id LEFT JOIN top t ON t.id = s.category_id WHERE `+w+` GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("stats: heat: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var d, c string
		var n int
		if err := rows.Scan(&d, &c, &n); err != nil {
			return nil, fmt.Errorf("stats: heat: %w", err)
		}
		if out[d] == nil {
			out[d] = map[string]int{}
		}
		out[d][c] = n
	}
	return out, rows.Err()
}

// StateCounts counts the visible records per workflow state, and for the ones waiting for the
// office (submitted, in_review) how long they have waited: under a day, 1–3 days, over 3 days.
func (s *Service) StateCounts(ctx context.Context, sub access.Subject, now time.Time) (map[string]int, [3]int, error) {
	pred, args := access.Predicate(sub, "s", 1)
	args = append(args, now)
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, [3]int{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT s.state, count(*),
			count(*) FILTER (WHERE s.state IN ('submitted', 'in_review') AND $%[1]d - s.state_entered_at < interval '1 day'),
			count(*) FILTER (WHERE s.state IN ('submitted', 'in_review') AND $%[1]d - s.state_entered_at BETWEEN interval '1 day' AND interval '3 days'),
			count(*) FILTER (WHERE s.state IN ('submitted', 'in_review') AND $%[1]d - s.state_entered_at > interval '3 days')
		FROM submissions s WHERE %[2]s AND s.archived_at IS NULL GROUP BY s.state`, len(args), pred), args...)
	if err != nil {
		return nil, [3]int{}, fmt.Errorf("stats: states: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	var age [3]int
	for rows.Next() {
		var st string
		var n, a0, a1, a2 int
		if err := rows.Scan(&st, &n, &a0, &a1, &a2); err != nil {
			return nil, age, fmt.Errorf("stats: states: %w", err)
		}
		out[st] = n
		age[0] += a0
		age[1] += a1
		age[2] += a2
	}
	return out, age, rows.Err()
}

// FollowUp counts the follow-up tasks (督办) of leader endorsements on the records sub may read,
// by state, and the open ones past their deadline.
func (s *Service) FollowUp(ctx context.Context, sub access.Subject, now time.Time) (map[string]int, int, error) {
	pred, args := access.Predicate(sub, "s", 1)
	args = append(args, now)
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT t.state, count(*), count(*) FILTER (WHERE t.state <> 'closed' AND t.deadline < ($%d::timestamptz AT TIME ZONE 'Asia/Shanghai')::date)
		FROM endorsement_tasks t JOIN endorsements e ON e.id = t.endorsement_id
		JOIN submissions s ON e.item_kind = 'submission' AND s.id = e.item_id
		WHERE %s GROUP BY t.state`, len(args), pred), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("stats: follow-up: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	overdue := 0
	for rows.Next() {
		var st string
		var n, o int
		if err := rows.Scan(&st, &n, &o); err != nil {
			return nil, 0, fmt.Errorf("stats: follow-up: %w", err)
		}
		out[st] = n
		overdue += o
	}
	return out, overdue, rows.Err()
}

// LatestYear is the calendar year of the newest record sub may read (the current year when
// there is none): the natural default period of statistics, also on historical data.
func (s *Service) LatestYear(ctx context.Context, sub access.Subject, now time.Time) (int, error) {
	pred, args := access.Predicate(sub, "s", 1)
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	var latest *time.Time
	if err := tx.QueryRow(ctx, `SELECT max(s.reported_at) FROM submissions s WHERE `+pred, args...).Scan(&latest); err != nil {
		return 0, fmt.Errorf("stats: latest year: %w", err)
	}
	if latest == nil || latest.After(now) {
		return now.In(search.Location).Year(), nil
	}
	return latest.In(search.Location).Year(), nil
}
