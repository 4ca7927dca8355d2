package submission_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"infowork/submission"
)

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var junk = regexp.MustCompile(`(?i)mso|style=|class=|<span|<font|<o:|<w:|<v:|<xml|<!--|file:|font-family|Normal|WordDocument|@font-face|endif|StartFragment`)

func TestSanitizeWordClipboard(t *testing.T) {
	out := submission.SanitizeHTML(sample(t, "word_clipboard.html"))
	t.Log(out)
	if m := junk.FindString(out); m != "" {
		t.Fatalf("Word markup %q survived:\n%s", m, out)
	}
	for _, want := range []string{
		"<h1>芙蓉区东湖街道开展汛期防汛隐患排查</h1>",
		"<p>近日，东湖街道组织社区网格员对辖区12处易涝点开展拉网式排查，发现隐患5处，已全部整改到位。</p>",
		"<ol><li>疏通排水管网3.2公里；</li><li>储备沙袋2000个。</li></ol>",
		"<td>", "东湖社区", "整改隐患",
		`<a href="http://www.example.gov.cn/fxb/2026/0612.html" rel="nofollow">区防汛办通报</a>`,
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), ""), strings.Join(strings.Fields(want), "")) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1.") || strings.Contains(out, "&nbsp;") || strings.Contains(out, "<img") {
		t.Errorf("list numbers, spacers or file:// images left:\n%s", out)
	}
	// The text a reader and the search index get is the report, not the document settings.
	text := submission.HTMLToText(out)
	if strings.Contains(text, "false") || strings.Contains(text, "7.8 磅") || !strings.HasPrefix(text, "芙蓉区东湖街道开展汛期防汛隐患排查\n近日") {
		t.Errorf("text: %q", text)
	}
}

func TestSanitizeWPSClipboard(t *testing.T) {
	out := submission.SanitizeHTML(sample(t, "wps_clipboard.html"))
	t.Log(out)
	if m := junk.FindString(out); m != "" {
		t.Fatalf("WPS markup %q survived:\n%s", m, out)
	}
	flat := strings.Join(strings.Fields(out), "")
	for _, want := range []string{
		"<p><b>岳麓区西湖街道</b><b>强降雨应对情况</b></p>",
		"<p>6月12日凌晨，西湖街道遭遇短时强降雨，街道立即启动应急响应。</p>",
		"<ol><li>转移群众46人；</li><li>设置警示标志20处。</li></ol>",
		"<p>联系人：王五</p>",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "（一）") || strings.Contains(out, "<p></p>") {
		t.Errorf("list markers or empty paragraphs left:\n%s", out)
	}
}

func TestSanitizeImages(t *testing.T) {
	for in, want := range map[string]string{
		`<p><img src="/attachments/12/preview" alt="街道排查现场"></p>`:    `<p><img src="/attachments/12/preview" alt="街道排查现场"/></p>`,
		`<p>a<img src="https://evil.example/x.png">b</p>`:            `<p>ab</p>`,
		`<p>a<img src="data:image/png;base64,AAAA">b</p>`:            `<p>ab</p>`,
		`<p>a<img src="/attachments/12/preview" onerror="x()">b</p>`: `<p>a<img src="/attachments/12/preview"/>b</p>`,
	} {
		if got := submission.SanitizeHTML(in); got != want {
			t.Errorf("SanitizeHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidPhone(t *testing.T) {
	for _, ok := range []string{"13812345678", "+86 138 1234 5678", "+86 (10) 6512-3456", "138-1234-5678", "0731-84001234", "010 12345678",
		"(0731)84001234", "0731-84001234-801", "0731-84001234转801", "07318400123"} {
		if !submission.ValidPhone(ok) {
			t.Errorf("ValidPhone(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "12345", "12812345678", "1381234567", "84001234", "0731-12345", "电话待补", "138123456789"} {
		if submission.ValidPhone(bad) {
			t.Errorf("ValidPhone(%q) = true", bad)
		}
	}
}
