// Package solicitation is the office's requests for reports: solicitations (约稿: a topic, the
// units asked, a deadline) and the reporting guide's key points (报送要点: open to every unit,
// usually without a deadline). A report answers one of them by its solicitation_id.
//
// Answers are recorded per target unit in solicitation_targets, for scoring: on_time or late by
// the time the answer reached the office (its first transition into submitted, or its report
// time when it was submitted directly), missing when the deadline passed without one. Refresh
// recomputes these rows from the reports and workflow history, so they are right whatever order
// things happened in (a late answer after "missing" turns it into late); pages and the API call
// it before reading, and scoring can call RefreshAll.
package solicitation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/audit"
	"infowork/store"
	"infowork/submission"
)

// Kinds.
const (
	KindSolicitation = "solicitation"
	KindKeyPoint     = "key_point"
)

// Target statuses.
const (
	StatusPending = "pending"
	StatusOnTime  = "on_time"
	StatusLate    = "late"
	StatusMissing = "missing"
)

var statusNames = map[string]string{StatusPending: "待报送", StatusOnTime: "按时报送", StatusLate: "逾期报送", StatusMissing: "未报送"}

// StatusName is the zh-CN name of a target status.
func StatusName(s string) string { return statusNames[s] }

// KindName is the zh-CN name of a kind.
func KindName(k string) string {
	if k == KindKeyPoint {
		return "报送要点"
	}
	return "约稿"
}

// ValidationError lists problems by field (422).
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	var parts []string
	for _, f := range []string{"kind", "topic", "description", "deadline", "units"} {
		if m, ok := e.Fields[f]; ok {
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, "；")
}

// Target is a unit asked by a solicitation and how it answered.
type Target struct {
	UnitCode     string
	UnitName     string
	Status       string
	SubmissionID *int64
	AnsweredAt   *time.Time
}

// Solicitation is a solicitation or key point.
type Solicitation struct {
	ID          int64
	Kind        string
	Topic       string
	Description string
	Deadline    *time.Time
	CreatedAt   time.Time
	Targets     []Target // solicitations only
}

// Input is a new solicitation or key point.
type Input struct {
	Kind        string
	Topic       string
	Description string
	Deadline    *time.Time
	UnitCodes   []string
	ClientIP    string
}

// Service stores solicitations.
type Service struct{ db *pgxpool.Pool }

// New builds the service.
func New(db *pgxpool.Pool) *Service { return &Service{db: db} }

