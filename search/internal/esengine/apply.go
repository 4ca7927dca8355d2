package esengine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"infowork/search"
)

// source is the stored document (and, with Deleted, a tombstone). Empty keyword fields are
// left out so that they are neither facet values nor filter matches, as in the embedded engine.
type source struct {
	ID             string   `json:"id"`
	Deleted        bool     `json:"deleted,omitempty"`
	Kind           string   `json:"kind,omitempty"`
	Title          string   `json:"title,omitempty"`
	Body           string   `json:"body,omitempty"`
	TitleTerms     string   `json:"title_terms,omitempty"`
	BodyTerms      string   `json:"body_terms,omitempty"`
	Unit           string   `json:"unit,omitempty"`
	UnitName       string   `json:"unit_name,omitempty"`
	Category       string   `json:"category,omitempty"`
	Subcategory    string   `json:"subcategory,omitempty"`
	District       string   `json:"district,omitempty"`
	Month          string   `json:"month,omitempty"`
	Classification string   `json:"classification,omitempty"`
	Level          *int     `json:"level,omitempty"`
	Urgency        string   `json:"urgency,omitempty"`
	State          string   `json:"state,omitempty"`
	Date           string   `json:"date,omitempty"`
	Readers        []string `json:"readers,omitempty"`
	LabelCats      []string `json:"labelcats,omitempty"`
	Archived       string   `json:"archived,omitempty"` // mapping v2
	Endorsed       string   `json:"endorsed,omitempty"` // mapping v2
	// Attachments (mapping v3): parallel arrays, one value per attachment; att_terms has a
	// position gap between values so a phrase never spans two files.
	AttID    []string `json:"att_id,omitempty"`
	AttName  []string `json:"att_name,omitempty"`
	AttText  []string `json:"att_text,omitempty"`
	AttTerms []string `json:"att_terms,omitempty"`
}

// maxAttachments is how many attachments of one record are indexed (as in the embedded engine).
const maxAttachments = 50

func (e *Engine) addAttachments(s *source, d *search.Document) {
	for i, a := range d.Attachments {
		if i >= maxAttachments {
			break
		}
		text := search.ClipAttachmentText(a.Text)
		s.AttID = append(s.AttID, a.ID)
		s.AttName = append(s.AttName, a.Name)
		s.AttText = append(s.AttText, text)
		s.AttTerms = append(s.AttTerms, indexTerms(e.an.Index(text)))
	}
}

// attachments reads the parallel arrays of a hit's source back.
func (s source) attachments() []search.AttachmentText {
	n := min(len(s.AttID), len(s.AttName), len(s.AttText))
	out := make([]search.AttachmentText, n)
	for i := range n {
		out[i] = search.AttachmentText{ID: s.AttID[i], Name: s.AttName[i], Text: s.AttText[i]}
	}
	return out
}

const (
	noReaders      = "*"  // readers value of a document without a readers list
	readerPrefix   = "r:" // prefix of listed principals, so no principal can equal noReaders
	noLabelCats    = "-"  // labelcats value of a document without label categories
	labelCatPrefix = "c:" // prefix of label categories, so no category can equal noLabelCats
	dateLayout     = time.RFC3339Nano
)

var levelNames = []string{"public", "internal", "secret", "confidential"}

