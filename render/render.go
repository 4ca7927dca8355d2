package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
)

// Issue is the frozen content of one issue: everything the outputs show. It is also the signed
// snapshot (package periodical hashes its canonical JSON), so field names are part of the
// stored data: add fields, never rename them.
type Issue struct {
	IssueID        int64     `json:"issue_id"`
	Revision       int       `json:"revision"`
	Periodical     string    `json:"periodical"`      // 每日要情
	PeriodicalCode string    `json:"periodical_code"` //
	Special        bool      `json:"special"`         // 专刊
	MastheadOrg    string    `json:"masthead_org"`    // 中共××市委办公室
	Year           int       `json:"year"`
	YearNumber     int       `json:"year_number"`
	TotalNumber    int       `json:"total_number"`
	Title          string    `json:"title"`          // theme of a special issue, may be empty
	Date           string    `json:"date"`           // 2006-01-02
	Classification int       `json:"classification"` // label.Level
	Marking        string    `json:"marking"`        // 内部
	Sections       []Section `json:"sections"`
	Distribution   []string  `json:"distribution"`
	FooterNote     string    `json:"footer_note"`
	CorrectionNote string    `json:"correction_note"` // reason of the revision, empty for the first
	SignedBy       string    `json:"signed_by"`
	SignedAt       string    `json:"signed_at"` // 2006-01-02 15:04 Asia/Shanghai
}

// Section is one 栏目 with its items in order; an empty name is the issue's main body.
type Section struct {
	Name  string `json:"name"`
	Items []Item `json:"items"`
}

// Item is one piece of the issue.
type Item struct {
	Kind       string   `json:"kind"` // submission | draft
	ID         int64    `json:"id"`
	Title      string   `json:"title"`
	Units      []string `json:"units"` // contributing units' names
	Paragraphs []string `json:"paragraphs"`
	EditorNote string   `json:"editor_note"` // 编者按
}

// NumberText is the issue number line: 2026年第12期（总第345期）.
func (i Issue) NumberText() string {
	return fmt.Sprintf("%d年第%d期（总第%d期）", i.Year, i.YearNumber, i.TotalNumber)
}

// DateText is the date in Chinese: 2026年11月25日.
func (i Issue) DateText() string {
	var y, m, d int
	if _, err := fmt.Sscanf(i.Date, "%d-%d-%d", &y, &m, &d); err != nil {
		return i.Date
	}
	return fmt.Sprintf("%d年%d月%d日", y, m, d)
}

// FullTitle is the periodical name, with （专刊） for a special issue.
func (i Issue) FullTitle() string {
	if i.Special && !strings.Contains(i.Periodical, "专刊") {
		return i.Periodical + "（专刊）"
	}
	return i.Periodical
}

// Font is the CJK font every output uses; it ships with the deployment (fonts-wqy-microhei).
const Font = "WenQuanYi Micro Hei"

//go:embed issue.html.tmpl
var issueHTML string

var htmlTmpl = template.Must(template.New("issue").Parse(issueHTML))

// HTML renders the print view: one self-contained page (inline CSS, no external resources).
func HTML(is Issue) ([]byte, error) { return renderHTML(is, false) }

func renderHTML(is Issue, forPDF bool) ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, htmlData{Issue: is, Font: Font, ForPDF: forPDF}); err != nil {
		return nil, fmt.Errorf("render: html: %w", err)
	}
	return b.Bytes(), nil
}

type htmlData struct {
	Issue
	Font   string
	ForPDF bool // the marking comes from Chromium's header template instead
}
