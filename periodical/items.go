package periodical

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/outbox"
)

// Item kinds.
const (
	KindSubmission = "submission"
	KindDraft      = "draft"
)

// Ref names a record that can be an item: (kind, id).
type Ref struct {
	Kind string
	ID   int64
}

func (r Ref) String() string { return r.Kind + ":" + strconv.FormatInt(r.ID, 10) }

// ParseRef parses "submission:12" (a bare number means a submission, as search hits are).
func ParseRef(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	kind, id, ok := strings.Cut(s, ":")
	if !ok {
		kind, id = KindSubmission, s
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || (kind != KindSubmission && kind != KindDraft) {
		return Ref{}, &ValidationError{Fields: map[string]string{"ref": fmt.Sprintf("条目引用 %q 无效", s)}}
	}
	return Ref{Kind: kind, ID: n}, nil
}

// Unit is a contributing unit of a record.
type Unit struct {
	ID   int64
	Code string
	Name string
}

// Record is what a Source tells about a record that can be an item.
type Record struct {
	Ref        Ref
	Title      string
	Paragraphs []string
	// Units are the contributing units (the submitting unit; for a merged draft every unit
	// whose submission it draws on), credited in the issue and given follow-up tasks.
	Units []Unit
	// OwnerUnit, Classification, LabelCategories and Readers are the record's access label.
	OwnerUnit       string
	Classification  label.Level
	LabelCategories []string
	Readers         []string
	Date            time.Time
}

func (r Record) access() access.Record {
	return access.Record{UnitCode: r.OwnerUnit, Classification: r.Classification, Categories: r.LabelCategories, Readers: r.Readers}
}

// Source loads records of one kind. Load reads outside any access scope (the caller applies the
// policy with access.CanRead); ids that do not exist are absent from the map.
type Source interface {
	Load(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]Record, error)
}

type submissionSource struct{}

