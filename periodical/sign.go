package periodical

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"infowork/render"
	"infowork/search"
)

// Revision is a signed, frozen version of an issue.
type Revision struct {
	Revision    int
	Reason      string
	ContentHash string // SHA-256 of the canonical JSON snapshot
	SignedBy    string
	SignedAt    time.Time
	PDFSHA256   string
	DOCXSHA256  string
	HTMLSHA256  string
	PDFSize     int
	DOCXSize    int
}

// Distribution records the sending of a revision to one recipient.
type Distribution struct {
	Revision  int
	Recipient string
	Channel   string
	SentBy    string
	SentAt    time.Time
}

// Correction is a request that opened a new revision of a signed issue.
type Correction struct {
	Revision int
	Reason   string
	By       string
	At       time.Time
}

// Channels of distribution.
var Channels = []string{"print", "electronic", "confidential_line"}

var channelNames = map[string]string{"print": "纸质", "electronic": "电子公文", "confidential_line": "机要通道"}

// ChannelName is the zh-CN name of a channel.
func ChannelName(c string) string { return channelNames[c] }

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// snapshot builds the frozen content of the issue as the signer sees it.
func (s *Service) snapshot(is Issue, signer string, at time.Time, reason string) render.Issue {
	out := render.Issue{IssueID: is.ID, Revision: is.Revision, Periodical: is.Periodical.Name, PeriodicalCode: is.Periodical.Code,
		Special: is.Periodical.Kind == "special", MastheadOrg: is.Periodical.MastheadOrg, Year: is.Year, YearNumber: is.YearNumber,
		TotalNumber: is.TotalNumber, Title: is.Title, Date: is.Date.Format("2006-01-02"), Classification: int(is.Classification),
		Marking: is.Classification.Chinese(), Distribution: slices.Clone(is.Periodical.Distribution), FooterNote: is.Periodical.FooterNote,
		CorrectionNote: reason, SignedBy: signer, SignedAt: at.In(search.Location).Format("2006-01-02 15:04")}
	for _, sec := range is.Sections() {
		rs := render.Section{Name: sec}
		for _, it := range is.ItemsIn(sec) {
			units := make([]string, len(it.Units))
			for i, u := range it.Units {
				units[i] = u.Name
			}
			rs.Items = append(rs.Items, render.Item{Kind: it.Ref.Kind, ID: it.Ref.ID, Title: it.Title, Units: units,
				Paragraphs: it.Paragraphs, EditorNote: it.EditorNote})
		}
		if len(rs.Items) > 0 {
			out.Sections = append(out.Sections, rs)
		}
	}
	return out
}

// Preview renders the print view of the issue as it stands (unsigned issues).
func (s *Service) Preview(ctx context.Context, sub access.Subject, issueID int64) ([]byte, error) {
	is, err := s.Issue(ctx, sub, issueID)
	if err != nil {
		return nil, err
	}
	return render.HTML(s.snapshot(is, "", s.now(), ""))
}

// Sign signs the issue off (签发): only a signer; the issue must be a draft or a correction in
// progress, with at least one item, every item readable by the signer. It freezes the snapshot
// (canonical JSON and its SHA-256), renders the HTML, PDF and DOCX once, stores them with their
// hashes in a write-once revision row, and makes the issue read-only. Signing a signed issue is
// refused.
func (s *Service) Sign(ctx context.Context, sub access.Subject, issueID int64, clientIP string) (Revision, error) {
	if !isSigner(sub) {
		return Revision{}, fmt.Errorf("periodical: sign issue %d: %w", issueID, ErrForbidden)
	}
	var rev Revision
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.loadIssue(ctx, tx, sub, issueID, true)
		if err != nil {
			return err
		}
		if !is.Editable() {
			return stateErr("本期已于 %s 签发（第%d版），不能重复签发", fmtTime(is.SignedAt), is.Revision)
		}
		if len(is.Items) == 0 {
			return stateErr("本期还没有条目，不能签发")
		}
		var hidden []string
		for _, it := range is.Items {
			if !it.Visible {
				hidden = append(hidden, it.Ref.String())
			}
		}
		if len(hidden) > 0 {
			return stateErr("签发人无权查看本期的条目 %s，不能签发", strings.Join(hidden, "、"))
		}
		reason := ""
		if n := len(is.Corrections); n > 0 && is.Corrections[n-1].Revision == is.Revision {
			reason = is.Corrections[n-1].Reason
		}
		var signer string
		if err := tx.QueryRow(ctx, `SELECT COALESCE(NULLIF(display_name, ''), username) FROM users WHERE id = $1`, sub.UserID).Scan(&signer); err != nil {
			return err
		}
		at := s.now()
		snap := s.snapshot(is, signer, at, reason)
		canon, err := json.Marshal(snap)
		if err != nil {
			return err
		}
		htmlDoc, err := render.HTML(snap)
		if err != nil {
			return err
		}
		docx, err := render.DOCX(snap)
		if err != nil {
			return err
		}
		pdf, err := s.printer.PDF(ctx, snap)
		if err != nil {
			return err
		}
		rev = Revision{Revision: is.Revision, Reason: reason, ContentHash: sha(canon), SignedBy: signer, SignedAt: at,
			PDFSHA256: sha(pdf), DOCXSHA256: sha(docx), HTMLSHA256: sha(htmlDoc), PDFSize: len(pdf), DOCXSize: len(docx)}
		if _, err := tx.Exec(ctx, `INSERT INTO periodical_issue_revisions (issue_id, revision, reason, snapshot, content_hash, signed_by, signed_at,
				html, html_sha256, pdf, pdf_sha256, docx, docx_sha256)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			issueID, is.Revision, reason, string(canon), rev.ContentHash, sub.UserID, at, htmlDoc, rev.HTMLSHA256, pdf, rev.PDFSHA256, docx, rev.DOCXSHA256); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET state = 'signed', signed_at = $2, version = version + 1, updated_at = now() WHERE id = $1`, issueID, at); err != nil {
			return err
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.sign", Object: issueObject(issueID), Label: &lv,
			Detail: fmt.Sprintf("revision=%d sha256=%s", is.Revision, rev.ContentHash)})
	})
	if err != nil {
		return Revision{}, wrapKeep("sign", issueID, err)
	}
	return rev, nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.In(search.Location).Format("2006-01-02 15:04")
}

