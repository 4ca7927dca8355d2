package search

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "*"},
		{"   ", "*"},
		{"停车", "停车"},
		{"城乡建设 营商环境", "AND(城乡建设 营商环境)"},
		{"城乡建设 OR 营商环境", "OR(城乡建设 营商环境)"},
		{"城乡建设|营商环境", "OR(城乡建设 营商环境)"},
		{"a or b", "AND(a or b)"},
		{"停车 -物业", "AND(停车 -物业)"},
		{`停车 -"物业 服务"`, `AND(停车 -"物业 服务")`},
		{`"人民政府办公厅"`, `"人民政府办公厅"`},
		{"“人民政府 办公厅”", `"人民政府 办公厅"`},
		{"title:停车", "title:停车"},
		{"标题：停车 正文:小区", "AND(title:停车 body:小区)"},
		{`title:"停车 难"`, `title:"停车 难"`},
		{"title:(停车 OR 充电) 小区", "AND(OR(title:停车 title:充电) 小区)"},
		{"（停车 OR 充电） 小区", "AND(OR(停车 充电) 小区)"},
		{"-title:停车 小区", "AND(-title:停车 小区)"},
		{"PM2.5 5G-基站", "AND(PM2.5 5G-基站)"},
		{"http://x.cn", "http://x.cn"},
		{`a "" b`, "AND(a b)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := ParseQuery(tt.in)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", tt.in, err)
			}
			if got := n.String(); got != tt.want {
				t.Errorf("ParseQuery(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{`"停车`, "引号未闭合"},
		{"“停车", "引号未闭合"},
		{"-停车", "只有排除条件"},
		{"-停车 -物业", "只有排除条件"},
		{"OR 停车", "OR 前面"},
		{"停车 OR", "OR 后面"},
		{"停车 OR -物业", "OR"},
		{"(停车", "括号不匹配"},
		{"停车)", "括号不匹配"},
		{"title:", "后面缺少搜索词"},
		{strings.Repeat("(", 20) + "a" + strings.Repeat(")", 20), "嵌套过深"},
		{strings.Repeat("长", MaxQueryRunes+1), "查询过长"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseQuery(tt.in)
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("ParseQuery(%q) error = %v, want ErrBadQuery", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseQuery(%q) = %q, want a message with %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestPositiveTexts(t *testing.T) {
	n, err := ParseQuery(`停车 -物业 (充电 OR "5G 基站")`)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(PositiveTexts(n), ",")
	if got != "停车,充电,5G 基站" {
		t.Fatalf("PositiveTexts = %s", got)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", `a "b c" -d`, "title:(a OR b)", "((", "“”：-|", "-title:-", "a|||b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseQuery(s)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("ParseQuery(%q) error %v does not wrap ErrBadQuery", s, err)
			}
			return
		}
		if n == nil {
			t.Fatalf("ParseQuery(%q) = nil, nil", s)
		}
		var check func(Node, bool)
		check = func(n Node, inAnd bool) {
			switch n := n.(type) {
			case Not:
				if !inAnd {
					t.Fatalf("ParseQuery(%q): Not outside And: %s", s, n)
				}
				check(n.Node, false)
			case And:
				pos := false
				for _, c := range n.Nodes {
					if _, ok := c.(Not); !ok {
						pos = true
					}
					check(c, true)
				}
				if !pos {
					t.Fatalf("ParseQuery(%q): And of exclusions only: %s", s, n)
				}
			case Or:
				for _, c := range n.Nodes {
					check(c, false)
				}
			case nil:
				t.Fatalf("ParseQuery(%q): nil node", s)
			}
		}
		check(n, false)
		_ = n.String()
	})
}
