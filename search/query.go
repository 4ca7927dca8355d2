package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Node is a node of a parsed query (see ParseQuery). The concrete types are All, Word, Phrase,
// And, Or and Not; engines translate them with a type switch.
type Node interface {
	node()
	String() string
}

// Fields a query word can be restricted to.
const (
	FieldAny   = ""      // title or body
	FieldTitle = "title" // 标题
	FieldBody  = "body"  // 正文
)

// All matches every document (an empty query: browse within the scope and filters).
type All struct{}

// Word is one typed word. The engine analyzes Text with analyzers.Query; a word that segments
// into several tokens must match them as a phrase (consecutive positions).
type Word struct {
	Text  string
	Field string // FieldAny, FieldTitle or FieldBody
}

// Phrase is quoted text whose tokens must appear at consecutive positions, in order.
type Phrase struct {
	Text  string
	Field string
}

// And matches documents matching every child. Not children exclude; at least one child is not a
// Not.
type And struct{ Nodes []Node }

// Or matches documents matching any child. No child is a Not.
type Or struct{ Nodes []Node }

// Not excludes documents matching Node. It only appears as a child of And.
type Not struct{ Node Node }

func (All) node()    {}
func (Word) node()   {}
func (Phrase) node() {}
func (And) node()    {}
func (Or) node()     {}
func (Not) node()    {}

func (All) String() string { return "*" }
func (w Word) String() string {
	return fieldPrefix(w.Field) + w.Text
}
func (p Phrase) String() string { return fieldPrefix(p.Field) + `"` + p.Text + `"` }
func (a And) String() string    { return "AND(" + joinNodes(a.Nodes) + ")" }
func (o Or) String() string     { return "OR(" + joinNodes(o.Nodes) + ")" }
func (n Not) String() string    { return "-" + n.Node.String() }

func fieldPrefix(f string) string {
	if f == FieldAny {
		return ""
	}
	return f + ":"
}

func joinNodes(ns []Node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.String()
	}
	return strings.Join(parts, " ")
}

// Limits of the query language.
const (
	MaxQueryRunes = 500 // longer queries are rejected
	maxQueryDepth = 10  // nested parentheses
)

// ParseQuery parses the search box language:
//
//	城乡建设 营商环境        both words (AND is implicit)
//	城乡建设 OR 营商环境     either word; "|" works too (OR must be upper case)
//	-停车 -"物业 服务"        exclude a word or a phrase
//	"人民政府办公厅"         exact phrase, words in this order
//	title:停车  标题:停车     title only; body: / 正文: body only; also before "…" or (…)
//	(停车 OR 充电) 小区       grouping
//
// Full-width quotes “”＂, colon ：, parentheses （）, bar ｜ and minus － are accepted.
// An empty query is valid and parses to All. Errors wrap ErrBadQuery and carry a zh-CN message.
func ParseQuery(text string) (Node, error) {
	if utf8.RuneCountInString(text) > MaxQueryRunes {
		return nil, badQuery("查询过长（最多 %d 个字）", MaxQueryRunes)
	}
	toks, err := lexQuery(text)
	if err != nil {
		return nil, err
	}
	p := &queryParser{toks: toks}
	n, err := p.parseSeq(0, FieldAny)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, badQuery("括号不匹配：多余的“)”")
	}
	if n == nil {
		return All{}, nil
	}
	return n, nil
}

// PositiveTexts returns the texts of the words and phrases a hit matched (everything except
// exclusions), in query order, for highlighting.
func PositiveTexts(n Node) []string {
	var out []string
	var walk func(Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case Word:
			out = append(out, n.Text)
		case Phrase:
			out = append(out, n.Text)
		case And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case Or:
			for _, c := range n.Nodes {
				walk(c)
			}
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

type qtokKind int

const (
	qWord qtokKind = iota
	qPhrase
	qOr
	qMinus
	qField
	qLParen
	qRParen
)

type qtok struct {
	kind qtokKind
	text string
}

var queryReplacer = strings.NewReplacer(
	"“", `"`, "”", `"`, "＂", `"`, "：", ":", "（", "(", "）", ")", "｜", "|", "－", "-", "\u3000", " ",
)

var fieldNames = map[string]string{
	"title": FieldTitle, "标题": FieldTitle,
	"body": FieldBody, "正文": FieldBody,
}

func lexQuery(text string) ([]qtok, error) {
	s := queryReplacer.Replace(text)
	var toks []qtok
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, badQuery("引号未闭合：请检查 \" 或 “” 是否成对")
			}
			toks = append(toks, qtok{qPhrase, strings.TrimSpace(s[i+1 : i+1+j])})
			i += j + 2
		case r == '(':
			toks = append(toks, qtok{kind: qLParen})
			i++
		case r == ')':
			toks = append(toks, qtok{kind: qRParen})
			i++
		case r == '|':
			toks = append(toks, qtok{kind: qOr})
			i++
		case r == '-' && (len(toks) == 0 || i == 0 || isQuerySep(s[i-1])) && i+1 < len(s) && !isQuerySpace(s[i+1]):
			toks = append(toks, qtok{kind: qMinus})
			i++
		default:
			j := i
			for j < len(s) {
				c, n := utf8.DecodeRuneInString(s[j:])
				if unicode.IsSpace(c) || c == '"' || c == '(' || c == ')' || c == '|' {
					break
				}
				if c == ':' {
					if f, ok := fieldNames[strings.ToLower(s[i:j])]; ok {
						toks = append(toks, qtok{qField, f})
						i = j + 1
						j = i
						continue
					}
				}
				j += n
			}
			if w := s[i:j]; w == "OR" {
				toks = append(toks, qtok{kind: qOr})
			} else if w != "" {
				toks = append(toks, qtok{qWord, w})
			}
			i = j
		}
	}
	return toks, nil
}

func isQuerySpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isQuerySep(c byte) bool   { return isQuerySpace(c) || c == '(' || c == '|' || c == ':' }

type queryParser struct {
	toks []qtok
	pos  int
}

func (p *queryParser) peek() (qtok, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return qtok{}, false
}

// parseSeq parses implicitly ANDed OR-expressions up to ")" or the end.
func (p *queryParser) parseSeq(depth int, field string) (Node, error) {
	if depth > maxQueryDepth {
		return nil, badQuery("括号嵌套过深（最多 %d 层）", maxQueryDepth)
	}
	var nodes []Node
	for {
		t, ok := p.peek()
		if !ok || t.kind == qRParen {
			break
		}
		n, err := p.parseOr(depth, field)
		if err != nil {
			return nil, err
		}
		if n != nil {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	positive := false
	for _, n := range nodes {
		if _, ok := n.(Not); !ok {
			positive = true
		}
	}
	if !positive {
		return nil, badQuery("只有排除条件无法搜索：请至少输入一个要查找的词")
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return And{Nodes: nodes}, nil
}

func (p *queryParser) parseOr(depth int, field string) (Node, error) {
	if t, _ := p.peek(); t.kind == qOr {
		return nil, badQuery("OR 前面缺少搜索词")
	}
	first, err := p.parseUnary(depth, field)
	if err != nil {
		return nil, err
	}
	nodes := []Node{first}
	for {
		t, ok := p.peek()
		if !ok || t.kind != qOr {
			break
		}
		p.pos++
		if t, ok := p.peek(); !ok || t.kind == qOr || t.kind == qRParen {
			return nil, badQuery("OR 后面缺少搜索词")
		}
		n, err := p.parseUnary(depth, field)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	// Empty groups ("()", "\"\"") vanish.
	kept := nodes[:0]
	for _, n := range nodes {
		if n != nil {
			kept = append(kept, n)
		}
	}
	switch len(kept) {
	case 0:
		return nil, nil
	case 1:
		return kept[0], nil
	}
	for _, n := range kept {
		if _, ok := n.(Not); ok {
			return nil, badQuery("排除条件（-）不能和 OR 一起使用")
		}
	}
	return Or{Nodes: kept}, nil
}

func (p *queryParser) parseUnary(depth int, field string) (Node, error) {
	t, _ := p.peek()
	if t.kind != qMinus {
		return p.parsePrimary(depth, field)
	}
	p.pos++
	if t, ok := p.peek(); ok && t.kind == qMinus {
		return nil, badQuery("排除符号“-”重复")
	}
	n, err := p.parsePrimary(depth, field)
	if err != nil || n == nil {
		return nil, err
	}
	return Not{Node: n}, nil
}

func (p *queryParser) parsePrimary(depth int, field string) (Node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, badQuery("查询不完整：末尾缺少搜索词")
	}
	p.pos++
	switch t.kind {
	case qWord:
		return Word{Text: t.text, Field: field}, nil
	case qPhrase:
		if t.text == "" {
			return nil, nil
		}
		return Phrase{Text: t.text, Field: field}, nil
	case qField:
		if field != FieldAny && field != t.text {
			return nil, badQuery("字段冲突：不能同时限定标题和正文")
		}
		if n, ok := p.peek(); !ok || n.kind == qOr || n.kind == qRParen || n.kind == qField {
			return nil, badQuery("“%s:”后面缺少搜索词", t.text)
		}
		return p.parseUnaryNoNot(depth, t.text)
	case qLParen:
		n, err := p.parseSeq(depth+1, field)
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != qRParen {
			return nil, badQuery("括号不匹配：缺少“)”")
		}
		p.pos++
		return n, nil
	case qRParen:
		return nil, badQuery("括号不匹配：多余的“)”")
	case qOr:
		return nil, badQuery("OR 前面缺少搜索词")
	case qMinus:
		return nil, badQuery("排除符号“-”后面缺少搜索词")
	}
	return nil, badQuery("无法理解的查询")
}

// parseUnaryNoNot parses what follows a field prefix; "title:-x" is not allowed.
func (p *queryParser) parseUnaryNoNot(depth int, field string) (Node, error) {
	if t, _ := p.peek(); t.kind == qMinus {
		return nil, badQuery("排除符号“-”应写在字段前面，例如 -title:停车")
	}
	return p.parsePrimary(depth, field)
}