// levelName is the facet value of a classification level (label.Level names).
func levelName(l int) string {
	if l >= 0 && l < len(levelNames) {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(l) + ")"
}

func (e *Engine) buildSource(op search.Op) source {
	d := op.Doc
	lv := d.Classification
	s := source{
		ID: op.ID, Kind: d.Kind, Title: d.Title, Body: d.Body,
		TitleTerms: indexTerms(e.an.Index(d.Title)), BodyTerms: indexTerms(e.an.Index(d.Body)),
		Unit: d.Unit, UnitName: d.UnitName, Category: d.Category, Subcategory: d.Subcategory,
		District: d.District, Classification: levelName(lv), Level: &lv,
		Urgency: d.Urgency, State: d.State, Endorsed: d.Endorsement,
	}
	if d.Archived {
		s.Archived = "archived"
	}
	e.addAttachments(&s, d)
	if !d.Date.IsZero() {
		s.Date = d.Date.Format(dateLayout)
		s.Month = search.Month(d.Date)
	}
	if len(d.Readers) == 0 {
		s.Readers = []string{noReaders}
	}
	for _, r := range d.Readers {
		s.Readers = append(s.Readers, readerPrefix+r)
	}
	if len(d.LabelCategories) == 0 {
		s.LabelCats = []string{noLabelCats}
	}
	for _, c := range d.LabelCategories {
		s.LabelCats = append(s.LabelCats, labelCatPrefix+c)
	}
	return s
}

// bulkItem is one encoded action (metadata line + source line).
type bulkItem struct {
	op    int // index into ops
	lines []byte
}

// Apply implements search.Engine.
func (e *Engine) Apply(ctx context.Context, ops []search.Op) ([]search.OpResult, error) {
	return e.apply(ctx, e.alias, ops)
}

// apply writes ops through the alias target (the serving alias or the building alias).
func (e *Engine) apply(ctx context.Context, target string, ops []search.Op) ([]search.OpResult, error) {
	results := make([]search.OpResult, len(ops))
	if len(ops) == 0 {
		return results, nil
	}
	if err := e.ensure(ctx); err != nil {
		return nil, fmt.Errorf("%s: apply: %w", e.cfg.Name, err)
	}
	var pending []bulkItem
	for i, op := range ops {
		results[i].ID = op.ID
		lines, err := e.encode(op)
		if err != nil {
			results[i].Err, results[i].Permanent = fmt.Errorf("%s: %w", e.cfg.Name, err), true
			continue
		}
		pending = append(pending, bulkItem{op: i, lines: lines})
	}
	var lastErr error // the last request-level failure
	answered := false // some item got an item-level answer
	for attempt := 1; len(pending) > 0; attempt++ {
		var retry []bulkItem
		for _, chunk := range e.chunks(pending) {
			items, err := e.bulk(ctx, target, chunk)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("%s: apply: %w", e.cfg.Name, ctx.Err())
				}
				var re *retryableError
				if !errors.As(err, &re) {
					return nil, fmt.Errorf("%s: apply: %w", e.cfg.Name, err)
				}
				lastErr = err
				retry = append(retry, chunk...)
				continue
			}
			answered = true
			for k, it := range items {
				b := chunk[k]
				r := &results[b.op]
				r.Err, r.Stale, r.Permanent = nil, false, false
				switch {
				case it.Status == http.StatusOK || it.Status == http.StatusCreated:
				case it.Status == http.StatusConflict:
					r.Stale = true
				case transient(it.Status) || it.Status == http.StatusNotFound:
					r.Err = fmt.Errorf("%s: write %s: HTTP %d %s: %s", e.cfg.Name, ops[b.op].ID, it.Status, it.Error.Type, it.Error.Reason)
					retry = append(retry, b)
				default:
					r.Err = fmt.Errorf("%s: write %s: HTTP %d %s: %s", e.cfg.Name, ops[b.op].ID, it.Status, it.Error.Type, it.Error.Reason)
					r.Permanent = true
				}
			}
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		if attempt >= e.cfg.BulkAttempts {
			if !answered {
				return nil, fmt.Errorf("%s: apply: %d attempts: %w", e.cfg.Name, attempt, lastErr)
			}
			for _, b := range pending {
				if results[b.op].Err == nil {
					results[b.op].Err = fmt.Errorf("%s: write %s: %w", e.cfg.Name, ops[b.op].ID, lastErr)
				}
			}
			break
		}
		e.log.Debug("retrying bulk items", "items", len(pending), "attempt", attempt, "err", lastErr)
		if err := sleep(ctx, backoff(e.cfg.BulkBackoffBase, e.cfg.BulkBackoffMax, attempt)); err != nil {
			return nil, fmt.Errorf("%s: apply: %w", e.cfg.Name, err)
		}
	}
	return results, nil
}

