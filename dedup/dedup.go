package dedup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/label"
	"infowork/store"
)

// Options tune a lookup; zero values take the defaults.
type Options struct {
	WindowDays int // candidates reported within this many days of the report (default 14)
	Limit      int // most hints returned (default 10)
	Candidates int // most candidates compared (default 3000, newest first)
}

func (o Options) withDefaults() Options {
	if o.WindowDays <= 0 {
		o.WindowDays = 14
	}
	if o.Limit <= 0 {
		o.Limit = 10
	}
	if o.Candidates <= 0 {
		o.Candidates = 3000
	}
	return o
}

// Match is one near-duplicate hint.
type Match struct {
	ID             int64
	Title          string
	UnitCode       string
	UnitName       string
	State          string
	ReportedAt     time.Time
	Classification label.Level
	Score          Score
}

// Service looks up near duplicates.
type Service struct{ db *pgxpool.Pool }

// New builds the service.
func New(db *pgxpool.Pool) *Service { return &Service{db: db} }

type candidate struct {
	Match
	fp *Fingerprint
}

// Similar returns the reports sub may read that look like report id (store.ErrNotFound when sub
// may not read id).
func (s *Service) Similar(ctx context.Context, sub access.Subject, id int64, o Options) ([]Match, error) {
	o = o.withDefaults()
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("dedup: similar %d: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	var title, body string
	var at time.Time
	err = tx.QueryRow(ctx, `SELECT s.title, s.body_text, s.reported_at FROM submissions s WHERE s.id = $1 AND `+pred,
		append([]any{id}, args...)...).Scan(&title, &body, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("dedup: similar %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("dedup: similar %d: %w", id, err)
	}
	fp := Sketch(title, body)
	return s.compare(ctx, tx, sub, fp, at, id, o)
}

// SimilarText returns the reports sub may read that look like a text not yet saved (intake).
func (s *Service) SimilarText(ctx context.Context, sub access.Subject, title, body string, o Options) ([]Match, error) {
	o = o.withDefaults()
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("dedup: similar text: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	return s.compare(ctx, tx, sub, Sketch(title, body), time.Now(), 0, o)
}

func (s *Service) compare(ctx context.Context, tx pgx.Tx, sub access.Subject, fp Fingerprint, at time.Time, exclude int64, o Options) ([]Match, error) {
	if len(fp.Sketch) == 0 {
		return []Match{}, nil
	}
	window := time.Duration(o.WindowDays) * 24 * time.Hour
	cands, err := s.candidates(ctx, tx, sub, at.Add(-window), at.Add(window), o.Candidates)
	if err != nil {
		return nil, err
	}
	return best(fp, cands, exclude, o.Limit), nil
}

// best returns the near duplicates of fp among cands, strongest first.
func best(fp Fingerprint, cands []*candidate, exclude int64, limit int) []Match {
	out := []Match{}
	for _, c := range cands {
		if c.fp == nil || c.ID == exclude {
			continue
		}
		if sc := Compare(fp, *c.fp); sc.Near() {
			m := c.Match
			m.Score = sc
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b Match) int {
		switch {
		case a.Score.Value() > b.Score.Value():
			return -1
		case a.Score.Value() < b.Score.Value():
			return 1
		}
		return 0
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Hints returns the near duplicates of each of ids (those sub may read) among the reports sub
// may read: one candidate query for the whole list, for queues (the editors' desk, lists).
// Ids sub may not read are absent from the map.
func (s *Service) Hints(ctx context.Context, sub access.Subject, ids []int64, o Options) (map[int64][]Match, error) {
	o = o.withDefaults()
	out := map[int64][]Match{}
	if len(ids) == 0 {
		return out, nil
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("dedup: hints: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	var from, to *time.Time
	if err := tx.QueryRow(ctx, `SELECT min(s.reported_at), max(s.reported_at) FROM submissions s WHERE s.id = ANY($1::bigint[]) AND `+pred,
		append([]any{ids}, args...)...).Scan(&from, &to); err != nil {
		return nil, fmt.Errorf("dedup: hints: %w", err)
	}
	if from == nil {
		return out, nil
	}
	window := time.Duration(o.WindowDays) * 24 * time.Hour
	cands, err := s.candidates(ctx, tx, sub, from.Add(-window), to.Add(window), o.Candidates+len(ids))
	if err != nil {
		return nil, err
	}
	byID := map[int64]*candidate{}
	for _, c := range cands {
		byID[c.ID] = c
	}
	for _, id := range ids {
		c, ok := byID[id]
		if !ok || c.fp == nil {
			continue // not visible, archived, or beyond the candidate limit
		}
		var near []*candidate
		for _, d := range cands {
			if d.ReportedAt.Sub(c.ReportedAt).Abs() <= window {
				near = append(near, d)
			}
		}
		out[id] = best(*c.fp, near, id, o.Limit)
	}
	return out, nil
}

// candidates loads the visible, unarchived reports of a time span with their fingerprints,
// computing those missing or outdated.
func (s *Service) candidates(ctx context.Context, tx pgx.Tx, sub access.Subject, from, to time.Time, limit int) ([]*candidate, error) {
	pred, args := access.Predicate(sub, "s", 4)
	rows, err := tx.Query(ctx, `SELECT s.id, s.title, u.code, u.name, s.state, s.reported_at, s.classification,
			f.text_md5 = md5(s.title || E'\n' || s.body_text), f.sketch, f.shingles
		FROM submissions s JOIN units u ON u.id = s.unit_id
		LEFT JOIN submission_fingerprints f ON f.submission_id = s.id
		WHERE s.archived_at IS NULL AND s.reported_at BETWEEN $1 AND $2 AND `+pred+`
		ORDER BY s.reported_at DESC, s.id DESC LIMIT $3`,
		append([]any{from, to, limit}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("dedup: candidates: %w", err)
	}
	var cands []*candidate
	var stale []int64
	for rows.Next() {
		c := &candidate{}
		var cl int16
		var fresh *bool
		var sk []int64
		var n *int32
		if err := rows.Scan(&c.ID, &c.Title, &c.UnitCode, &c.UnitName, &c.State, &c.ReportedAt, &cl, &fresh, &sk, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dedup: candidates: %w", err)
		}
		c.Classification = label.Level(cl)
		if fresh != nil && *fresh && n != nil {
			c.fp = &Fingerprint{Sketch: sk, Shingles: int(*n)}
		} else {
			stale = append(stale, c.ID)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dedup: candidates: %w", err)
	}
	if len(stale) > 0 {
		fresh, err := s.refresh(ctx, stale)
		if err != nil {
			return nil, err
		}
		for _, c := range cands {
			if c.fp == nil {
				if f, ok := fresh[c.ID]; ok {
					c.fp = &f
				}
			}
		}
	}
	return cands, nil
}

// refresh computes and stores the fingerprints of ids (which the caller has already found
// visible), in a transaction of its own: fingerprints are derived data, not user data, and
// holding no label they may be written under the bypass.
func (s *Service) refresh(ctx context.Context, ids []int64) (map[int64]Fingerprint, error) {
	out := make(map[int64]Fingerprint, len(ids))
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, md5(title || E'\n' || body_text), title, body_text FROM submissions WHERE id = ANY($1::bigint[])`, ids)
		if err != nil {
			return err
		}
		type row struct {
			id  int64
			md5 string
			fp  Fingerprint
		}
		var rs []row
		for rows.Next() {
			var r row
			var title, body string
			if err := rows.Scan(&r.id, &r.md5, &title, &body); err != nil {
				rows.Close()
				return err
			}
			r.fp = Sketch(title, body)
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range rs {
			if _, err := tx.Exec(ctx, `INSERT INTO submission_fingerprints (submission_id, text_md5, sketch, shingles)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (submission_id) DO UPDATE SET text_md5 = EXCLUDED.text_md5, sketch = EXCLUDED.sketch,
					shingles = EXCLUDED.shingles, computed_at = now()`, r.id, r.md5, r.fp.Sketch, r.fp.Shingles); err != nil {
				return err
			}
			out[r.id] = r.fp
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dedup: store fingerprints: %w", err)
	}
	return out, nil
}
