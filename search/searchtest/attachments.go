package searchtest

import (
	"strings"
	"testing"

	"infowork/search"
)

// testAttachments checks that text extracted from attachments is searched with its record: a
// sentence found only in an attachment finds the record, the hit names that attachment and
// shows the passage with the words marked; the record's label still applies; a phrase does
// not span two attachments; an update without the attachment forgets its text.
func testAttachments(t *testing.T, e search.Engine) {
	atts := func(a ...search.AttachmentText) func(*search.Document) {
		return func(d *search.Document) { d.Attachments = a }
	}
	long := strings.Repeat("无关的填充文字。", 400) + "附件中写明河道清淤工程将于下月完工。" + strings.Repeat("其他内容。", 100)
	docs := []search.Document{
		doc("att1", "防汛工作情况", "街道开展防汛检查。", atts(
			search.AttachmentText{ID: "11", Name: "检查记录.docx", Text: "检查组共发现隐患三处。"},
			search.AttachmentText{ID: "12", Name: "扫描件.jpg", Text: long},
		)),
		doc("att2", "机密的防汛情况", "正文", level(3), atts(search.AttachmentText{ID: "21", Name: "机密附件.pdf", Text: "河道清淤工程将于下月完工"})),
		doc("att3", "两份附件", "正文", atts(
			search.AttachmentText{ID: "31", Name: "甲.docx", Text: "第一份以河道结尾"},
			search.AttachmentText{ID: "32", Name: "乙.docx", Text: "清淤开头的第二份"},
		)),
	}
	apply(t, e, upserts(docs))
	removeAtCleanup(t, e, docs)
	scope := search.Scope{MaxLevel: 1, AllUnits: true, Principals: []string{"user:bob"}}

	res := mustSearch(t, e, search.Query{Text: `"河道清淤工程将于下月完工"`, Scope: scope})
	if got := ids(res); !sameSet(got, []string{"att1"}) {
		t.Fatalf("attachment sentence: %v (the confidential att2 must stay hidden)", got)
	}
	h := res.Hits[0].Attachment
	if h == nil || h.ID != "12" || h.Name != "扫描件.jpg" {
		t.Fatalf("hit attachment = %+v, want 扫描件.jpg", h)
	}
	if !strings.Contains(h.Snippet, "<mark>") || !strings.Contains(stripMarks(h.Snippet), "河道清淤工程将于下月完工") {
		t.Errorf("passage %q does not show the sentence", h.Snippet)
	}
	if len([]rune(stripMarks(h.Snippet))) > 200 {
		t.Errorf("passage is %d runes long", len([]rune(stripMarks(h.Snippet))))
	}
	// A word in the first attachment names that one.
	res = mustSearch(t, e, search.Query{Text: "隐患", Scope: scope})
	if got := ids(res); !sameSet(got, []string{"att1"}) || res.Hits[0].Attachment == nil || res.Hits[0].Attachment.Name != "检查记录.docx" {
		t.Errorf("隐患: %v %+v", got, res.Hits)
	}
	// A hit on the report's own text carries no attachment.
	res = mustSearch(t, e, search.Query{Text: "街道", Scope: scope})
	if len(res.Hits) != 1 || res.Hits[0].Attachment != nil {
		t.Errorf("body hit: %+v", res.Hits)
	}
	// The label applies to attachment text as to the record.
	all := search.Scope{MaxLevel: 3, AllUnits: true, Principals: []string{"user:bob"}}
	if got := ids(mustSearch(t, e, search.Query{Text: `"河道清淤工程将于下月完工"`, Scope: all})); !sameSet(got, []string{"att1", "att2"}) {
		t.Errorf("with clearance: %v", got)
	}
	// A phrase never joins the end of one file to the start of the next.
	if got := ids(mustSearch(t, e, search.Query{Text: `"河道清淤"`, Scope: scope})); !sameSet(got, []string{"att1"}) {
		t.Errorf("phrase across attachments: %v", got)
	}
	// A new version of the record without the attachment forgets its text.
	d := docs[0]
	d.Version, d.Attachments = 2, nil
	apply(t, e, upserts([]search.Document{d}))
	if got := ids(mustSearch(t, e, search.Query{Text: "隐患", Scope: scope})); len(got) != 0 {
		t.Errorf("after removing the attachments: %v", got)
	}
}

func stripMarks(s string) string {
	return strings.NewReplacer("<mark>", "", "</mark>", "").Replace(s)
}
