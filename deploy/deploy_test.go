// Package deploy_test keeps the deployment files under test: docker-compose.yml, the nginx,
// Prometheus and Grafana configuration, the Kubernetes manifests and the Dockerfile. The stack
// cannot run in CI (no Docker engine), so this checks what can be checked without it: every file
// parses, every file a service mounts exists, every INFOWORK_* variable is one the binary reads
// and every infowork_* metric a rule or dashboard names is registered in the Go source — the
// lists are derived from the source, so renaming a variable or a metric breaks this test.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"gopkg.in/yaml.v3"
)

// root is the repository root (tests run in deploy/).
const root = ".."

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(rel string) bool {
	_, err := os.Stat(filepath.Join(root, rel))
	return err == nil
}

// yamlDocs decodes every document of a (multi-document) YAML file.
func yamlDocs(t *testing.T, rel string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, rel)))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

func yamlDoc(t *testing.T, rel string) map[string]any {
	t.Helper()
	docs := yamlDocs(t, rel)
	if len(docs) != 1 {
		t.Fatalf("%s: %d YAML documents, want 1", rel, len(docs))
	}
	return docs[0]
}

// Accessors for decoded YAML/JSON (nil when absent or of another type).
func m(v any) map[string]any { x, _ := v.(map[string]any); return x }
func l(v any) []any          { x, _ := v.([]any); return x }
func s(v any) string         { x, _ := v.(string); return x }

// dig follows keys through nested maps.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		v = m(v)[k]
	}
	return v
}

// goSources returns the non-test Go files of the binary's packages: test helpers (directories
// whose name starts or ends with "test": testenv, testpg, searchtest, …) and scripts/ are left out, since the binary never reads their
// variables.
func goSources(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "scripts" || name == "node_modules" ||
				name == "deploy" || name == "bin" || strings.HasPrefix(name, "test") || strings.HasSuffix(name, "test")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	envCallRE    = regexp.MustCompile(`(?:os\.Getenv|os\.LookupEnv|envOr|envInt|envDuration)\(\s*"(INFOWORK_[A-Z0-9_]+)"`)
	envLiteralRE = regexp.MustCompile(`"(INFOWORK_[A-Z0-9_]+)"`)
)

// binaryEnv is every INFOWORK_* variable the binary reads: names passed to os.Getenv,
// os.LookupEnv and the config helpers, and names held in tables that feed them (a string
// literal that is exactly the name).
func binaryEnv(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	calls := 0
	for _, src := range goSources(t) {
		for _, mm := range envCallRE.FindAllStringSubmatch(src, -1) {
			names[mm[1]] = true
			calls++
		}
		for _, mm := range envLiteralRE.FindAllStringSubmatch(src, -1) {
			names[mm[1]] = true
		}
	}
	for _, must := range []string{"INFOWORK_DATABASE_URL", "INFOWORK_HTTP_ADDR", "INFOWORK_SEARCH_ENGINE", "INFOWORK_SECRET_KEY"} {
		if !names[must] {
			t.Fatalf("the scan of the Go source did not find %s: the scanner is broken (found %v)", must, names)
		}
	}
	if calls < 10 {
		t.Fatalf("only %d environment reads found in the Go source: the scanner is broken", calls)
	}
	return names
}

type metricKind int

const (
	plain metricKind = iota // gauge, counter or a const metric
	histogram
	summary
)

var (
	optsRE    = regexp.MustCompile(`prometheus\.New(Counter|Gauge|Histogram|Summary)(?:Vec|Func)?\(\s*prometheus\.\w+Opts\{([^}]*)\}`)
	fieldRE   = regexp.MustCompile(`\b(Namespace|Subsystem|Name):\s*"([a-z0-9_]*)"`)
	descLitRE = regexp.MustCompile(`"(infowork_[a-z0-9_]+)"`)
)

