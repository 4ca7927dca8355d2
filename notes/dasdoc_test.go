package notes_test

import (
	"slices"
	"testing"

	"infowork/notes"
)

func TestDocumentFromDAS(t *testing.T) {
	body := []byte(`{"@href":"/x.nsf/api/data/documents/unid/0123456789ABCDEF0123456789ABCDEF","@unid":"0123456789abcdef0123456789abcdef",
		"@noteid":"8FA","@created":"2024-03-15T01:15:00Z","@modified":"2024-03-16T02:10:10Z","@form":"Report","@parentid":"FEDCBA9876543210FEDCBA9876543210",
		"Subject":"关于汛期安全生产的报告","Count":3,"Scores":[1.25,-0.5],"Tags":["防汛","安全生产","防汛"],
		"PostedDate":"2024-03-15T01:15:00Z","Body":{"type":"multipart","content":[{"contentType":"text/html; charset=UTF-8","data":"<p>正文</p>"}]}}`)
	d, err := notes.DocumentFromDAS(body)
	if err != nil {
		t.Fatal(err)
	}
	if d.UNID != "0123456789ABCDEF0123456789ABCDEF" || d.Parent != "FEDCBA9876543210FEDCBA9876543210" || d.Form != "Report" ||
		d.Info.NoteInfo["modified"] != "2024-03-16T02:10:10Z" || d.Source != "das" {
		t.Fatalf("document %+v", d)
	}
	types := map[string]string{}
	for _, it := range d.Items {
		types[it.Name] = it.Type
	}
	want := map[string]string{"Subject": "text", "Count": "number", "Scores": "numberlist", "Tags": "textlist",
		"PostedDate": "datetime", "Body": "richtext"}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("%s: type %q, want %q", k, types[k], v)
		}
	}
	if it, _ := d.Item("Tags"); !slices.Equal(it.Texts(), []string{"防汛", "安全生产", "防汛"}) {
		t.Errorf("order and duplicates of a list: %v", it.Texts())
	}
	if it, _ := d.Item("Scores"); !slices.Equal(it.Texts(), []string{"1.25", "-0.5"}) {
		t.Errorf("numbers as sent: %v", it.Texts())
	}
	if _, err := notes.DocumentFromDAS([]byte(`{"@unid":"short"}`)); err == nil {
		t.Error("a document without a valid UNID accepted")
	}
}