func (submissionSource) Load(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]Record, error) {
	out := map[int64]Record{}
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { // a savepoint: the bypass ends with it
		if err := access.SetBypass(ctx, sp); err != nil {
			return err
		}
		rows, err := sp.Query(ctx, `SELECT s.id, s.title, s.body_text, u.id, u.code, u.name, s.classification, s.label_categories, s.readers, s.reported_at
			FROM submissions s JOIN units u ON u.id = s.unit_id WHERE s.id = ANY($1::bigint[]) AND s.archived_at IS NULL`, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r Record
			var body string
			var u Unit
			var cl int16
			if err := rows.Scan(&r.Ref.ID, &r.Title, &body, &u.ID, &u.Code, &u.Name, &cl, &r.LabelCategories, &r.Readers, &r.Date); err != nil {
				return err
			}
			r.Ref.Kind = KindSubmission
			r.Units = []Unit{u}
			r.OwnerUnit = u.Code
			r.Classification = label.Level(cl)
			for _, p := range strings.Split(body, "\n") {
				if p = strings.TrimSpace(p); p != "" {
					r.Paragraphs = append(r.Paragraphs, p)
				}
			}
			out[r.Ref.ID] = r
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("periodical: load submissions: %w", err)
	}
	return out, nil
}

// load resolves refs through their sources.
func (s *Service) load(ctx context.Context, tx pgx.Tx, refs []Ref) (map[Ref]Record, error) {
	byKind := map[string][]int64{}
	for _, r := range refs {
		byKind[r.Kind] = append(byKind[r.Kind], r.ID)
	}
	out := map[Ref]Record{}
	for kind, ids := range byKind {
		src, ok := s.sources[kind]
		if !ok {
			continue // unknown kind: treated as missing
		}
		m, err := src.Load(ctx, tx, ids)
		if err != nil {
			return nil, err
		}
		for id, r := range m {
			r.Ref = Ref{Kind: kind, ID: id}
			out[r.Ref] = r
		}
	}
	return out, nil
}

// Item is one item of an issue as the reader sees it.
type Item struct {
	ID         int64
	Ref        Ref
	Section    string
	Position   int
	EditorNote string
	// Visible is false when the reader may not read the record: Title etc. are then empty.
	Visible        bool
	Title          string
	Units          []Unit
	Classification label.Level
	Paragraphs     []string
	Endorsements   int
}

// UnitNames joins the contributing units' names with 、.
func (it Item) UnitNames() string {
	names := make([]string, len(it.Units))
	for i, u := range it.Units {
		names[i] = u.Name
	}
	return strings.Join(names, "、")
}

// items loads the current items of an issue in order: by position, then id (deterministic).
func (s *Service) items(ctx context.Context, db querier, sub access.Subject, issueID int64) ([]Item, error) {
	rows, err := db.Query(ctx, `SELECT it.id, it.item_kind, it.item_id, it.section, it.position, it.editor_note,
			(SELECT count(*) FROM endorsements e WHERE e.issue_item_id = it.id)
		FROM periodical_issue_items it WHERE it.issue_id = $1 AND it.removed_at IS NULL ORDER BY it.position, it.id`, issueID)
	if err != nil {
		return nil, fmt.Errorf("periodical: items of issue %d: %w", issueID, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.ID, &it.Ref.Kind, &it.Ref.ID, &it.Section, &it.Position, &it.EditorNote, &it.Endorsements)
		return it, err
	})
	if err != nil || len(items) == 0 {
		return items, err
	}
	refs := make([]Ref, len(items))
	for i, it := range items {
		refs[i] = it.Ref
	}
	var recs map[Ref]Record
	tx, ok := db.(pgx.Tx)
	if ok {
		recs, err = s.load(ctx, tx, refs)
	} else {
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			var err error
			recs, err = s.load(ctx, tx, refs)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	for i := range items {
		r, ok := recs[items[i].Ref]
		if !ok || !access.CanRead(sub, r.access()) {
			continue
		}
		items[i].Visible = true
		items[i].Title = r.Title
		items[i].Units = r.Units
		items[i].Classification = r.Classification
		items[i].Paragraphs = r.Paragraphs
	}
	return items, nil
}

// RefusedError lists the items that cannot be compiled, each with its reason; nothing was added.
type RefusedError struct{ Reasons []string }

func (e *RefusedError) Error() string { return strings.Join(e.Reasons, "；") }

// signerOf returns the designated signer of a periodical as a subject.
func signerOf(ctx context.Context, tx pgx.Tx, userID int64) (access.Subject, string, error) {
	var sub access.Subject
	var cl int16
	var name string
	err := tx.QueryRow(ctx, `SELECT u.id, u.username, COALESCE(un.code, ''), u.roles, u.clearance, u.label_categories,
			COALESCE(NULLIF(u.display_name, ''), u.username)
		FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.id = $1`, userID).
		Scan(&sub.UserID, &sub.Username, &sub.UnitCode, &sub.Roles, &cl, &sub.Categories, &name)
	sub.Clearance = label.Level(cl)
	return sub, name, err
}

// checkCompilable returns why rec cannot be an item of the issue, or "".
func checkCompilable(sub access.Subject, signer *access.Subject, signerName string, issueLevel label.Level, rec Record, found bool, ref Ref) string {
	if !found || !access.CanRead(sub, rec.access()) {
		return fmt.Sprintf("条目 %s 不存在或无权查看", ref)
	}
	if !issueLevel.Dominates(rec.Classification) {
		return fmt.Sprintf("《%s》密级为%s，高于本期密级（%s），不能编入", rec.Title, rec.Classification.Chinese(), issueLevel.Chinese())
	}
	if len(rec.LabelCategories) > 0 || len(rec.Readers) > 0 {
		return fmt.Sprintf("《%s》限定了知悉范围（标识类别或读者名单），不能编入分送的刊物", rec.Title)
	}
	if signer != nil && !access.CanRead(*signer, rec.access()) {
		return fmt.Sprintf("签发人%s无权查看《%s》（密级或单位范围），不能编入", signerName, rec.Title)
	}
	return ""
}

// lockEditable locks the issue row and checks that the subject may change its items.
func (s *Service) lockEditable(ctx context.Context, tx pgx.Tx, sub access.Subject, issueID int64, what string) (Issue, error) {
	if !canManage(sub) {
		return Issue{}, fmt.Errorf("periodical: %s: %w", what, ErrForbidden)
	}
	is, err := s.loadIssue(ctx, tx, sub, issueID, true)
	if err != nil {
		return Issue{}, err
	}
	if !is.Editable() {
		return Issue{}, stateErr("本期%s，不能%s；如需修改，请由签发人提出更正，形成新的版本", StateName(is.State), what)
	}
	return is, nil
}

func (s *Service) touch(ctx context.Context, tx pgx.Tx, issueID int64) error {
	if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET version = version + 1, updated_at = now() WHERE id = $1`, issueID); err != nil {
		return err
	}
	return outbox.Enqueue(ctx, tx, Entity, issueID)
}

// AddItems compiles records into a section of the issue, appended in the given order. Records
// already in the issue are skipped. If any record cannot be compiled (missing or hidden from
// the editor, classified above the issue, restricted readers, or not readable by the
// periodical's designated signer) nothing is added and RefusedError gives every reason.
// Compiled records leave the editor's basket.
func (s *Service) AddItems(ctx context.Context, sub access.Subject, issueID int64, refs []Ref, section string, clientIP string) (int, error) {
	if len(refs) == 0 {
		return 0, &ValidationError{Fields: map[string]string{"refs": "请选择要编入的条目"}}
	}
	added := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.lockEditable(ctx, tx, sub, issueID, "编入条目")
		if err != nil {
			return err
		}
		section = strings.TrimSpace(section)
		if section != "" && len(is.Periodical.Sections) > 0 && !slices.Contains(is.Periodical.Sections, section) {
			return &ValidationError{Fields: map[string]string{"section": fmt.Sprintf("栏目“%s”不属于《%s》", section, is.Periodical.Name)}}
		}
		if section == "" && len(is.Periodical.Sections) > 0 {
			section = is.Periodical.Sections[0]
		}
		recs, err := s.load(ctx, tx, refs)
		if err != nil {
			return err
		}
		var signer *access.Subject
		var signerName string
		if is.Periodical.SignerID != 0 {
			sg, name, err := signerOf(ctx, tx, is.Periodical.SignerID)
			if err != nil {
				return err
			}
			signer, signerName = &sg, name
		}
		var reasons []string
		for _, ref := range refs {
			rec, ok := recs[ref]
			if why := checkCompilable(sub, signer, signerName, is.Classification, rec, ok, ref); why != "" {
				reasons = append(reasons, why)
			}
		}
		if len(reasons) > 0 {
			return &RefusedError{Reasons: reasons}
		}
		var pos int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(position), 0) FROM periodical_issue_items WHERE issue_id = $1 AND removed_at IS NULL`, issueID).Scan(&pos); err != nil {
			return err
		}
		for _, ref := range refs {
			pos++
			tag, err := tx.Exec(ctx, `INSERT INTO periodical_issue_items (issue_id, item_kind, item_id, section, position, added_by)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, issueID, ref.Kind, ref.ID, section, pos, nullID(sub.UserID))
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
			if _, err := tx.Exec(ctx, `DELETE FROM periodical_baskets WHERE user_id = $1 AND item_kind = $2 AND item_id = $3`, sub.UserID, ref.Kind, ref.ID); err != nil {
				return err
			}
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.items.add", Object: issueObject(issueID), Label: &lv, Detail: refList(refs)})
	})
	if err != nil {
		return 0, wrapKeep("add items", issueID, err)
	}
	return added, nil
}

func refList(refs []Ref) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// wrapKeep wraps an error with context, leaving user-facing error types reachable by errors.As.
func wrapKeep(what string, issueID int64, err error) error {
	return fmt.Errorf("periodical: issue %d: %s: %w", issueID, what, err)
}

// RemoveItem takes an item out of an editable issue (kept with removed_at; never deleted).
func (s *Service) RemoveItem(ctx context.Context, sub access.Subject, issueID, itemID int64, clientIP string) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.lockEditable(ctx, tx, sub, issueID, "删除条目")
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE periodical_issue_items SET removed_at = now(), removed_by = $3
			WHERE id = $2 AND issue_id = $1 AND removed_at IS NULL`, issueID, itemID, nullID(sub.UserID))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("item %d: %w", itemID, ErrNotFound)
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.items.remove", Object: issueObject(issueID), Label: &lv, Detail: "item:" + strconv.FormatInt(itemID, 10)})
	})
	if err != nil {
		return wrapKeep("remove item", issueID, err)
	}
	return nil
}