// registeredMetrics is every infowork_* metric the Go source registers, with its kind.
func registeredMetrics(t *testing.T) map[string]metricKind {
	t.Helper()
	out := map[string]metricKind{}
	for _, src := range goSources(t) {
		for _, mm := range optsRE.FindAllStringSubmatch(src, -1) {
			f := map[string]string{}
			for _, fm := range fieldRE.FindAllStringSubmatch(mm[2], -1) {
				f[fm[1]] = fm[2]
			}
			if f["Namespace"] != "infowork" || f["Name"] == "" {
				continue
			}
			name := "infowork_" + f["Name"]
			if f["Subsystem"] != "" {
				name = "infowork_" + f["Subsystem"] + "_" + f["Name"]
			}
			kind := plain
			switch mm[1] {
			case "Histogram":
				kind = histogram
			case "Summary":
				kind = summary
			}
			out[name] = kind
		}
		// Collectors that build their own descriptors (prometheus.NewDesc) name them in full.
		if strings.Contains(src, "prometheus.NewDesc(") {
			for _, mm := range descLitRE.FindAllStringSubmatch(src, -1) {
				if _, ok := out[mm[1]]; !ok {
					out[mm[1]] = plain
				}
			}
		}
	}
	for _, must := range []string{"infowork_http_request_duration_seconds", "infowork_outbox_backlog", "infowork_indexer_batches_total",
		"infowork_notes_sync_lag_seconds", "infowork_notes_sync_errors_total", "infowork_extraction_queue",
		"infowork_extraction_oldest_pending_age_seconds", "infowork_extraction_duration_seconds"} {
		if _, ok := out[must]; !ok {
			t.Fatalf("the scan of the Go source did not find %s: the scanner is broken (found %v)", must, out)
		}
	}
	return out
}

var metricRefRE = regexp.MustCompile(`\binfowork_[a-z0-9_]+`)

// checkMetrics reports every infowork_* name in expr that is not registered (allowing the
// _bucket, _sum and _count series of histograms and _sum, _count of summaries).
func checkMetrics(t *testing.T, where, expr string, reg map[string]metricKind) {
	t.Helper()
	for _, name := range metricRefRE.FindAllString(expr, -1) {
		if _, ok := reg[name]; ok {
			continue
		}
		found := false
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			base, ok := strings.CutSuffix(name, suf)
			if !ok {
				continue
			}
			if k, ok := reg[base]; ok && (k == histogram || k == summary && suf != "_bucket") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: metric %s is not registered in the Go source", where, name)
		}
	}
}

