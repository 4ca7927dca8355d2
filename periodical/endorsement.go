package periodical

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

	"infowork/access"
	"infowork/audit"
)

// Leader levels of an endorsement (scoring weights live with the scoring rules).
var LeaderLevels = []string{"central", "province", "city", "city_office", "county"}

var leaderLevelNames = map[string]string{"central": "中央领导", "province": "省级领导", "city": "市级领导",
	"city_office": "市委/市政府办公室领导", "county": "县级领导"}

// LeaderLevelName is the zh-CN name of a leader level.
func LeaderLevelName(l string) string { return leaderLevelNames[l] }

var taskStateNames = map[string]string{"open": "待反馈", "answered": "已反馈", "closed": "已办结"}

// TaskStateName is the zh-CN name of a follow-up task state.
func TaskStateName(s string) string { return taskStateNames[s] }

// MaxScanBytes bounds the scan of an endorsement.
const MaxScanBytes = 10 << 20

// EndorsementInput records a leader's endorsement of an item.
type EndorsementInput struct {
	IssueItemID int64
	Leader      string
	Level       string
	Text        string
	Date        time.Time
	ScanName    string
	ScanType    string
	Scan        []byte
	// Deadline of the follow-up tasks; zero means no tasks are created.
	Deadline time.Time
	// ExtraUnits are unit codes made responsible in addition to the contributing units.
	ExtraUnits []string
}

// Endorsement is a recorded 批示 with its tasks.
type Endorsement struct {
	ID          int64
	IssueID     int64
	IssueItemID int64
	Ref         Ref
	ItemTitle   string
	IssueNumber string
	Periodical  string
	Leader      string
	Level       string
	Text        string
	Date        time.Time
	ScanName    string
	ScanSHA256  string
	HasScan     bool
	State       string
	Review      string
	CreatedAt   time.Time
	Tasks       []Task
}

// Task is a follow-up task (督办) of one responsible unit.
type Task struct {
	ID            int64
	EndorsementID int64
	UnitCode      string
	UnitName      string
	Deadline      time.Time
	State         string
	Feedback      string
	FeedbackBy    string
	FeedbackAt    *time.Time
	Review        string
	ReviewedAt    *time.Time
}

// Overdue reports whether an open task is past its deadline (Asia/Shanghai days).
func (t Task) Overdue(now time.Time) bool {
	n := now.In(time.FixedZone("CST", 8*3600))
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	return t.State == "open" && t.Deadline.Before(today)
}