// RequestCorrection opens the next revision of a signed (or sent) issue with a reason: the
// signed revision stays as it was; items become editable again until the next signature.
// Archived issues are immutable and refuse corrections.
func (s *Service) RequestCorrection(ctx context.Context, sub access.Subject, issueID int64, reason, clientIP string) error {
	if !isSigner(sub) {
		return fmt.Errorf("periodical: correct issue %d: %w", issueID, ErrForbidden)
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 1000 {
		return &ValidationError{Fields: map[string]string{"reason": "更正理由须为 1–1000 个字"}}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.loadIssue(ctx, tx, sub, issueID, true)
		if err != nil {
			return err
		}
		if is.State != "signed" && is.State != "sent" {
			return stateErr("本期%s，不能提出更正", StateName(is.State))
		}
		next := is.Revision + 1
		if _, err := tx.Exec(ctx, `INSERT INTO periodical_issue_corrections (issue_id, revision, reason, created_by) VALUES ($1, $2, $3, $4)`,
			issueID, next, reason, nullID(sub.UserID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET state = 'correcting', revision = $2 WHERE id = $1`, issueID, next); err != nil {
			return err
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.correct", Object: issueObject(issueID), Label: &lv, Detail: fmt.Sprintf("revision=%d %s", next, reason)})
	})
	if err != nil {
		return wrapKeep("correct", issueID, err)
	}
	return nil
}

// Distribute records the sending of the latest signed revision to recipients (by default the
// periodical's distribution list); the issue becomes 'sent'. A recipient already sent this
// revision is not recorded twice.
func (s *Service) Distribute(ctx context.Context, sub access.Subject, issueID int64, recipients []string, channel, clientIP string) (int, error) {
	if !canManage(sub) {
		return 0, fmt.Errorf("periodical: distribute issue %d: %w", issueID, ErrForbidden)
	}
	if channel == "" {
		channel = "print"
	}
	if !slices.Contains(Channels, channel) {
		return 0, &ValidationError{Fields: map[string]string{"channel": "分送方式只能是 print、electronic 或 confidential_line"}}
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.loadIssue(ctx, tx, sub, issueID, true)
		if err != nil {
			return err
		}
		if is.State != "signed" && is.State != "sent" {
			return stateErr("本期%s，只有已签发的刊物才能分送", StateName(is.State))
		}
		recipients = cleanList(recipients, 100)
		if len(recipients) == 0 {
			recipients = is.Periodical.Distribution
		}
		for _, r := range recipients {
			tag, err := tx.Exec(ctx, `INSERT INTO periodical_distributions (issue_id, revision, recipient, channel, sent_by)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, issueID, is.Revision, r, channel, nullID(sub.UserID))
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET state = 'sent', sent_at = COALESCE(sent_at, now()) WHERE id = $1`, issueID); err != nil {
			return err
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.distribute", Object: issueObject(issueID), Label: &lv, Detail: strings.Join(recipients, ",")})
	})
	if err != nil {
		return 0, wrapKeep("distribute", issueID, err)
	}
	return n, nil
}

// Archive archives a signed or sent issue: immutable from then on (no corrections, no
// item changes), still readable and searchable with the archived facet. Nothing is deleted.
func (s *Service) Archive(ctx context.Context, sub access.Subject, issueID int64, clientIP string) error {
	if !canManage(sub) {
		return fmt.Errorf("periodical: archive issue %d: %w", issueID, ErrForbidden)
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.loadIssue(ctx, tx, sub, issueID, true)
		if err != nil {
			return err
		}
		if is.State != "signed" && is.State != "sent" {
			return stateErr("本期%s，只有已签发的刊物才能归档", StateName(is.State))
		}
		if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET state = 'archived', archived_at = now() WHERE id = $1`, issueID); err != nil {
			return err
		}
		refs := make([]Ref, len(is.Items))
		for i, it := range is.Items {
			refs[i] = it.Ref
		}
		if err := reindexRefs(ctx, tx, refs); err != nil { // their search documents gain the archived facet
			return err
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.archive", Object: issueObject(issueID), Label: &lv})
	})
	if err != nil {
		return wrapKeep("archive", issueID, err)
	}
	return nil
}

// Output formats.
const (
	FormatPDF  = "pdf"
	FormatDOCX = "docx"
	FormatHTML = "html"
)

// Output returns a stored output of a signed revision (0: the latest) and its SHA-256. Every
// download is audited (an export of a possibly classified document).
func (s *Service) Output(ctx context.Context, sub access.Subject, issueID int64, revision int, format, clientIP string) ([]byte, string, Issue, error) {
	is, err := s.Issue(ctx, sub, issueID)
	if err != nil {
		return nil, "", Issue{}, err
	}
	if len(is.Revisions) == 0 {
		return nil, "", is, stateErr("本期尚未签发，没有定稿文件")
	}
	if revision == 0 {
		revision = is.Revisions[len(is.Revisions)-1].Revision
	}
	col := map[string]string{FormatPDF: "pdf", FormatDOCX: "docx", FormatHTML: "html"}[format]
	if col == "" {
		return nil, "", is, &ValidationError{Fields: map[string]string{"format": "格式只能是 pdf、docx 或 html"}}
	}
	var data []byte
	var hash string
	err = s.db.QueryRow(ctx, `SELECT `+col+`, `+col+`_sha256 FROM periodical_issue_revisions WHERE issue_id = $1 AND revision = $2`, issueID, revision).Scan(&data, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", is, fmt.Errorf("periodical: issue %d revision %d: %w", issueID, revision, ErrNotFound)
	}
	if err != nil {
		return nil, "", is, fmt.Errorf("periodical: issue %d output: %w", issueID, err)
	}
	lv := int(is.Classification)
	if err := audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: "periodical.issue.export", Object: issueObject(issueID), Label: &lv, Detail: format + " revision=" + strconv.Itoa(revision)}); err != nil {
		return nil, "", is, err
	}
	return data, hash, is, nil
}