// Place is an item's place in a new order.
type Place struct {
	ItemID  int64
	Section string
}

// Reorder sets the order (and sections) of every item of an editable issue at once, as a
// drag-and-drop list sends it. It must name each current item exactly once.
func (s *Service) Reorder(ctx context.Context, sub access.Subject, issueID int64, places []Place) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.lockEditable(ctx, tx, sub, issueID, "调整顺序")
		if err != nil {
			return err
		}
		current := map[int64]bool{}
		for _, it := range is.Items {
			current[it.ID] = true
		}
		seen := map[int64]bool{}
		for _, p := range places {
			if !current[p.ItemID] || seen[p.ItemID] {
				return &ValidationError{Fields: map[string]string{"order": "顺序与本期现有条目不一致，请刷新页面后重试"}}
			}
			seen[p.ItemID] = true
			if p.Section != "" && len(is.Periodical.Sections) > 0 && !slices.Contains(is.Periodical.Sections, p.Section) {
				return &ValidationError{Fields: map[string]string{"section": fmt.Sprintf("栏目“%s”不属于本刊", p.Section)}}
			}
		}
		if len(seen) != len(current) {
			return &ValidationError{Fields: map[string]string{"order": "顺序与本期现有条目不一致，请刷新页面后重试"}}
		}
		for i, p := range places {
			if _, err := tx.Exec(ctx, `UPDATE periodical_issue_items SET position = $2, section = $3 WHERE id = $1`, p.ItemID, i+1, p.Section); err != nil {
				return err
			}
		}
		return s.touch(ctx, tx, issueID)
	})
	if err != nil {
		return wrapKeep("reorder", issueID, err)
	}
	return nil
}

