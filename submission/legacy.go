package submission

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/microcosm-cc/bluemonday"

	"infowork/label"
	"infowork/outbox"
)

// Legacy records are reports imported from another system (the Lotus Notes migration, package
// notes). They are ordinary submissions — same table, same outbox, same access rules — written by
// a trusted loader under the row-level-security bypass, with the source system's identity in
// (source, source_ref) and a readers list carried over from the source's access rules.

// LegacyRecord is the mapped content of a legacy document.
type LegacyRecord struct {
	Source         string // e.g. "notes"
	SourceRef      string // identity in the source system (Notes UNID)
	UnitCode       string
	Title          string
	BodyHTML       string // sanitized here with LegacyPolicy
	CategoryCode   string // "" or unknown: none
	Urgency        string
	Classification label.Level
	Readers        []string
	WriterName     string
	ReportedAt     time.Time
}

// ErrUnknownUnit means a legacy record names a unit that does not exist.
var ErrUnknownUnit = errors.New("unknown unit")

var legacyPolicy = func() *bluemonday.Policy {
	p := bodyPolicy()
	p.AllowElements("hr")
	// Pictures of imported rich text are attachments of the record, shown through the
	// attachment preview route (same-origin, access-checked, audited).
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^/attachments/[0-9]{1,18}/preview$`)).OnElements("img")
	p.AllowAttrs("alt").OnElements("img")
	p.AllowRelativeURLs(true)
	return p
}()

// SanitizeLegacy returns the safe HTML of an imported rich-text body.
func SanitizeLegacy(h string) string { return legacyPolicy.Sanitize(h) }

// SaveLegacyTx inserts the record (id == 0) or updates submission id with it, bumping the
// version, and enqueues it for indexing, inside tx. The caller has set the row-level-security
// bypass (trusted loader). It returns the id and the new version.
func SaveLegacyTx(ctx context.Context, tx pgx.Tx, id int64, r LegacyRecord) (int64, int64, error) {
	body := SanitizeLegacy(r.BodyHTML)
	text := HTMLToText(body)
	title := strings.Join(strings.Fields(r.Title), " ")
	if title == "" {
		return 0, 0, fmt.Errorf("submission: legacy %s: empty title", r.SourceRef)
	}
	if r.Urgency == "" {
		r.Urgency = UrgencyNormal
	}
	readers := r.Readers
	if readers == nil {
		readers = []string{}
	}
	reported := r.ReportedAt
	if reported.IsZero() {
		reported = time.Now()
	}
	var unitID int64
	var district string
	err := tx.QueryRow(ctx, `SELECT id, district FROM units WHERE code = $1`, r.UnitCode).Scan(&unitID, &district)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("submission: legacy %s: unit %q: %w", r.SourceRef, r.UnitCode, ErrUnknownUnit)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("submission: legacy %s: %w", r.SourceRef, err)
	}
	var categoryID *int64
	if r.CategoryCode != "" {
		var cid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM categories WHERE code = $1`, r.CategoryCode).Scan(&cid); err == nil {
			categoryID = &cid
		}
	}
	var version int64
	if id == 0 {
		err = tx.QueryRow(ctx, `INSERT INTO submissions (unit_id, writer_name, title, body_html, body_text, category_id,
				district, urgency, classification, readers, source, source_ref, reported_at, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id, version`,
			unitID, r.WriterName, title, body, text, categoryID, district, r.Urgency, int(r.Classification), readers,
			r.Source, r.SourceRef, reported, StateSubmitted).Scan(&id, &version)
	} else {
		err = tx.QueryRow(ctx, `UPDATE submissions SET unit_id = $2, writer_name = $3, title = $4, body_html = $5,
				body_text = $6, category_id = $7, district = $8, urgency = $9, classification = $10, readers = $11,
				reported_at = $12, version = version + 1, updated_at = now(), archived_at = NULL
			WHERE id = $1 RETURNING id, version`,
			id, unitID, r.WriterName, title, body, text, categoryID, district, r.Urgency, int(r.Classification), readers,
			reported).Scan(&id, &version)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("submission: legacy %s: save: %w", r.SourceRef, err)
	}
	if err := outbox.Enqueue(ctx, tx, Entity, id); err != nil {
		return 0, 0, err
	}
	return id, version, nil
}

// SetLegacyBodyTx replaces the body of a legacy record without a new version (the importer
// fills in attachment links in the same transaction that created the version).
func SetLegacyBodyTx(ctx context.Context, tx pgx.Tx, id int64, bodyHTML string) error {
	body := SanitizeLegacy(bodyHTML)
	_, err := tx.Exec(ctx, `UPDATE submissions SET body_html = $2, body_text = $3 WHERE id = $1`, id, body, HTMLToText(body))
	if err != nil {
		return fmt.Errorf("submission: legacy %d: set body: %w", id, err)
	}
	return nil
}

// DeletedReader is the readers list of a legacy record whose source document was deleted: a
// principal no one holds, so lists, reads and search (which all apply the readers list) stop
// showing it, while the row and its source data stay for audit and for a restore.
const DeletedReader = "notes:-deleted-"

// ArchiveLegacyTx archives a legacy record whose source document was deleted (never a hard
// delete): archived_at is set, the readers list becomes DeletedReader, the version is bumped and
// the record is enqueued so the index follows. A later save of the record (the document came
// back) sets both again. It returns the new version.
func ArchiveLegacyTx(ctx context.Context, tx pgx.Tx, id int64) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `UPDATE submissions SET archived_at = now(), readers = ARRAY[$2::text], version = version + 1,
			updated_at = now()
		WHERE id = $1 AND archived_at IS NULL RETURNING version`, id, DeletedReader).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT version FROM submissions WHERE id = $1`, id).Scan(&v)
	}
	if err != nil {
		return 0, fmt.Errorf("submission: archive legacy %d: %w", id, err)
	}
	return v, outbox.Enqueue(ctx, tx, Entity, id)
}
