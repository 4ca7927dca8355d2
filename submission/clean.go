package submission

import (
	"bytes"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Word and WPS put their own markup on the clipboard: conditional comments, <xml> blocks with
// document properties, <style> with mso-* rules, o:p / w:* / v:* elements, list numbers as
// literal text in spans marked mso-list:Ignore, paragraphs with class MsoListParagraph instead
// of lists, empty paragraphs made of &nbsp;, and images pointing at file:/// paths on the
// writer's machine. cleanOffice turns that into the plain structure the body policy keeps
// (paragraphs, headings, lists, tables, links); the policy then drops every attribute it does
// not allow. It runs on all rich-text input, Quill's own HTML included (which it leaves alone).

var (
	msoListIgnore = regexp.MustCompile(`(?i)mso-list\s*:\s*ignore`)
	msoListLevel  = regexp.MustCompile(`(?i)mso-list\s*:\s*l\d+\s+level(\d+)`)
	orderedMarker = regexp.MustCompile(`^\s*([(（]?[0-9一二三四五六七八九十]+[.)、．）]|[a-zA-Z][.)])`)
)

// dropWithContent are elements whose content is never text of the report.
var dropWithContent = map[string]bool{"xml": true, "style": true, "script": true, "head": true, "title": true,
	"meta": true, "link": true, "template": true, "noscript": true, "object": true, "iframe": true}

func cleanOffice(in string) string {
	if !strings.ContainsAny(in, "<&") {
		return in
	}
	ctx := &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"}
	nodes, err := html.ParseFragment(strings.NewReader(in), ctx)
	if err != nil {
		return in // the policy still sanitizes it
	}
	root := &html.Node{Type: html.ElementNode, DataAtom: atom.Div, Data: "div"}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	cleanNode(root)
	listify(root)
	dropEmptyParagraphs(root)
	var b bytes.Buffer
	for c := root.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return in
		}
	}
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

// cleanNode removes comments and junk elements and unwraps namespaced Office elements.
func cleanNode(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.CommentNode || c.Type == html.DoctypeNode:
			n.RemoveChild(c)
		case c.Type == html.ElementNode && dropWithContent[strings.ToLower(c.Data)]:
			n.RemoveChild(c)
		case c.Type == html.ElementNode && msoListIgnore.MatchString(attr(c, "style")):
			// The literal "1." or "·" Word writes before a list item: remember whether it was a
			// number, then drop it (the list element numbers the items).
			if orderedMarker.MatchString(textOf(c)) {
				for p := n; p != nil; p = p.Parent {
					if p.Type == html.ElementNode && p.Data == "p" {
						p.Attr = append(p.Attr, html.Attribute{Key: "data-ordered", Val: "1"})
						break
					}
				}
			}
			n.RemoveChild(c)
		case c.Type == html.ElementNode && c.Data == "img" && !strings.HasPrefix(attr(c, "src"), "/attachments/"):
			// file:///C:/Users/… or data: images cannot travel in a report body: images are
			// attachments with captions.
			n.RemoveChild(c)
		case c.Type == html.ElementNode && strings.Contains(c.Data, ":"): // o:p, w:sdt, v:shape …
			cleanNode(c)
			for g := c.FirstChild; g != nil; {
				gn := g.NextSibling
				c.RemoveChild(g)
				n.InsertBefore(g, c)
				g = gn
			}
			n.RemoveChild(c)
		default:
			cleanNode(c)
		}
		c = next
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func isListParagraph(n *html.Node) bool {
	if n.Type != html.ElementNode || n.Data != "p" {
		return false
	}
	return strings.Contains(strings.ToLower(attr(n, "class")), "msolistparagraph") || msoListLevel.MatchString(attr(n, "style"))
}

// listify turns runs of Word list paragraphs into <ol>/<ul> with <li> items.
func listify(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		listify(c)
	}
	for c := n.FirstChild; c != nil; {
		if !isListParagraph(c) {
			c = c.NextSibling
			continue
		}
		tag := "ul"
		if attr(c, "data-ordered") == "1" {
			tag = "ol"
		}
		list := &html.Node{Type: html.ElementNode, Data: tag, DataAtom: atom.Lookup([]byte(tag))}
		n.InsertBefore(list, c)
		for c != nil && (isListParagraph(c) || (c.Type == html.TextNode && strings.TrimSpace(c.Data) == "")) {
			next := c.NextSibling
			n.RemoveChild(c)
			if c.Type == html.ElementNode {
				c.Data, c.DataAtom, c.Attr = "li", atom.Li, nil
				list.AppendChild(c)
			}
			c = next
		}
	}
}

// dropEmptyParagraphs removes paragraphs that hold only white space (Word's <p>&nbsp;</p>).
func dropEmptyParagraphs(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode && (c.Data == "p" || c.Data == "div" || c.Data == "span") && !hasElement(c, "img") &&
			strings.TrimFunc(textOf(c), func(r rune) bool { return unicode.IsSpace(r) || r == '\u00a0' || r == '\u3000' }) == "" &&
			!hasElement(c, "br") {
			n.RemoveChild(c)
		} else {
			dropEmptyParagraphs(c)
		}
		c = next
	}
}

func hasElement(n *html.Node, tag string) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.Data == tag || hasElement(c, tag)) {
			return true
		}
	}
	return false
}