// Move moves an item one place up (delta -1) or down (+1) within its section: the keyboard
// alternative to drag and drop.
func (s *Service) Move(ctx context.Context, sub access.Subject, issueID, itemID int64, delta int) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.lockEditable(ctx, tx, sub, issueID, "调整顺序")
		if err != nil {
			return err
		}
		var places []Place
		for _, sec := range is.Sections() {
			for _, it := range is.ItemsIn(sec) {
				places = append(places, Place{ItemID: it.ID, Section: it.Section})
			}
		}
		i := slices.IndexFunc(places, func(p Place) bool { return p.ItemID == itemID })
		if i < 0 {
			return fmt.Errorf("item %d: %w", itemID, ErrNotFound)
		}
		j := i + delta
		if j < 0 || j >= len(places) || places[j].Section != places[i].Section {
			return nil // already first or last in its section
		}
		places[i], places[j] = places[j], places[i]
		for k, p := range places {
			if _, err := tx.Exec(ctx, `UPDATE periodical_issue_items SET position = $2 WHERE id = $1`, p.ItemID, k+1); err != nil {
				return err
			}
		}
		return s.touch(ctx, tx, issueID)
	})
	if err != nil {
		return wrapKeep("move item", issueID, err)
	}
	return nil
}

// SetNote sets the editor's note (编者按) of an item.
func (s *Service) SetNote(ctx context.Context, sub access.Subject, issueID, itemID int64, note string) error {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 2000 {
		return &ValidationError{Fields: map[string]string{"note": "编者按最多 2000 个字"}}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := s.lockEditable(ctx, tx, sub, issueID, "修改编者按"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE periodical_issue_items SET editor_note = $3 WHERE id = $2 AND issue_id = $1 AND removed_at IS NULL`, issueID, itemID, note)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("item %d: %w", itemID, ErrNotFound)
		}
		return s.touch(ctx, tx, issueID)
	})
	if err != nil {
		return wrapKeep("set note", issueID, err)
	}
	return nil
}

// BasketEntry is a record waiting in the editor's compile basket.
type BasketEntry struct {
	Ref            Ref
	Title          string
	Units          string
	Classification label.Level
	Date           time.Time
	AddedAt        time.Time
}

// BasketAdd puts records the subject may read into its basket (server-side, so it follows the
// editor from page to page and replica to replica).
func (s *Service) BasketAdd(ctx context.Context, sub access.Subject, refs []Ref) (int, error) {
	if !canManage(sub) {
		return 0, fmt.Errorf("periodical: basket: %w", ErrForbidden)
	}
	added := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		recs, err := s.load(ctx, tx, refs)
		if err != nil {
			return err
		}
		var reasons []string
		for _, ref := range refs {
			r, ok := recs[ref]
			if !ok || !access.CanRead(sub, r.access()) {
				reasons = append(reasons, fmt.Sprintf("条目 %s 不存在或无权查看", ref))
			}
		}
		if len(reasons) > 0 {
			return &RefusedError{Reasons: reasons}
		}
		for _, ref := range refs {
			tag, err := tx.Exec(ctx, `INSERT INTO periodical_baskets (user_id, item_kind, item_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				sub.UserID, ref.Kind, ref.ID)
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("periodical: basket add: %w", err)
	}
	return added, nil
}

// BasketRemove takes records out of the basket.
func (s *Service) BasketRemove(ctx context.Context, sub access.Subject, refs []Ref) error {
	for _, r := range refs {
		if _, err := s.db.Exec(ctx, `DELETE FROM periodical_baskets WHERE user_id = $1 AND item_kind = $2 AND item_id = $3`, sub.UserID, r.Kind, r.ID); err != nil {
			return fmt.Errorf("periodical: basket remove: %w", err)
		}
	}
	return nil
}

// Basket lists the subject's basket in the order records were added (then kind and id).
// Records the subject can no longer read are left out.
func (s *Service) Basket(ctx context.Context, sub access.Subject) ([]BasketEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT item_kind, item_id, added_at FROM periodical_baskets WHERE user_id = $1 ORDER BY added_at, item_kind, item_id`, sub.UserID)
	if err != nil {
		return nil, fmt.Errorf("periodical: basket: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (BasketEntry, error) {
		var e BasketEntry
		err := r.Scan(&e.Ref.Kind, &e.Ref.ID, &e.AddedAt)
		return e, err
	})
	if err != nil || len(entries) == 0 {
		return entries, err
	}
	refs := make([]Ref, len(entries))
	for i, e := range entries {
		refs[i] = e.Ref
	}
	var recs map[Ref]Record
	if err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		recs, err = s.load(ctx, tx, refs)
		return err
	}); err != nil {
		return nil, err
	}
	out := entries[:0]
	for _, e := range entries {
		r, ok := recs[e.Ref]
		if !ok || !access.CanRead(sub, r.access()) {
			continue
		}
		e.Title, e.Classification, e.Date = r.Title, r.Classification, r.Date
		names := make([]string, len(r.Units))
		for i, u := range r.Units {
			names[i] = u.Name
		}
		e.Units = strings.Join(names, "、")
		out = append(out, e)
	}
	return out, nil
}

// OrderSections sets this issue's order of sections (栏目), as the drag-and-drop list of
// sections sends it: every named section of the issue once.
func (s *Service) OrderSections(ctx context.Context, sub access.Subject, issueID int64, names []string) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.lockEditable(ctx, tx, sub, issueID, "调整栏目顺序")
		if err != nil {
			return err
		}
		return s.setSectionOrder(ctx, tx, is, names)
	})
	if err != nil {
		return wrapKeep("order sections", issueID, err)
	}
	return nil
}

// MoveSection moves a section one place up (delta -1) or down (+1): the keyboard alternative.
func (s *Service) MoveSection(ctx context.Context, sub access.Subject, issueID int64, name string, delta int) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.lockEditable(ctx, tx, sub, issueID, "调整栏目顺序")
		if err != nil {
			return err
		}
		names := namedSections(is)
		i := slices.Index(names, name)
		if i < 0 {
			return &ValidationError{Fields: map[string]string{"section": fmt.Sprintf("栏目“%s”不属于本期", name)}}
		}
		if j := i + delta; j >= 0 && j < len(names) {
			names[i], names[j] = names[j], names[i]
		}
		return s.setSectionOrder(ctx, tx, is, names)
	})
	if err != nil {
		return wrapKeep("move section", issueID, err)
	}
	return nil
}

func namedSections(is Issue) []string {
	var out []string
	for _, n := range is.Sections() {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

func (s *Service) setSectionOrder(ctx context.Context, tx pgx.Tx, is Issue, names []string) error {
	want := namedSections(is)
	if len(names) != len(want) {
		return &ValidationError{Fields: map[string]string{"sections": "栏目顺序与本期栏目不一致，请刷新页面后重试"}}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(want, n) || seen[n] {
			return &ValidationError{Fields: map[string]string{"sections": "栏目顺序与本期栏目不一致，请刷新页面后重试"}}
		}
		seen[n] = true
	}
	if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET section_order = $2 WHERE id = $1`, is.ID, names); err != nil {
		return err
	}
	return s.touch(ctx, tx, is.ID)
}
