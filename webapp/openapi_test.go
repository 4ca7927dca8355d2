package webapp_test

import (
	"bufio"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The module has no YAML library in its build graph (gopkg.in/yaml.v3 is only listed, not
// downloadable without `go get`), so this reads the block-style subset docs/openapi.yaml is
// written in: mapping keys by indentation, list items, and block scalars (| and >) skipped.
// It yields every mapping key as a slash-separated path ("paths//api/v1/search/get"), which is
// all the checks below need. python3 -m openapi_spec_validator validates the file in full.

type yamlKeys map[string]bool

var yamlKeyRE = regexp.MustCompile(`^(\s*)(- )?('[^']*'|"[^"]*"|[^\s#'"-][^:]*?|/[^:]*?):(\s+(.*))?$`)

func readYAMLKeys(t *testing.T, path string) (yamlKeys, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := yamlKeys{}
	var refs []string
	type frame struct {
		indent int
		path   string
	}
	var stack []frame
	blockIndent := -1 // inside a block scalar deeper than this indent
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimRight(sc.Text(), " \t")
		trimmed := strings.TrimLeft(raw, " ")
		indent := len(raw) - len(trimmed)
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "\t") {
			t.Fatalf("%s:%d: tab in indentation", path, line)
		}
		if blockIndent >= 0 {
			if indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		m := yamlKeyRE.FindStringSubmatch(raw)
		if m == nil {
			if strings.HasPrefix(trimmed, "- ") {
				continue // a plain list item ("- url: …" is matched above)
			}
			t.Fatalf("%s:%d: cannot read %q (keep the file in block style)", path, line, raw)
		}
		keyIndent := indent
		if m[2] != "" {
			keyIndent += 2 // "- key:" opens a mapping inside a list item
		}
		key := strings.Trim(m[3], `'"`)
		value := strings.TrimSpace(m[5])
		for len(stack) > 0 && stack[len(stack)-1].indent >= keyIndent {
			stack = stack[:len(stack)-1]
		}
		parent := ""
		if len(stack) > 0 {
			parent = stack[len(stack)-1].path + "/"
		}
		if m[2] != "" {
			// A list item: its keys live under an anonymous item that ends at the next "- ".
			// They are not addressable by a path and stay out of the key set.
			parent += "\x00" + strconv.Itoa(line) + "/"
			stack = append(stack, frame{indent + 1, strings.TrimSuffix(parent, "/")})
		}
		p := parent + key
		stack = append(stack, frame{keyIndent, p})
		if !strings.Contains(p, "\x00") {
			if keys[p] {
				t.Errorf("%s:%d: duplicate key %s", path, line, p)
			}
			keys[p] = true
		}
		if key == "$ref" {
			refs = append(refs, strings.Trim(value, `'"`))
		}
		if value == "|" || value == ">" || value == "|-" || value == ">-" {
			blockIndent = keyIndent
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys, refs
}

// children returns the direct child keys of prefix.
func (k yamlKeys) children(prefix string) []string {
	var out []string
	for p := range k {
		if rest, ok := strings.CutPrefix(p, prefix+"/"); ok && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// pathsOf returns "METHOD /path" for every operation under paths:. Path keys contain slashes,
// so they are recognized by their leading "/".
func (k yamlKeys) operations() map[string]bool {
	ops := map[string]bool{}
	re := regexp.MustCompile(`^paths/(/.*)/(get|put|post|delete|patch|head|options)$`)
	for p := range k {
		if m := re.FindStringSubmatch(p); m != nil {
			ops[strings.ToUpper(m[2])+" "+m[1]] = true
		}
	}
	return ops
}

var fiberParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)(<[^>]*>)?\??`)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	keys, refs := readYAMLKeys(t, "../docs/openapi.yaml")
	if !keys["openapi"] || !keys["components/securitySchemes/bearerAuth/scheme"] {
		t.Fatal("spec lacks openapi or the bearer security scheme")
	}
	for _, r := range refs {
		target, ok := strings.CutPrefix(r, "#/")
		if !ok || !keys[target] {
			t.Errorf("$ref %q points nowhere", r)
		}
	}
	for _, want := range []string{"components/schemas/Error/properties/error/properties/code",
		"components/schemas/Error/properties/error/properties/message", "components/schemas/Error/properties/error/properties/fields",
		"components/parameters/IdempotencyKey"} {
		if !keys[want] {
			t.Errorf("spec lacks %s", want)
		}
	}

	s := newStack(t, stackOptions{})
	app := map[string]bool{}
	for _, rt := range s.App.Handler().GetRoutes(true) {
		if rt.Method == http.MethodHead || rt.Method == http.MethodOptions || rt.Method == "USE" {
			continue
		}
		if rt.Path != "/healthz" && rt.Path != "/readyz" && rt.Path != "/metrics" && !strings.HasPrefix(rt.Path, "/api/v1/") {
			continue
		}
		app[rt.Method+" "+fiberParam.ReplaceAllString(rt.Path, "{$1}")] = true
	}
	spec := keys.operations()
	for op := range app {
		if !spec[op] {
			t.Errorf("route %s is not documented in docs/openapi.yaml", op)
		}
	}
	for op := range spec {
		if !app[op] {
			t.Errorf("docs/openapi.yaml documents %s, which the app does not serve", op)
		}
	}
	if len(app) < 10 {
		t.Fatalf("only %d routes in the route table: %v", len(app), app)
	}
	for op := range spec {
		method, path, _ := strings.Cut(op, " ")
		base := "paths/" + path + "/" + strings.ToLower(method)
		if len(keys.children(base+"/responses")) == 0 {
			t.Errorf("%s documents no responses", op)
		}
	}
}

// TestOpenAPISchemasMatchResponses compares the documented properties with the fields of live
// responses, both ways, so a renamed or added field shows up here.
func TestOpenAPISchemasMatchResponses(t *testing.T) {
	t.Parallel()
	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	props := func(schema string) []string {
		return keys.children("components/schemas/" + schema + "/properties")
	}
	s := newStack(t, stackOptions{})
	check := func(schema string, obj map[string]any, optional ...string) {
		t.Helper()
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		sort.Strings(got)
		want := slices.DeleteFunc(props(schema), func(p string) bool { return slices.Contains(optional, p) && !slices.Contains(got, p) })
		if !slices.Equal(got, want) {
			t.Errorf("schema %s documents %v; the response has %v", schema, want, got)
		}
	}
	obj := func(r resp) map[string]any {
		t.Helper()
		if r.Status >= 300 {
			t.Fatalf("%s", r)
		}
		return r.JSON(t)
	}
	first := func(v any) map[string]any {
		t.Helper()
		l, _ := v.([]any)
		if len(l) == 0 {
			t.Fatalf("empty list %v", v)
		}
		m, _ := l[0].(map[string]any)
		return m
	}

	login := obj(s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "rep_a", "password": password}))
	check("LoginResponse", login)
	check("User", login["user"].(map[string]any))
	tok := login["token"].(string)
	s.mu.Lock()
	s.tokens["rep_a"] = tok
	s.mu.Unlock()
	check("User", obj(s.api(t, "GET", "/api/v1/me", tok, nil)))

	in := map[string]any{}
	for _, p := range props("SubmissionInput") {
		if p == "label_categories" {
			in[p] = []string{} // the test user holds no categories
			continue
		}
		if p == "draft" {
			in[p] = false // reported directly: the record is then searched for below
			continue
		}
		v := map[string]string{"title": "接口字段核对", "body": "正文 kwopenapicheck", "body_html": "", "category": "C11", "urgency": "normal",
			"classification": "public", "writer_name": "张三", "writer_phone": "0731-1234567"}[p]
		if v == "" && p != "body_html" {
			t.Errorf("SubmissionInput documents %s, which the test does not know how to fill", p)
		}
		in[p] = v
	}
	sub := obj(s.api(t, "POST", "/api/v1/submissions", tok, in))
	check("Submission", sub)
	if sub["category"] != "C11" || sub["writer_name"] != "张三" {
		t.Errorf("documented input fields were not taken: %v", sub)
	}
	list := obj(s.api(t, "GET", "/api/v1/submissions", tok, nil))
	check("SubmissionList", list)
	check("Submission", first(list["items"]), "body_html")
	check("CategoryList", obj(s.api(t, "GET", "/api/v1/categories", tok, nil)))
	check("Category", first(obj(s.api(t, "GET", "/api/v1/categories", tok, nil))["items"]))
	check("UnitList", obj(s.api(t, "GET", "/api/v1/units", tok, nil)))
	check("Unit", first(obj(s.api(t, "GET", "/api/v1/units", tok, nil))["items"]))
	s.waitIndexed(t, 1)
	res := obj(s.api(t, "GET", "/api/v1/search?q=kwopenapicheck", tok, nil))
	check("SearchResult", res, "histogram", "interval")
	withHistogram := obj(s.api(t, "GET", "/api/v1/search?q=kwopenapicheck&interval=month", tok, nil))
	check("SearchResult", withHistogram)
	check("HistogramBucket", first(withHistogram["histogram"]))
	check("SearchHit", first(res["hits"]), "attachment") // only when an attachment's text matched (issue 11)
	check("FacetValue", first(res["facets"].(map[string]any)["unit"]))
	check("Health", obj(s.api(t, "GET", "/healthz", "", nil)))
	check("Ready", obj(s.api(t, "GET", "/readyz", "", nil)))
	e := s.api(t, "POST", "/api/v1/submissions", tok, map[string]string{"title": ""}).JSON(t)
	check("Error", e)
	if inner, _ := e["error"].(map[string]any); inner != nil {
		var got []string
		for k := range inner {
			got = append(got, k)
		}
		sort.Strings(got)
		if want := keys.children("components/schemas/Error/properties/error/properties"); !slices.Equal(got, want) {
			t.Errorf("error body has %v, spec documents %v", got, want)
		}
	}
}