// Snapshot returns the stored canonical snapshot of a revision and its hash, and whether the
// hash still matches (an integrity check).
func (s *Service) Snapshot(ctx context.Context, sub access.Subject, issueID int64, revision int) (render.Issue, string, bool, error) {
	if _, err := s.Issue(ctx, sub, issueID); err != nil {
		return render.Issue{}, "", false, err
	}
	var snap, hash string
	err := s.db.QueryRow(ctx, `SELECT snapshot, content_hash FROM periodical_issue_revisions WHERE issue_id = $1 AND revision = $2`, issueID, revision).Scan(&snap, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return render.Issue{}, "", false, fmt.Errorf("periodical: issue %d revision %d: %w", issueID, revision, ErrNotFound)
	}
	if err != nil {
		return render.Issue{}, "", false, err
	}
	var out render.Issue
	if err := json.Unmarshal([]byte(snap), &out); err != nil {
		return render.Issue{}, "", false, err
	}
	return out, hash, sha([]byte(snap)) == hash, nil
}

// Void abandons an unsigned issue: it keeps its reserved numbers (never reused) and its items,
// and leaves the lists of open issues. A signed issue cannot be voided (correct it instead).
func (s *Service) Void(ctx context.Context, sub access.Subject, issueID int64, reason, clientIP string) error {
	if !canManage(sub) {
		return fmt.Errorf("periodical: void issue %d: %w", issueID, ErrForbidden)
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 1000 {
		return &ValidationError{Fields: map[string]string{"reason": "作废理由须为 1–1000 个字"}}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		is, err := s.loadIssue(ctx, tx, sub, issueID, true)
		if err != nil {
			return err
		}
		if is.State != "draft" || len(is.Revisions) > 0 {
			return stateErr("本期%s，只有从未签发的期次可以作废", StateName(is.State))
		}
		if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET state = 'void' WHERE id = $1`, issueID); err != nil {
			return err
		}
		if err := s.touch(ctx, tx, issueID); err != nil {
			return err
		}
		lv := int(is.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.void", Object: issueObject(issueID), Label: &lv, Detail: reason})
	})
	if err != nil {
		return wrapKeep("void", issueID, err)
	}
	return nil
}
