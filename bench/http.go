package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"infowork/demo"
	"infowork/search"
	"infowork/webapp"
)

// HTTP workload shares (per mille): searches through the JSON API and the server-rendered page,
// report list pages, and new reports.
const (
	httpAPISearch  = 550
	httpPageSearch = 150
	httpList       = 200
	// the rest (100‰): POST /api/v1/submissions
)

// httpScenario is scenario 4: the web app on a loopback port (Fiber, the embedded engine, the
// indexer running), driven by vegeta at a constant rate with a mixed workload.
func (e *env) httpScenario(ctx context.Context) error {
	if e.cfg.Auth == nil {
		return fmt.Errorf("bench: the HTTP scenario needs Config.Auth")
	}
	app, err := webapp.New(webapp.Options{DB: e.cfg.DB, Auth: e.cfg.Auth, Submissions: e.subs, Engine: e.engine, Logger: e.cfg.Logger,
		// The load generator is four sessions; the per-session budget (600/min by default) is
		// meant for people, so it is raised here. The limiter still counts every request.
		RateLimits: webapp.RateLimits{LoginPerIP: 1000, LoginPerUser: 1000, PerSession: 100_000_000}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- app.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = app.Shutdown(sctx)
		cancel()
		_ = ln.Close() // Shutdown has closed it already; a second close only reports that
		<-served
	}()
	base := "http://" + ln.Addr().String()
	researcher, err := login(base, "researcher")
	if err != nil {
		return err
	}
	reporter, err := login(base, "reporter")
	if err != nil {
		return err
	}
	targets, kinds := e.httpTargets(base, researcher, reporter)
	if len(e.cfg.HTTPSteps) > 0 {
		e.httpSteps(ctx, targets, kinds)
	}
	var prof func()
	if e.cfg.ProfileDir != "" {
		prof = e.cpuProfile("http-mixed")
	}
	postmaster := e.postmaster(ctx)
	selfCPU, pgCPU := processCPU(os.Getpid()), treeCPU(postmaster)
	all, per, codes := attack(targets, kinds, e.cfg.HTTPRate, e.cfg.HTTPDuration)
	selfCPU, pgCPU = processCPU(os.Getpid())-selfCPU, treeCPU(postmaster)-pgCPU
	if prof != nil {
		prof()
	}
	t := &Table{Title: fmt.Sprintf("HTTP through Fiber: mixed workload at %d requests/s for %s (vegeta)", e.cfg.HTTPRate, e.cfg.HTTPDuration),
		Header: []string{"requests", "share", "throughput/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "success"}}
	t.add("all", strconv.FormatUint(all.Requests, 10), "100%", fmt.Sprintf("%.0f", all.Throughput), ms(all.Latencies.P50), ms(all.Latencies.P90),
		ms(all.Latencies.P99), ms(all.Latencies.Max), fmt.Sprintf("%.2f%%", all.Success*100))
	names := make([]string, 0, len(per))
	for k := range per {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		m := per[k]
		m.Close()
		t.add(k, strconv.FormatUint(m.Requests, 10), fmt.Sprintf("%.0f%%", float64(m.Requests)*100/float64(max(all.Requests, 1))),
			fmt.Sprintf("%.0f", m.Throughput), ms(m.Latencies.P50), ms(m.Latencies.P90), ms(m.Latencies.P99), ms(m.Latencies.Max), fmt.Sprintf("%.2f%%", m.Success*100))
	}
	e.res.HTTPSuccess, e.res.HTTPRequests, e.res.HTTPP99, e.res.HTTPThroughput = all.Success, int(all.Requests), all.Latencies.P99, all.Throughput // #nosec G115 -- a request count
	verdict := "met"
	if all.Throughput < 1000 || all.Latencies.P99 > 200*time.Millisecond || all.Success < 1 {
		verdict = "MISSED"
	}
	t.Notes = append(t.Notes,
		"mix: 55% GET /api/v1/search (five facets, month histogram, highlighting), 15% GET /search (the HTML page), 20% GET /api/v1/submissions (list pages 1–50), 10% POST /api/v1/submissions (new reports, indexed while the load runs)",
		"sessions: demo researcher (searches) and reporter (lists, submissions), bearer tokens; the database-backed rate limiter counts every request",
		fmt.Sprintf("target: ≥ 1,000 req/s with p99 ≤ 200 ms and zero errors: %s", verdict))
	if all.Requests > 0 && postmaster > 0 {
		n := float64(all.Requests)
		self, pg := selfCPU.Seconds()*1000/n, pgCPU.Seconds()*1000/n
		t.Notes = append(t.Notes, fmt.Sprintf("CPU per request: %.2f ms in this process (web app, indexer, engine and the load generator), %.2f ms in PostgreSQL; "+
			"1,000 requests/s need %.1f cores of CPU at that cost, the machine has %d", self, pg, (self+pg), runtime.NumCPU()))
	}
	if len(codes) > 0 {
		var parts []string
		for k, n := range codes {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(parts)
		t.Notes = append(t.Notes, "failures: "+strings.Join(parts, ", "))
		if len(all.Errors) > 0 {
			t.Notes = append(t.Notes, "first errors: "+strings.Join(all.Errors[:min(3, len(all.Errors))], " | "))
		}
	}
	e.table(t)
	return nil
}

// attack runs the workload at rate for dur and returns the metrics of all requests, per kind,
// and the failures by status and kind.
func attack(targets []vegeta.Target, kinds map[string]string, rate int, dur time.Duration) (*vegeta.Metrics, map[string]*vegeta.Metrics, map[string]int) {
	var next atomic.Int64 // vegeta's workers call the targeter concurrently
	targeter := func(t *vegeta.Target) error {
		*t = targets[int(next.Add(1)-1)%len(targets)]
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.Workers(64), vegeta.MaxWorkers(512), vegeta.KeepAlive(true))
	all := &vegeta.Metrics{}
	per := map[string]*vegeta.Metrics{}
	codes := map[string]int{}
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, dur, "mixed") {
		all.Add(res)
		k := kinds[res.URL+" "+res.Method]
		if k == "" {
			k = kindOf(res.Method, res.URL)
		}
		if per[k] == nil {
			per[k] = &vegeta.Metrics{}
		}
		per[k].Add(res)
		if res.Code < 200 || res.Code >= 300 {
			codes[strconv.Itoa(int(res.Code))+" "+k]++
		}
	}
	all.Close()
	return all, per, codes
}

// httpSteps runs the workload at each of the step rates for HTTPStepDuration, lowest first,
// and reports which rates hold the target's latency and error bounds: the capacity of the
// machine, next to the run at the target rate.
func (e *env) httpSteps(ctx context.Context, targets []vegeta.Target, kinds map[string]string) {
	steps := slices.Clone(e.cfg.HTTPSteps)
	slices.Sort(steps)
	t := &Table{Title: fmt.Sprintf("HTTP capacity: the same mixed workload at increasing rates, %s each", e.cfg.HTTPStepDuration),
		Header: []string{"offered req/s", "achieved req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "success", "p99 ≤ 200 ms and no errors",
			"CPU ms/request: this process", "PostgreSQL"}}
	best := 0
	postmaster := e.postmaster(ctx)
	for _, r := range steps {
		e.logf("HTTP step: %d requests/s for %s", r, e.cfg.HTTPStepDuration)
		selfCPU, pgCPU := processCPU(os.Getpid()), treeCPU(postmaster)
		all, _, _ := attack(targets, kinds, r, e.cfg.HTTPStepDuration)
		selfCPU, pgCPU = processCPU(os.Getpid())-selfCPU, treeCPU(postmaster)-pgCPU
		perReq := func(d time.Duration) string {
			if all.Requests == 0 || postmaster <= 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f", d.Seconds()*1000/float64(all.Requests))
		}
		ok := all.Success == 1 && all.Latencies.P99 <= 200*time.Millisecond
		mark := "no"
		if ok {
			mark = "yes"
			best = max(best, r)
		}
		t.add(strconv.Itoa(r), fmt.Sprintf("%.0f", all.Throughput), ms(all.Latencies.P50), ms(all.Latencies.P90), ms(all.Latencies.P99),
			ms(all.Latencies.Max), fmt.Sprintf("%.2f%%", all.Success*100), mark, perReq(selfCPU), perReq(pgCPU))
	}
	e.res.HTTPCapacity = best
	t.Notes = append(t.Notes, fmt.Sprintf("highest offered rate within the bounds: %d req/s (0: none of the steps)", best),
		"each step starts from a warm server; the steps run before the run at the target rate",
		"CPU per request: user and system time of this process (web app, indexer, engine and the load generator) and of the PostgreSQL server's processes during the step, divided by the requests")
	e.table(t)
}

func kindOf(method, u string) string {
	switch {
	case method == http.MethodPost:
		return "POST /api/v1/submissions"
	case strings.Contains(u, "/api/v1/search"):
		return "GET /api/v1/search"
	case strings.Contains(u, "/api/v1/submissions"):
		return "GET /api/v1/submissions"
	default:
		return "GET /search (page)"
	}
}

func login(base, user string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": demo.Password})
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body)) // #nosec G107 -- loopback test server
	if err != nil {
		return "", fmt.Errorf("bench: login %s: %w", user, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Token string `json:"token"`
		State string `json:"state"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("bench: login %s: %d %s", user, resp.StatusCode, raw)
	}
	if out.State != "" && out.State != "ok" && out.State != "active" {
		return "", fmt.Errorf("bench: login %s: session state %q (the bench accounts must not need a second factor)", user, out.State)
	}
	return out.Token, nil
}

// httpTargets builds a deterministic request sequence: 1,000 requests in the workload's shares,
// replayed in a loop. New reports get unique source documents (beyond the loaded ones).
func (e *env) httpTargets(base, researcher, reporter string) ([]vegeta.Target, map[string]string) {
	queries := Queries(e.gen, e.cfg.Analyzer, 700)
	hdr := func(tok string) http.Header {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		return h
	}
	kinds := map[string]string{}
	var ts []vegeta.Target
	qi, li, pi := 0, 0, 0
	for k := 0; k < 1000; k++ {
		p := (k * 379) % 1000 // spread the kinds over the sequence
		switch {
		case p < httpAPISearch:
			q := queries[qi%len(queries)]
			qi++
			ts = append(ts, vegeta.Target{Method: http.MethodGet, URL: base + "/api/v1/search?" + searchParams(q).Encode() +
				"&facets=" + strings.Join(Facets, ",") + "&interval=month", Header: hdr(researcher)})
		case p < httpAPISearch+httpPageSearch:
			q := queries[qi%len(queries)]
			qi++
			ts = append(ts, vegeta.Target{Method: http.MethodGet, URL: base + "/search?" + searchParams(q).Encode(), Header: hdr(researcher)})
		case p < httpAPISearch+httpPageSearch+httpList:
			li++
			ts = append(ts, vegeta.Target{Method: http.MethodGet, URL: base + "/api/v1/submissions?page=" + strconv.Itoa(li%50+1), Header: hdr(reporter)})
		default:
			pi++
			d := e.gen.Doc(e.cfg.Docs + 10_000 + pi)
			body, _ := json.Marshal(map[string]string{"title": d.Title, "body": d.Body, "category": d.CategoryCode,
				"urgency": d.Urgency, "classification": "internal"})
			h := hdr(reporter)
			h.Set("Content-Type", "application/json")
			ts = append(ts, vegeta.Target{Method: http.MethodPost, URL: base + "/api/v1/submissions", Body: body, Header: h})
		}
		last := ts[len(ts)-1]
		kinds[last.URL+" "+last.Method] = kindOf(last.Method, last.URL)
	}
	return ts, kinds
}

func searchParams(q search.Query) url.Values {
	v := url.Values{}
	v.Set("q", q.Text)
	for _, u := range q.Units {
		v.Add("unit", u)
	}
	for _, c := range q.Categories {
		v.Add("category", c)
	}
	for _, d := range q.Districts {
		v.Add("district", d)
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format("2006-01-02"))
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	return v
}

// postmaster is the pid of the PostgreSQL server process when it runs on this machine (0: not
// found).
func (e *env) postmaster(ctx context.Context) int {
	var backend int
	if err := e.cfg.DB.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	return int(procStatus(backend, "PPid"))
}

// processCPU is the user and system CPU time pid has used (0 when unreadable).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis
	// start with field 3, so utime and stime (fields 14 and 15) are at 11 and 12.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux platform Go
// supports.
const clockTicks = 100

// treeCPU is the CPU time of pid and its direct children (the postmaster and its backends;
// backends that exited meanwhile are not counted, the pool keeps its connections).
func treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	total := processCPU(pid)
	for _, c := range children(pid) {
		total += processCPU(c)
	}
	return total
}

// children lists the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		child, err := strconv.Atoi(en.Name())
		if err == nil && procStatus(child, "PPid") == int64(pid) {
			out = append(out, child)
		}
	}
	return out
}

// memory is scenario 5: peak resident memory of each process, per million documents.
func (e *env) memory(ctx context.Context) {
	t := &Table{Title: fmt.Sprintf("Memory: peak resident set per process, %d documents", e.cfg.Docs),
		Header: []string{"process", "peak RSS MiB", "MiB per million docs", "how measured"}}
	perM := func(kb int64) string {
		return fmt.Sprintf("%.0f", float64(kb)/1024/(float64(e.cfg.Docs)/1e6))
	}
	if kb := procStatus(os.Getpid(), "VmHWM"); kb > 0 {
		t.add("infowork bench (web app + indexer + embedded engine, in one process)", fmt.Sprintf("%.0f", float64(kb)/1024), perM(kb), "VmHWM of the process")
	}
	if pm := e.postmaster(ctx); pm > 0 {
		if kb := pssTree(pm); kb > 0 {
			t.add("PostgreSQL (postmaster and backends)", fmt.Sprintf("%.0f", float64(kb)/1024), perM(kb), "sum of PSS at the end (shared buffers counted once); the cluster may serve other databases")
		}
	}
	if e.os != nil {
		if pid := openSearchPID(e.cfg.OpenSearchURL); pid > 0 {
			if kb := procStatus(pid, "VmHWM"); kb > 0 {
				t.add("OpenSearch (JVM)", fmt.Sprintf("%.0f", float64(kb)/1024), perM(kb), "VmHWM of the JVM; it holds other indices of the test node too")
			}
		}
	}
	if size := dirSize(e.cfg.IndexDir); size > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("embedded index on disk: %.0f MiB (%.0f MiB per million docs)", float64(size)/(1<<20), float64(size)/(1<<20)/(float64(e.cfg.Docs)/1e6)))
	}
	var pgSize int64
	if err := e.cfg.DB.QueryRow(ctx, `SELECT pg_total_relation_size('bench_fts')`).Scan(&pgSize); err == nil {
		t.Notes = append(t.Notes, fmt.Sprintf("pg-fts table with its GIN index: %.0f MiB", float64(pgSize)/(1<<20)))
	}
	e.table(t)
}

// procStatus reads a kB (or plain number) field of /proc/PID/status.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// pssTree sums the PSS (kB) of pid and its direct children.
func pssTree(pid int) int64 {
	total := pss(pid)
	for _, c := range children(pid) {
		total += pss(c)
	}
	return total
}

func pss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Pss:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// openSearchPID finds the JVM listening on the OpenSearch URL's port from /proc/net/tcp.
func openSearchPID(u string) int {
	pu, err := url.Parse(u)
	if err != nil {
		return 0
	}
	port, err := strconv.Atoi(pu.Port())
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f) // #nosec G304 -- f is one of two fixed /proc paths
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(l)
			if len(fs) < 10 || fs[3] != "0A" { // LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
				return pid
			}
		}
	}
	return 0
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