// Create stores a solicitation (editors only).
func (s *Service) Create(ctx context.Context, sub access.Subject, in Input) (Solicitation, error) {
	if !sub.Has(access.RoleEditor) {
		return Solicitation{}, fmt.Errorf("solicitation: create: %w: only editors issue solicitations", submission.ErrForbidden)
	}
	ve := &ValidationError{Fields: map[string]string{}}
	in.Topic = strings.Join(strings.Fields(in.Topic), " ")
	if in.Kind == "" {
		in.Kind = KindSolicitation
	}
	if in.Kind != KindSolicitation && in.Kind != KindKeyPoint {
		ve.Fields["kind"] = "类型只能是 solicitation（约稿）或 key_point（报送要点）"
	}
	if n := utf8.RuneCountInString(in.Topic); n == 0 || n > 200 {
		ve.Fields["topic"] = "主题须为 1–200 个字"
	}
	if utf8.RuneCountInString(in.Description) > 4000 {
		ve.Fields["description"] = "说明最多 4000 个字"
	}
	codes := slices.Compact(slices.Sorted(slices.Values(in.UnitCodes)))
	if in.Kind == KindSolicitation {
		if in.Deadline == nil {
			ve.Fields["deadline"] = "约稿须设截止时间"
		} else if in.Deadline.Before(time.Now()) {
			ve.Fields["deadline"] = "截止时间不能早于现在"
		}
		if len(codes) == 0 {
			ve.Fields["units"] = "请选择约稿单位"
		}
	}
	if len(ve.Fields) > 0 {
		return Solicitation{}, ve
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var by *int64
		if sub.UserID != 0 {
			by = &sub.UserID
		}
		if err := tx.QueryRow(ctx, `INSERT INTO solicitations (kind, topic, description, deadline, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			in.Kind, in.Topic, strings.TrimSpace(in.Description), in.Deadline, by).Scan(&id); err != nil {
			return err
		}
		if in.Kind == KindSolicitation {
			tag, err := tx.Exec(ctx, `INSERT INTO solicitation_targets (solicitation_id, unit_id)
				SELECT $1, id FROM units WHERE code = ANY($2::text[])`, id, codes)
			if err != nil {
				return err
			}
			if int(tag.RowsAffected()) != len(codes) {
				return &ValidationError{Fields: map[string]string{"units": "约稿单位中有不存在的单位代码"}}
			}
		}
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: in.ClientIP,
			Action: "solicitation.create", Object: "solicitation:" + strconv.FormatInt(id, 10),
			Detail: "kind=" + in.Kind + " units=" + strings.Join(codes, ",")})
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return Solicitation{}, ve
		}
		return Solicitation{}, fmt.Errorf("solicitation: create: %w", err)
	}
	return s.Get(ctx, sub, id)
}

// refreshSQL recomputes the target rows of the given solicitations (all when $1 is NULL).
const refreshSQL = `WITH answers AS (
		SELECT t.solicitation_id, t.unit_id, a.id AS submission_id, a.at
		FROM solicitation_targets t
		LEFT JOIN LATERAL (
			SELECT s.id, COALESCE((SELECT min(e.at) FROM workflow_events e WHERE e.submission_id = s.id AND e.to_state = 'submitted'),
				s.reported_at) AS at
			FROM submissions s
			WHERE s.solicitation_id = t.solicitation_id AND s.unit_id = t.unit_id AND s.archived_at IS NULL
				AND s.state NOT IN ('draft', 'unit_approval', 'withdrawn')
			ORDER BY 2, 1 LIMIT 1) a ON true
		WHERE $1::bigint[] IS NULL OR t.solicitation_id = ANY($1::bigint[])),
	computed AS (
		SELECT x.solicitation_id, x.unit_id, x.submission_id, x.at,
			CASE WHEN x.submission_id IS NULL AND now() > so.deadline THEN 'missing'
			     WHEN x.submission_id IS NULL THEN 'pending'
			     WHEN x.at <= so.deadline THEN 'on_time'
			     ELSE 'late' END AS status
		FROM answers x JOIN solicitations so ON so.id = x.solicitation_id)
	UPDATE solicitation_targets t SET status = c.status, submission_id = c.submission_id, answered_at = c.at, recorded_at = now()
	FROM computed c
	WHERE t.solicitation_id = c.solicitation_id AND t.unit_id = c.unit_id
		AND (t.status, t.submission_id, t.answered_at) IS DISTINCT FROM (c.status, c.submission_id, c.at)`

// Refresh recomputes the answers of solicitations ids.
func (s *Service) Refresh(ctx context.Context, ids ...int64) error {
	if ids == nil {
		ids = []int64{}
	}
	return s.refresh(ctx, ids)
}

// RefreshAll recomputes every solicitation's answers (for scoring).
func (s *Service) RefreshAll(ctx context.Context) error { return s.refresh(ctx, nil) }

// refresh reads every unit's reports whoever asks (the counts are the office's record, not a
// reader's view), so it runs under the row-level-security bypass.
func (s *Service) refresh(ctx context.Context, ids []int64) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, refreshSQL, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("solicitation: refresh: %w", err)
	}
	return nil
}

// visible: the office sees everything; a unit sees key points and the solicitations it is asked.
func visible(sub access.Subject, alias string, next int) (string, []any) {
	if sub.AllUnits() {
		return "true", nil
	}
	return fmt.Sprintf(`(%[1]s.kind = 'key_point' OR EXISTS (SELECT 1 FROM solicitation_targets vt JOIN units vu ON vu.id = vt.unit_id
		WHERE vt.solicitation_id = %[1]s.id AND vu.code = $%[2]d))`, alias, next), []any{sub.UnitCode}
}

// Get returns one solicitation with its targets (a unit sees only its own row).
func (s *Service) Get(ctx context.Context, sub access.Subject, id int64) (Solicitation, error) {
	if err := s.Refresh(ctx, id); err != nil {
		return Solicitation{}, err
	}
	pred, args := visible(sub, "so", 2)
	var so Solicitation
	err := s.db.QueryRow(ctx, `SELECT so.id, so.kind, so.topic, so.description, so.deadline, so.created_at FROM solicitations so
		WHERE so.id = $1 AND so.archived_at IS NULL AND `+pred, append([]any{id}, args...)...).
		Scan(&so.ID, &so.Kind, &so.Topic, &so.Description, &so.Deadline, &so.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Solicitation{}, fmt.Errorf("solicitation %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Solicitation{}, fmt.Errorf("solicitation %d: %w", id, err)
	}
	q := `SELECT u.code, u.name, t.status, t.submission_id, t.answered_at FROM solicitation_targets t JOIN units u ON u.id = t.unit_id
		WHERE t.solicitation_id = $1`
	targs := []any{id}
	if !sub.AllUnits() {
		q += ` AND u.code = $2`
		targs = append(targs, sub.UnitCode)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY u.code`, targs...)
	if err != nil {
		return Solicitation{}, fmt.Errorf("solicitation %d: %w", id, err)
	}
	so.Targets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Target, error) {
		var t Target
		err := r.Scan(&t.UnitCode, &t.UnitName, &t.Status, &t.SubmissionID, &t.AnsweredAt)
		return t, err
	})
	if err != nil {
		return Solicitation{}, fmt.Errorf("solicitation %d: %w", id, err)
	}
	return so, nil
}

// List returns the solicitations and key points sub may see, open ones first (by deadline).
func (s *Service) List(ctx context.Context, sub access.Subject) ([]Solicitation, error) {
	if err := s.RefreshAll(ctx); err != nil {
		return nil, err
	}
	pred, args := visible(sub, "so", 1)
	rows, err := s.db.Query(ctx, `SELECT so.id FROM solicitations so WHERE so.archived_at IS NULL AND `+pred+`
		ORDER BY so.deadline IS NULL, so.deadline < now(), so.deadline, so.id DESC LIMIT 200`, args...)
	if err != nil {
		return nil, fmt.Errorf("solicitation: list: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("solicitation: list: %w", err)
	}
	out := make([]Solicitation, 0, len(ids))
	for _, id := range ids {
		so, err := s.Get(ctx, sub, id)
		if err != nil {
			return nil, err
		}
		out = append(out, so)
	}
	return out, nil
}
