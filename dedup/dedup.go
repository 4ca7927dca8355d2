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
	version int64
	fp      *Fingerprint
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
	var version int64
	var at time.Time
	err = tx.QueryRow(ctx, `SELECT s.title, s.body_text, s.version, s.reported_at FROM submissions s WHERE s.id = $1 AND `+pred,
		append([]any{id}, args...)...).Scan(&title, &body, &version, &at)
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
	pred, args := access.Predicate(sub, "s", 5)
	window := time.Duration(o.WindowDays) * 24 * time.Hour
	rows, err := tx.Query(ctx, `SELECT s.id, s.title, u.code, u.name, s.state, s.reported_at, s.classification, s.version,
			f.text_version, f.sketch, f.shingles
		FROM submissions s JOIN units u ON u.id = s.unit_id
		LEFT JOIN submission_fingerprints f ON f.submission_id = s.id
		WHERE s.id <> $1 AND s.archived_at IS NULL AND s.reported_at BETWEEN $2 AND $3 AND `+pred+`
		ORDER BY s.reported_at DESC, s.id DESC LIMIT $4`,
		append([]any{exclude, at.Add(-window), at.Add(window), o.Candidates}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("dedup: candidates: %w", err)
	}
	var cands []*candidate
	var stale []int64
	for rows.Next() {
		c := &candidate{}
		var cl int16
		var fv *int64
		var sk []int64
		var n *int32
		if err := rows.Scan(&c.ID, &c.Title, &c.UnitCode, &c.UnitName, &c.State, &c.ReportedAt, &cl, &c.version, &fv, &sk, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dedup: candidates: %w", err)
		}
		c.Classification = label.Level(cl)
		if fv != nil && *fv == c.version && n != nil {
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
	out := []Match{}
	for _, c := range cands {
		if c.fp == nil {
			continue
		}
		if sc := Compare(fp, *c.fp); sc.Near() {
			c.Score = sc
			out = append(out, c.Match)
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
	if len(out) > o.Limit {
		out = out[:o.Limit]
	}
	return out, nil
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
		rows, err := tx.Query(ctx, `SELECT id, version, title, body_text FROM submissions WHERE id = ANY($1::bigint[])`, ids)
		if err != nil {
			return err
		}
		type row struct {
			id, version int64
			fp          Fingerprint
		}
		var rs []row
		for rows.Next() {
			var r row
			var title, body string
			if err := rows.Scan(&r.id, &r.version, &title, &body); err != nil {
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
			if _, err := tx.Exec(ctx, `INSERT INTO submission_fingerprints (submission_id, text_version, sketch, shingles)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (submission_id) DO UPDATE SET text_version = EXCLUDED.text_version, sketch = EXCLUDED.sketch,
					shingles = EXCLUDED.shingles, computed_at = now()`, r.id, r.version, r.fp.Sketch, r.fp.Shingles); err != nil {
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