// encode builds the action and source lines of one op.
func (e *Engine) encode(op search.Op) ([]byte, error) {
	switch {
	case op.ID == "":
		return nil, errors.New("empty document id")
	case len(op.ID) > 512:
		return nil, fmt.Errorf("document id of %d bytes (at most 512)", len(op.ID))
	case op.Version < 0:
		return nil, fmt.Errorf("write %s: negative version %d", op.ID, op.Version)
	}
	var src source
	switch op.Kind {
	case search.OpUpsert:
		if op.Doc == nil {
			return nil, fmt.Errorf("upsert %s without a document", op.ID)
		}
		src = e.buildSource(op)
	case search.OpDelete:
		src = source{ID: op.ID, Deleted: true}
	default:
		return nil, fmt.Errorf("write %s: unknown op kind %d", op.ID, op.Kind)
	}
	meta, err := json.Marshal(obj{"index": obj{"_id": op.ID, "version": op.Version, "version_type": "external"}})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", op.ID, err)
	}
	body, err := json.Marshal(src)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", op.ID, err)
	}
	out := make([]byte, 0, len(meta)+len(body)+2)
	out = append(append(append(append(out, meta...), '\n'), body...), '\n')
	return out, nil
}

// chunks splits items into requests of at most MaxBulkBytes (at least one item each).
func (e *Engine) chunks(items []bulkItem) [][]bulkItem {
	var out [][]bulkItem
	start, size := 0, 0
	for i, it := range items {
		if i > start && size+len(it.lines) > e.cfg.MaxBulkBytes {
			out = append(out, items[start:i])
			start, size = i, 0
		}
		size += len(it.lines)
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}

type itemResult struct {
	Status int `json:"status"`
	Error  struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// retryableError is a whole bulk request that failed in a way a retry may fix.
type retryableError struct{ err error }

func (r *retryableError) Error() string { return r.err.Error() }
func (r *retryableError) Unwrap() error { return r.err }

// bulk sends one _bulk request and returns the per-item results in request order.
func (e *Engine) bulk(ctx context.Context, target string, items []bulkItem) ([]itemResult, error) {
	var body bytes.Buffer
	for _, it := range items {
		body.Write(it.lines)
	}
	q := url.Values{"require_alias": {"true"}}
	if e.cfg.Refresh != "" {
		q.Set("refresh", e.cfg.Refresh)
	}
	st, resp, err := e.doType(ctx, http.MethodPost, "/"+target+"/_bulk", q, body.Bytes(), "application/x-ndjson")
	if err != nil {
		return nil, &retryableError{err}
	}
	if st != http.StatusOK {
		err := fmt.Errorf("bulk: %w", statusError(st, resp))
		if transient(st) {
			return nil, &retryableError{fmt.Errorf("%w: %w", search.ErrUnavailable, err)}
		}
		return nil, err
	}
	var r struct {
		Items []map[string]itemResult `json:"items"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, fmt.Errorf("bulk: decode response: %w", err)
	}
	if len(r.Items) != len(items) {
		return nil, fmt.Errorf("bulk: %d results for %d items", len(r.Items), len(items))
	}
	out := make([]itemResult, len(items))
	for i, m := range r.Items {
		it, ok := m["index"]
		if !ok {
			return nil, fmt.Errorf("bulk: item %d: unexpected result %v", i, m)
		}
		out[i] = it
	}
	return out, nil
}

// backoff is capped exponential backoff with full jitter: a random duration in [d/2, d] with
// d = base·2^(attempt-1) capped at maxDelay.
func backoff(base, maxDelay time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 30)
	if d <= 0 || d > maxDelay {
		d = maxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // #nosec G404 -- retry jitter, not a secret
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