func envNames(v any) []string {
	var out []string
	switch e := v.(type) {
	case map[string]any:
		for k := range e {
			out = append(out, k)
		}
	case []any:
		for _, it := range e {
			if str := s(it); str != "" {
				k, _, _ := strings.Cut(str, "=")
				out = append(out, k)
			} else if n := s(m(it)["name"]); n != "" { // Kubernetes env list
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

func envValue(v any, name string) string {
	switch e := v.(type) {
	case map[string]any:
		return s(e[name])
	case []any:
		for _, it := range e {
			if k, val, ok := strings.Cut(s(it), "="); ok && k == name {
				return val
			}
		}
	}
	return ""
}

func TestCompose(t *testing.T) {
	env := binaryEnv(t)
	c := yamlDoc(t, "docker-compose.yml")
	services := m(c["services"])
	for _, want := range []string{"pg-primary", "pg-standby", "opensearch", "elasticsearch", "migrate", "web-1", "web-2",
		"indexer-1", "indexer-2", "nginx", "prometheus", "grafana", "pg-exporter-primary", "pg-exporter-standby"} {
		if services[want] == nil {
			t.Errorf("docker-compose.yml: service %s missing", want)
		}
	}
	if p := l(dig(services, "elasticsearch", "profiles")); !slices.Contains(p, any("elasticsearch")) {
		t.Errorf("elasticsearch: want profile elasticsearch, have %v", p)
	}
	named := m(c["volumes"])
	for name, sv := range services {
		svc := m(sv)
		// Every bind-mounted file exists; every named volume is declared.
		for _, v := range l(svc["volumes"]) {
			var src string
			if str := s(v); str != "" {
				src, _, _ = strings.Cut(str, ":")
			} else {
				src = s(m(v)["source"])
			}
			switch {
			case strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../"):
				if !exists(src) {
					t.Errorf("%s mounts %s, which does not exist", name, src)
				}
			case strings.HasPrefix(src, "/"):
				t.Errorf("%s mounts the absolute host path %s: use a path inside the repository", name, src)
			default:
				if _, ok := named[src]; !ok {
					t.Errorf("%s uses the volume %s, which is not declared under volumes:", name, src)
				}
			}
		}
		// Every INFOWORK_* variable is one the binary reads.
		for _, k := range envNames(svc["environment"]) {
			if strings.HasPrefix(k, "INFOWORK_") && !env[k] {
				t.Errorf("%s sets %s, which the binary does not read", name, k)
			}
		}
		// depends_on names services, with a valid condition.
		for dep, cond := range m(svc["depends_on"]) {
			if services[dep] == nil {
				t.Errorf("%s depends on the unknown service %s", name, dep)
			}
			switch cd := s(m(cond)["condition"]); cd {
			case "service_started", "service_healthy", "service_completed_successfully":
				if cd == "service_healthy" && m(services[dep])["healthcheck"] == nil {
					t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			default:
				t.Errorf("%s depends on %s with condition %q", name, dep, cd)
			}
		}
		if strings.HasPrefix(s(svc["image"]), "infowork") || svc["build"] != nil {
			cmd := l(svc["command"])
			if len(cmd) == 0 {
				t.Errorf("%s: an infowork service needs a command (serve, web, indexer or migrate)", name)
			}
			dsn := envValue(svc["environment"], "INFOWORK_DATABASE_URL")
			if !strings.Contains(dsn, "pg-primary:5432,pg-standby:5432") || !strings.Contains(dsn, "target_session_attrs=read-write") {
				t.Errorf("%s: INFOWORK_DATABASE_URL %q: want the multi-host form with target_session_attrs=read-write", name, dsn)
			}
			if name != "migrate" && m(dig(services, name, "depends_on", "migrate"))["condition"] != "service_completed_successfully" {
				t.Errorf("%s must wait for migrate to complete", name)
			}
		}
	}
	for _, web := range []string{"web-1", "web-2"} {
		if cmd := l(dig(services, web, "command")); len(cmd) != 1 || cmd[0] != "web" {
			t.Errorf("%s: command %v, want [web]", web, cmd)
		}
	}

	// Synchronous streaming replication: the standby's application_name is the name the
	// primary's synchronous_standby_names lists.
	args := strings.Join(func() []string {
		var out []string
		for _, a := range l(dig(services, "pg-primary", "command")) {
			out = append(out, s(a))
		}
		return out
	}(), " ")
	if !strings.Contains(args, "synchronous_commit=on") || !strings.Contains(args, "wal_level=replica") {
		t.Errorf("pg-primary: command %q: want wal_level=replica and synchronous_commit=on", args)
	}
	standby := envValue(dig(services, "pg-primary", "environment"), "STANDBY_NAME")
	init := string(readFile(t, "deploy/postgres-compose/primary-init.sh"))
	entry := string(readFile(t, "deploy/postgres-compose/standby-entrypoint.sh"))
	if standby == "" || !strings.Contains(init, "synchronous_standby_names") || !strings.Contains(entry, "application_name=$STANDBY_NAME") {
		t.Errorf("the standby's application_name and the primary's synchronous_standby_names must both come from STANDBY_NAME (%q)", standby)
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		for _, f := range []string{"deploy/postgres-compose/primary-init.sh", "deploy/postgres-compose/standby-entrypoint.sh"} {
			if out, err := exec.Command(sh, "-n", filepath.Join(root, f)).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", f, err, out)
			}
			if st, err := os.Stat(filepath.Join(root, f)); err == nil && st.Mode()&0o111 == 0 {
				t.Errorf("%s must be executable", f)
			}
		}
	}

	// nginx: both replicas, the forwarded address, a body limit above the upload limit.
	conf := string(readFile(t, "deploy/nginx/nginx.conf"))
	for _, want := range []string{"server web-1:8080", "server web-2:8080", "proxy_set_header X-Forwarded-For",
		"proxy_read_timeout", "proxy_connect_timeout", "max_fails="} {
		if !strings.Contains(conf, want) {
			t.Errorf("deploy/nginx/nginx.conf: %q missing", want)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Error("deploy/nginx/nginx.conf: unbalanced braces")
	}
	// The proxy must let the largest upload through (documents, 20 MiB unless configured), or
	// users get nginx's own HTML 413 instead of the app's JSON error.
	upload, _ := strconv.Atoi(envValue(dig(services, "web-1", "environment"), "INFOWORK_UPLOAD_MAX_BYTES"))
	if doc, err := strconv.Atoi(envValue(dig(services, "web-1", "environment"), "INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES")); err == nil {
		upload = max(upload, doc)
	} else {
		upload = max(upload, 20<<20) // the default document limit (cmd/infowork/config.go)
	}
	if mm := regexp.MustCompile(`client_max_body_size\s+(\d+)m;`).FindStringSubmatch(conf); mm == nil {
		t.Error("deploy/nginx/nginx.conf: client_max_body_size <N>m; missing")
	} else if n, _ := strconv.Atoi(mm[1]); n<<20 <= upload || n<<20 < 2<<20 {
		t.Errorf("client_max_body_size %sm must exceed the upload limit (%d bytes) and the app's 2 MiB body limit", mm[1], upload)
	}
	if proxies := envValue(dig(services, "web-1", "environment"), "INFOWORK_TRUSTED_PROXIES"); proxies != s(dig(services, "nginx", "networks", "infowork", "ipv4_address")) {
		t.Errorf("INFOWORK_TRUSTED_PROXIES %q must be nginx's fixed address", proxies)
	}

	// Prometheus scrapes compose services that exist.
	prom := yamlDoc(t, "deploy/prometheus/prometheus.yml")
	jobs := map[string]bool{}
	for _, sc := range l(prom["scrape_configs"]) {
		jobs[s(m(sc)["job_name"])] = true
		for _, st := range l(m(sc)["static_configs"]) {
			for _, target := range l(m(st)["targets"]) {
				host, _, _ := strings.Cut(s(target), ":")
				if host != "localhost" && services[host] == nil {
					t.Errorf("prometheus.yml scrapes %s, which is not a compose service", target)
				}
			}
		}
	}
	for _, j := range []string{"infowork-web", "infowork-indexer", "postgres", "infowork-notes-sync"} {
		if !jobs[j] {
			t.Errorf("prometheus.yml: job %s missing (the alert rules use it)", j)
		}
	}
	// The Notes sync serves its metrics where the infowork-notes-sync job scrapes them.
	if cmd := fmt.Sprint(l(dig(services, "notes-sync", "command"))); !strings.Contains(cmd, "notes sync") ||
		!strings.Contains(cmd, "--metrics-addr 0.0.0.0:9464") {
		t.Errorf("notes-sync: command %s, want notes sync … --metrics-addr 0.0.0.0:9464 (scraped as notes-sync:9464)", cmd)
	}
	if p := l(dig(services, "notes-sync", "profiles")); !slices.Contains(p, any("notes")) {
		t.Errorf("notes-sync: want profile notes (it needs a Domino server or drop folder), have %v", p)
	}
	if rf := l(prom["rule_files"]); len(rf) == 0 || !strings.HasPrefix(s(rf[0]), "/etc/prometheus/rules/") {
		t.Errorf("prometheus.yml: rule_files %v: want /etc/prometheus/rules/*.yml (mounted from deploy/prometheus/rules)", rf)
	}

	t.Run("docker compose config", func(t *testing.T) {
		docker, err := exec.LookPath("docker")
		if err != nil {
			t.Skip("no docker client: skipping `docker compose config`")
		}
		if err := exec.Command(docker, "compose", "version").Run(); err != nil {
			t.Skip("the docker client has no compose plugin: skipping `docker compose config`")
		}
		cmd := exec.Command(docker, "compose", "-f", "docker-compose.yml", "config", "-q")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "INFOWORK_SECRET_KEY=test", "POSTGRES_PASSWORD=test", "REPLICATION_PASSWORD=test",
			"MONITOR_PASSWORD=test", "GRAFANA_ADMIN_PASSWORD=test")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose config: %v\n%s", err, out)
		}
	})
}

func TestDockerfile(t *testing.T) {
	d := string(readFile(t, "Dockerfile"))
	for _, want := range []string{"FROM golang:1.26-bookworm AS build", "CGO_ENABLED=1", "FROM debian:bookworm-slim",
		"USER 10001", `VOLUME ["/data"]`, "EXPOSE 8080", "HEALTHCHECK", "/healthz", "./cmd/infowork"} {
		if !strings.Contains(d, want) {
			t.Errorf("Dockerfile: %q missing", want)
		}
	}
	ign := string(readFile(t, ".dockerignore"))
	for _, want := range []string{".git", ".data", "bin"} {
		if !slices.Contains(strings.Fields(ign), want) {
			t.Errorf(".dockerignore: %s missing", want)
		}
	}
}

// anchors returns the GitHub anchors of the Markdown headings of a file.
func anchors(t *testing.T, rel string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range strings.Split(string(readFile(t, rel)), "\n") {
		h := strings.TrimLeft(line, "#")
		if h == line || !strings.HasPrefix(h, " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(h)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

func hasHan(str string) bool {
	return strings.IndexFunc(str, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

func TestAlertRules(t *testing.T) {
	reg := registeredMetrics(t)
	docs := anchors(t, "docs/operations.md")
	files, err := filepath.Glob(filepath.Join(root, "deploy/prometheus/rules/*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files under deploy/prometheus/rules (%v)", err)
	}
	alerts := map[string]bool{}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		doc := yamlDoc(t, rel)
		for _, g := range l(doc["groups"]) {
			for _, r := range l(m(g)["rules"]) {
				rule := m(r)
				name, expr := s(rule["alert"]), s(rule["expr"])
				if name == "" {
					if s(rule["record"]) == "" {
						t.Errorf("%s: a rule with neither alert nor record", rel)
					}
					checkMetrics(t, rel, expr, reg)
					continue
				}
				if alerts[name] {
					t.Errorf("%s: alert %s defined twice", rel, name)
				}
				alerts[name] = true
				if strings.TrimSpace(expr) == "" || strings.Count(expr, "(") != strings.Count(expr, ")") {
					t.Errorf("%s: %s: empty or unbalanced expr", rel, name)
				}
				checkMetrics(t, rel+": "+name, expr, reg)
				if sev := s(dig(rule, "labels", "severity")); sev != "warning" && sev != "critical" {
					t.Errorf("%s: %s: severity %q", rel, name, sev)
				}
				ann := m(rule["annotations"])
				for _, k := range []string{"summary", "description"} {
					if v := s(ann[k]); !hasHan(v) || !regexp.MustCompile(`[A-Za-z]{4,}`).MatchString(v) {
						t.Errorf("%s: %s: annotation %s must be in Chinese and English: %q", rel, name, k, v)
					}
				}
				rb := s(ann["runbook_url"])
				file, anchor, _ := strings.Cut(rb, "#")
				if file != "docs/operations.md" || !docs[anchor] {
					t.Errorf("%s: %s: runbook_url %q: want docs/operations.md#<anchor of a heading there>", rel, name, rb)
				}
			}
		}
	}
	// The alerts the operations issue asks for.
	for _, want := range []string{"InfoworkHigh5xxRatio", "InfoworkRouteLatencyHigh", "InfoworkOutboxBacklogGrowing",
		"InfoworkOutboxOldestAgeHigh", "InfoworkDeadLetters", "InfoworkIndexerErrors", "InfoworkSearchUnavailable",
		"InfoworkDBPoolSaturated", "PostgresReplicationLagHigh", "InfoworkTargetDown",
		// Notes coexistence (issue 8): sync lag, Domino refusing the credentials, errors rate.
		"InfoworkNotesSyncLagHigh", "InfoworkNotesSyncAuthFailing", "InfoworkNotesSyncErrors",
		// Attachment text extraction (issue 11): oldest waiting job, backlog, failure rate, stalled worker.
		"InfoworkExtractionOldestJobOld", "InfoworkExtractionBacklogHigh", "InfoworkExtractionFailing", "InfoworkExtractionStalled"} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}

func TestGrafana(t *testing.T) {
	reg := registeredMetrics(t)
	c := yamlDoc(t, "docker-compose.yml")
	var dashMount, provMount string
	for _, v := range l(dig(c, "services", "grafana", "volumes")) {
		parts := strings.Split(s(v), ":")
		switch {
		case len(parts) >= 2 && parts[0] == "./deploy/grafana/dashboards":
			dashMount = parts[1]
		case len(parts) >= 2 && parts[0] == "./deploy/grafana/provisioning":
			provMount = parts[1]
		}
	}
	if provMount != "/etc/grafana/provisioning" || dashMount == "" {
		t.Fatalf("grafana must mount deploy/grafana/provisioning at /etc/grafana/provisioning and deploy/grafana/dashboards (have %q, %q)", provMount, dashMount)
	}
	uids := map[string]bool{}
	dsFiles, _ := filepath.Glob(filepath.Join(root, "deploy/grafana/provisioning/datasources/*.yml"))
	for _, f := range dsFiles {
		rel, _ := filepath.Rel(root, f)
		for _, ds := range l(yamlDoc(t, rel)["datasources"]) {
			uids[s(m(ds)["uid"])] = true
		}
	}
	provFiles, _ := filepath.Glob(filepath.Join(root, "deploy/grafana/provisioning/dashboards/*.yml"))
	if len(dsFiles) == 0 || len(provFiles) == 0 {
		t.Fatal("grafana provisioning: datasources/*.yml and dashboards/*.yml needed")
	}
	for _, f := range provFiles {
		rel, _ := filepath.Rel(root, f)
		for _, p := range l(yamlDoc(t, rel)["providers"]) {
			if path := s(dig(p, "options", "path")); path != dashMount {
				t.Errorf("%s: provider path %q, but the dashboards are mounted at %q", rel, path, dashMount)
			}
		}
	}
	dashes, _ := filepath.Glob(filepath.Join(root, "deploy/grafana/dashboards/*.json"))
	if len(dashes) == 0 {
		t.Fatal("no dashboard JSON under deploy/grafana/dashboards")
	}
	var all strings.Builder
	for _, f := range dashes {
		rel, _ := filepath.Rel(root, f)
		var d map[string]any
		if err := json.Unmarshal(readFile(t, rel), &d); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if s(d["uid"]) == "" || s(d["title"]) == "" {
			t.Errorf("%s: uid and title needed", rel)
		}
		for _, v := range l(dig(d, "templating", "list")) {
			if s(m(v)["type"]) == "datasource" && !uids[s(dig(v, "current", "value"))] {
				t.Errorf("%s: data source variable defaults to %v, not a provisioned uid %v", rel, dig(v, "current", "value"), uids)
			}
		}
		ids := map[float64]bool{}
		var panels []any
		for _, p := range l(d["panels"]) {
			panels = append(panels, p)
			panels = append(panels, l(m(p)["panels"])...) // collapsed rows
		}
		for _, p := range panels {
			pm := m(p)
			id, _ := pm["id"].(float64)
			if ids[id] {
				t.Errorf("%s: panel id %v used twice", rel, id)
			}
			ids[id] = true
			if s(pm["type"]) == "row" {
				continue
			}
			if len(l(pm["targets"])) == 0 {
				t.Errorf("%s: panel %q has no query", rel, pm["title"])
			}
			for _, tg := range l(pm["targets"]) {
				expr := s(m(tg)["expr"])
				if strings.Count(expr, "(") != strings.Count(expr, ")") {
					t.Errorf("%s: panel %q: unbalanced expr %q", rel, pm["title"], expr)
				}
				checkMetrics(t, rel+": "+s(pm["title"]), expr, reg)
				all.WriteString(expr + "\n")
			}
		}
	}
	// The panels the operations issue asks for.
	for _, want := range []string{"infowork_http_request_duration_seconds_bucket", "infowork_search_duration_seconds_bucket",
		"infowork_outbox_backlog", "infowork_outbox_oldest_age_seconds", "infowork_indexer_documents_total",
		"infowork_indexer_batches_total", "infowork_indexer_freshness_seconds_bucket", "infowork_outbox_dead_letters",
		"infowork_db_pool_acquired_connections", "pg_replication_lag_seconds",
		"infowork_notes_sync_lag_seconds", "infowork_notes_sync_errors_total", "infowork_notes_sync_documents_total",
		// Attachment text extraction (issue 11): queue depth, oldest waiting job, throughput by
		// result, duration histogram and OCR seconds per page.
		"infowork_extraction_queue", "infowork_extraction_oldest_pending_age_seconds", "infowork_extraction_jobs_total",
		"infowork_extraction_duration_seconds_bucket", `infowork_extraction_duration_seconds_sum{method="ocr"}`,
		`infowork_extraction_pages_total{method="ocr"}`} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no dashboard panel uses %s", want)
		}
	}
}

func TestKubernetes(t *testing.T) {
	env := binaryEnv(t)
	kust := yamlDoc(t, "deploy/kubernetes/kustomization.yaml")
	files := []string{"deploy/kubernetes/secret.example.yaml"}
	for _, r := range l(kust["resources"]) {
		files = append(files, "deploy/kubernetes/"+s(r))
	}
	for _, g := range l(kust["configMapGenerator"]) {
		for _, f := range l(m(g)["files"]) {
			if !exists("deploy/kubernetes/" + s(f)) {
				t.Errorf("kustomization.yaml: configMapGenerator file %s missing", s(f))
			}
		}
	}
	kinds := map[string]int{}
	deployments := map[string]map[string]any{}
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			kind, name := s(doc["kind"]), s(dig(doc, "metadata", "name"))
			if kind == "" || name == "" || s(doc["apiVersion"]) == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", f)
				continue
			}
			kinds[kind]++
			switch kind {
			case "ConfigMap":
				for k := range m(doc["data"]) {
					if strings.HasPrefix(k, "INFOWORK_") && !env[k] {
						t.Errorf("%s: ConfigMap %s sets %s, which the binary does not read", f, name, k)
					}
				}
			case "Secret":
				for k, v := range m(doc["stringData"]) {
					if strings.HasPrefix(k, "INFOWORK_") && !env[k] {
						t.Errorf("%s: Secret %s sets %s, which the binary does not read", f, name, k)
					}
					if strings.Contains(k, "PASSWORD") || strings.Contains(k, "KEY") {
						if !strings.Contains(s(v), "CHANGE_ME") {
							t.Errorf("%s: %s must be a placeholder (CHANGE_ME), not a value", f, k)
						}
					}
				}
			case "Deployment", "Job":
				if kind == "Deployment" {
					deployments[name] = doc
				}
				pod := m(dig(doc, "spec", "template", "spec"))
				if v, _ := dig(pod, "securityContext", "runAsNonRoot").(bool); !v {
					t.Errorf("%s: %s: runAsNonRoot must be true", f, name)
				}
				mounts := map[string]string{}
				vols := map[string]map[string]any{}
				for _, v := range l(pod["volumes"]) {
					vols[s(m(v)["name"])] = m(v)
				}
				for _, ct := range l(pod["containers"]) {
					c := m(ct)
					for _, k := range envNames(c["env"]) {
						if strings.HasPrefix(k, "INFOWORK_") && !env[k] {
							t.Errorf("%s: %s sets %s, which the binary does not read", f, name, k)
						}
					}
					if v, _ := dig(c, "securityContext", "readOnlyRootFilesystem").(bool); !v {
						t.Errorf("%s: %s: readOnlyRootFilesystem must be true", f, name)
					}
					for _, vm := range l(c["volumeMounts"]) {
						mounts[s(m(vm)["mountPath"])] = s(m(vm)["name"])
						if vols[s(m(vm)["name"])] == nil {
							t.Errorf("%s: %s mounts the undeclared volume %s", f, name, m(vm)["name"])
						}
					}
					if _, ok := vols[mounts["/tmp"]]["emptyDir"]; !ok {
						t.Errorf("%s: %s: /tmp must be an emptyDir (the root file system is read-only)", f, name)
					}
					if kind == "Deployment" {
						if p := s(dig(c, "readinessProbe", "httpGet", "path")); p != "/readyz" {
							t.Errorf("%s: %s: readiness probe %q, want /readyz", f, name, p)
						}
						if p := s(dig(c, "livenessProbe", "httpGet", "path")); p != "/healthz" {
							t.Errorf("%s: %s: liveness probe %q, want /healthz", f, name, p)
						}
						if dig(c, "resources", "requests") == nil {
							t.Errorf("%s: %s: resource requests needed (the HPA scales on them)", f, name)
						}
					}
				}
			case "HorizontalPodAutoscaler":
				if s(dig(doc, "spec", "scaleTargetRef", "name")) != "infowork-web" {
					t.Errorf("%s: the HPA must scale infowork-web", f)
				}
			}
		}
	}
	for kind, want := range map[string]int{"Deployment": 2, "Job": 1, "Service": 2, "Ingress": 1,
		"PodDisruptionBudget": 2, "HorizontalPodAutoscaler": 1, "ConfigMap": 1, "Secret": 1} {
		if kinds[kind] < want {
			t.Errorf("deploy/kubernetes: %d %s, want at least %d", kinds[kind], kind, want)
		}
	}
	if deployments["infowork-web"] == nil || deployments["infowork-indexer"] == nil {
		t.Error("deploy/kubernetes: Deployments infowork-web and infowork-indexer needed")
	}

	t.Run("kubectl kustomize", func(t *testing.T) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			t.Skip("no kubectl: skipping `kubectl kustomize`")
		}
		out, err := exec.Command(kubectl, "kustomize", filepath.Join(root, "deploy/kubernetes")).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl kustomize: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("name: infowork-dictionaries-")) {
			t.Error("kubectl kustomize: the dictionaries ConfigMap was not generated")
		}
	})
}