// Endorse records a leader's endorsement on an item of a signed issue and creates one
// follow-up task per responsible unit (the item's contributing units plus ExtraUnits), all in
// one transaction; the item is re-indexed so the endorsed facet follows.
func (s *Service) Endorse(ctx context.Context, sub access.Subject, in EndorsementInput, clientIP string) (Endorsement, error) {
	if !canManage(sub) {
		return Endorsement{}, fmt.Errorf("periodical: endorse: %w", ErrForbidden)
	}
	ve := &ValidationError{}
	in.Leader, in.Text = strings.TrimSpace(in.Leader), strings.TrimSpace(in.Text)
	if n := utf8.RuneCountInString(in.Leader); n == 0 || n > 50 {
		ve.add("leader", "批示领导须为 1–50 个字")
	}
	if !slices.Contains(LeaderLevels, in.Level) {
		ve.add("level", "领导级别无效")
	}
	if n := utf8.RuneCountInString(in.Text); n == 0 || n > 5000 {
		ve.add("text", "批示内容须为 1–5000 个字")
	}
	if in.Date.IsZero() {
		ve.add("date", "请填写批示日期")
	}
	if len(in.Scan) > MaxScanBytes {
		ve.add("scan", fmt.Sprintf("批示件扫描最大 %d MiB", MaxScanBytes>>20))
	}
	if !in.Deadline.IsZero() && !in.Date.IsZero() && in.Deadline.Before(in.Date) {
		ve.add("deadline", "反馈期限不能早于批示日期")
	}
	if err := ve.err(); err != nil {
		return Endorsement{}, err
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var issueID int64
		var ref Ref
		err := tx.QueryRow(ctx, `SELECT issue_id, item_kind, item_id FROM periodical_issue_items WHERE id = $1 AND removed_at IS NULL`, in.IssueItemID).
			Scan(&issueID, &ref.Kind, &ref.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("item %d: %w", in.IssueItemID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		is, err := s.loadIssue(ctx, tx, sub, issueID, false)
		if err != nil {
			return err
		}
		if is.State == "draft" || is.State == "void" {
			return stateErr("本期%s，只能对已签发刊物上的条目登记批示", StateName(is.State))
		}
		recs, err := s.load(ctx, tx, []Ref{ref})
		if err != nil {
			return err
		}
		rec, ok := recs[ref]
		if !ok {
			return fmt.Errorf("item %d: %w", in.IssueItemID, ErrNotFound)
		}
		var scan []byte
		var scanSHA string
		if len(in.Scan) > 0 {
			scan, scanSHA = in.Scan, sha(in.Scan)
		}
		// Without a deadline nothing is to be followed up (a 参阅性 endorsement): recorded closed.
		state := "open"
		if in.Deadline.IsZero() {
			state = "closed"
		}
		if err := tx.QueryRow(ctx, `INSERT INTO endorsements (issue_item_id, item_kind, item_id, leader_name, leader_level, text, endorsed_on,
				scan_name, scan_type, scan, scan_sha256, created_by, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			in.IssueItemID, ref.Kind, ref.ID, in.Leader, in.Level, in.Text, in.Date, in.ScanName, in.ScanType, scan, scanSHA, nullID(sub.UserID), state).Scan(&id); err != nil {
			return err
		}
		if !in.Deadline.IsZero() {
			unitIDs := []int64{}
			for _, u := range rec.Units {
				unitIDs = append(unitIDs, u.ID)
			}
			for _, code := range cleanList(in.ExtraUnits, 32) {
				var uid int64
				if err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, code).Scan(&uid); err != nil {
					return &ValidationError{Fields: map[string]string{"units": fmt.Sprintf("单位 %q 不存在", code)}}
				}
				if !slices.Contains(unitIDs, uid) {
					unitIDs = append(unitIDs, uid)
				}
			}
			for _, uid := range unitIDs {
				if _, err := tx.Exec(ctx, `INSERT INTO endorsement_tasks (endorsement_id, unit_id, deadline) VALUES ($1, $2, $3)`, id, uid, in.Deadline); err != nil {
					return err
				}
			}
		}
		if err := reindexRefs(ctx, tx, []Ref{ref}); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "endorsement.create", Object: "endorsement:" + strconv.FormatInt(id, 10), Label: &lv,
			Detail: fmt.Sprintf("%s %s on %s", in.Leader, in.Level, ref)})
	})
	if err != nil {
		return Endorsement{}, fmt.Errorf("periodical: endorse item %d: %w", in.IssueItemID, err)
	}
	return s.Endorsement(ctx, sub, id)
}

const selectEndorsement = `SELECT e.id, it.issue_id, e.issue_item_id, e.item_kind, e.item_id, e.leader_name, e.leader_level, e.text,
	e.endorsed_on, e.scan_name, e.scan_sha256, e.scan IS NOT NULL, e.state, e.review, e.created_at,
	p.name, i.year, i.year_number, i.total_number, i.classification
	FROM endorsements e
	JOIN periodical_issue_items it ON it.id = e.issue_item_id
	JOIN periodical_issues i ON i.id = it.issue_id
	JOIN periodicals p ON p.id = i.periodical_id`

func scanEndorsement(r pgx.CollectableRow) (Endorsement, error) {
	var e Endorsement
	var y, n, t, cl int
	err := r.Scan(&e.ID, &e.IssueID, &e.IssueItemID, &e.Ref.Kind, &e.Ref.ID, &e.Leader, &e.Level, &e.Text, &e.Date, &e.ScanName,
		&e.ScanSHA256, &e.HasScan, &e.State, &e.Review, &e.CreatedAt, &e.Periodical, &y, &n, &t, &cl)
	e.IssueNumber = fmt.Sprintf("%d年第%d期（总第%d期）", y, n, t)
	return e, err
}

// canSeeEndorsements: office roles see every endorsement within their clearance; unit users
// see those with a task for their unit.
func endorsementScope(sub access.Subject, next int) (string, []any) {
	if sub.AllUnits() {
		return fmt.Sprintf("i.classification <= $%d", next), []any{int(sub.Clearance)}
	}
	return fmt.Sprintf("i.classification <= $%d AND EXISTS (SELECT 1 FROM endorsement_tasks t JOIN units u ON u.id = t.unit_id WHERE t.endorsement_id = e.id AND u.code = $%d)", next, next+1),
		[]any{int(sub.Clearance), sub.UnitCode}
}

// Endorsement returns one endorsement with its tasks if the subject may see it.
func (s *Service) Endorsement(ctx context.Context, sub access.Subject, id int64) (Endorsement, error) {
	pred, args := endorsementScope(sub, 2)
	rows, err := s.db.Query(ctx, selectEndorsement+` WHERE e.id = $1 AND `+pred, append([]any{id}, args...)...)
	if err != nil {
		return Endorsement{}, fmt.Errorf("periodical: endorsement %d: %w", id, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEndorsement)
	if errors.Is(err, pgx.ErrNoRows) {
		return Endorsement{}, fmt.Errorf("periodical: endorsement %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Endorsement{}, fmt.Errorf("periodical: endorsement %d: %w", id, err)
	}
	list := []Endorsement{e}
	if err := s.attach(ctx, sub, list); err != nil {
		return Endorsement{}, err
	}
	return list[0], nil
}

// Endorsements lists the endorsements the subject may see, newest first (of one issue when
// issueID is not 0).
func (s *Service) Endorsements(ctx context.Context, sub access.Subject, issueID int64) ([]Endorsement, error) {
	pred, args := endorsementScope(sub, 2)
	rows, err := s.db.Query(ctx, selectEndorsement+` WHERE ($1 = 0 OR it.issue_id = $1) AND `+pred+` ORDER BY e.endorsed_on DESC, e.id DESC LIMIT 200`,
		append([]any{issueID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("periodical: endorsements: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanEndorsement)
	if err != nil {
		return nil, fmt.Errorf("periodical: endorsements: %w", err)
	}
	return list, s.attach(ctx, sub, list)
}

// attach fills titles (when readable) and tasks.
func (s *Service) attach(ctx context.Context, sub access.Subject, list []Endorsement) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	refs := make([]Ref, len(list))
	for i, e := range list {
		ids[i], refs[i] = e.ID, e.Ref
	}
	var recs map[Ref]Record
	if err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		recs, err = s.load(ctx, tx, refs)
		return err
	}); err != nil {
		return err
	}
	rows, err := s.db.Query(ctx, `SELECT t.id, t.endorsement_id, u.code, u.name, t.deadline, t.state, t.feedback,
			COALESCE(NULLIF(fu.display_name, ''), fu.username, ''), t.feedback_at, t.review, t.reviewed_at
		FROM endorsement_tasks t JOIN units u ON u.id = t.unit_id LEFT JOIN users fu ON fu.id = t.feedback_by
		WHERE t.endorsement_id = ANY($1::bigint[]) ORDER BY t.id`, ids)
	if err != nil {
		return fmt.Errorf("periodical: tasks: %w", err)
	}
	tasks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Task, error) {
		var t Task
		err := r.Scan(&t.ID, &t.EndorsementID, &t.UnitCode, &t.UnitName, &t.Deadline, &t.State, &t.Feedback, &t.FeedbackBy, &t.FeedbackAt, &t.Review, &t.ReviewedAt)
		return t, err
	})
	if err != nil {
		return fmt.Errorf("periodical: tasks: %w", err)
	}
	for i := range list {
		e := &list[i]
		if r, ok := recs[e.Ref]; ok && access.CanRead(sub, r.access()) {
			e.ItemTitle = r.Title
		}
		for _, t := range tasks {
			// Unit users see only their own unit's task.
			if t.EndorsementID == e.ID && (sub.AllUnits() || t.UnitCode == sub.UnitCode) {
				e.Tasks = append(e.Tasks, t)
			}
		}
	}
	return nil
}

// EndorsementScan returns the scan of an endorsement.
func (s *Service) EndorsementScan(ctx context.Context, sub access.Subject, id int64) (name, ctype string, data []byte, err error) {
	if _, err := s.Endorsement(ctx, sub, id); err != nil {
		return "", "", nil, err
	}
	err = s.db.QueryRow(ctx, `SELECT scan_name, scan_type, scan FROM endorsements WHERE id = $1 AND scan IS NOT NULL`, id).Scan(&name, &ctype, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil, fmt.Errorf("periodical: endorsement %d scan: %w", id, ErrNotFound)
	}
	return name, ctype, data, err
}

// Feedback records a responsible unit's feedback on its task (reporters or unit approvers of
// that unit; editors may enter it on the unit's behalf). The task becomes 'answered'.
func (s *Service) Feedback(ctx context.Context, sub access.Subject, taskID int64, text, clientIP string) error {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n == 0 || n > 5000 {
		return &ValidationError{Fields: map[string]string{"feedback": "反馈内容须为 1–5000 个字"}}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var unitCode, state string
		var eid int64
		err := tx.QueryRow(ctx, `SELECT u.code, t.state, t.endorsement_id FROM endorsement_tasks t JOIN units u ON u.id = t.unit_id WHERE t.id = $1 FOR UPDATE OF t`, taskID).
			Scan(&unitCode, &state, &eid)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("task %d: %w", taskID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		own := sub.UnitCode == unitCode && (sub.Has(access.RoleReporter) || sub.Has(access.RoleUnitApprover))
		if !own && !canManage(sub) {
			return fmt.Errorf("task %d: %w", taskID, ErrForbidden)
		}
		if state == "closed" {
			return stateErr("该督办事项已办结，不能再反馈")
		}
		if _, err := tx.Exec(ctx, `UPDATE endorsement_tasks SET state = 'answered', feedback = $2, feedback_by = $3, feedback_at = now() WHERE id = $1`,
			taskID, text, nullID(sub.UserID)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "endorsement.task.feedback", Object: "endorsement_task:" + strconv.FormatInt(taskID, 10)})
	})
	if err != nil {
		return fmt.Errorf("periodical: feedback on task %d: %w", taskID, err)
	}
	return nil
}

// Review closes a task after its feedback (editors or signers). When every task of the
// endorsement is closed the endorsement closes too and the item is re-indexed.
func (s *Service) Review(ctx context.Context, sub access.Subject, taskID int64, review, clientIP string) error {
	if !canManage(sub) {
		return fmt.Errorf("periodical: review task %d: %w", taskID, ErrForbidden)
	}
	review = strings.TrimSpace(review)
	if n := utf8.RuneCountInString(review); n == 0 || n > 2000 {
		return &ValidationError{Fields: map[string]string{"review": "审核意见须为 1–2000 个字"}}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var state, kind string
		var eid, itemID int64
		err := tx.QueryRow(ctx, `SELECT t.state, t.endorsement_id, e.item_kind, e.item_id FROM endorsement_tasks t JOIN endorsements e ON e.id = t.endorsement_id
			WHERE t.id = $1 FOR UPDATE OF t, e`, taskID).Scan(&state, &eid, &kind, &itemID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("task %d: %w", taskID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if state != "answered" {
			return stateErr("该督办事项%s，须在单位反馈后才能审核办结", TaskStateName(state))
		}
		if _, err := tx.Exec(ctx, `UPDATE endorsement_tasks SET state = 'closed', review = $2, reviewed_by = $3, reviewed_at = now() WHERE id = $1`,
			taskID, review, nullID(sub.UserID)); err != nil {
			return err
		}
		var open int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM endorsement_tasks WHERE endorsement_id = $1 AND state <> 'closed'`, eid).Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			if _, err := tx.Exec(ctx, `UPDATE endorsements SET state = 'closed', review = $2, closed_by = $3, closed_at = now() WHERE id = $1`,
				eid, review, nullID(sub.UserID)); err != nil {
				return err
			}
			if err := reindexRefs(ctx, tx, []Ref{{Kind: kind, ID: itemID}}); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "endorsement.task.review", Object: "endorsement_task:" + strconv.FormatInt(taskID, 10)})
	})
	if err != nil {
		return fmt.Errorf("periodical: review task %d: %w", taskID, err)
	}
	return nil
}

// TaskEndorsement returns the endorsement a follow-up task belongs to, as the subject may see it
// (the JSON API answers a feedback or review with the whole endorsement).
func (s *Service) TaskEndorsement(ctx context.Context, sub access.Subject, taskID int64) (Endorsement, error) {
	var eid int64
	if err := s.db.QueryRow(ctx, `SELECT endorsement_id FROM endorsement_tasks WHERE id = $1`, taskID).Scan(&eid); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Endorsement{}, fmt.Errorf("periodical: task %d: %w", taskID, ErrNotFound)
		}
		return Endorsement{}, fmt.Errorf("periodical: task %d: %w", taskID, err)
	}
	return s.Endorsement(ctx, sub, eid)
}
