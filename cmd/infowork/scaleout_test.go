package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/analyzers"
	"infowork/internal/testenv"
	"infowork/search/opensearch"
	"infowork/store"
	"infowork/unit"
)

// This file holds the scale-out test of issue 9 ("Done when"): two `infowork web` processes and
// two `infowork indexer` processes, built from this package and started as real processes,
// share one database and one OpenSearch node under concurrent API load.
//
// What it asserts, phase 1 (steady load: 4 clients × 50 creates, alternating replicas, plus
// concurrent searches on both replicas):
//   - every API response is 2xx (login on one replica, the token used on the other: sessions
//     and rate-limit state live in the database);
//   - the outbox drains to zero rows (no dead letters);
//   - every created id is found by its unique word with total == 1 on both replicas;
//   - the index's (id, version) pairs equal the database's;
//   - the sum over both indexers of infowork_indexer_documents_total{op="upsert",outcome="ok"}
//     equals the number of submissions: with external versioning a version is accepted by the
//     engine only once (a second write of the same version counts as "stale"), so this is the
//     proof that no document version was written twice and none was skipped. Stale writes are
//     logged; how the batches split between the two indexers is logged (one doing all the work
//     would be correct, only less parallel).
//
// Phase 2 (graceful shutdown): a second burst; when part of it is acknowledged, one indexer gets
// SIGTERM. It must exit 0 within the shutdown grace period; the other indexer must drain the
// backlog, and the index must again equal the database with every id searchable exactly once.

const scaleSecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, test only

func openSearchURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimSpace(strings.Split(os.Getenv("INFOWORK_TEST_OPENSEARCH_URL"), ",")[0])
	if u == "" {
		msg := "INFOWORK_TEST_OPENSEARCH_URL is not set: start a node with `deploy/opensearch-dev/run.sh start --port 9250 --data .data/opensearch-test` and export the URL it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return strings.TrimRight(u, "/")
}

// buildBinary builds ./cmd/infowork into a temp dir once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "infowork")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is one infowork child process.
type proc struct {
	name string
	addr string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // set before done is closed
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t *testing.T, bin, name, sub string, env []string) *proc {
	t.Helper()
	p := &proc{name: name, addr: freeAddr(t), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, sub)
	p.cmd.Env = append(append(os.Environ(), env...), "INFOWORK_HTTP_ADDR="+p.addr, "INFOWORK_DATA_DIR="+t.TempDir())
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			out := p.out.String()
			if len(out) > 6000 {
				out = out[len(out)-6000:]
			}
			t.Logf("--- output of %s (%s) ---\n%s", p.name, p.addr, out)
		}
	})
	return p
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func waitReady(t *testing.T, ps ...*proc) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for _, p := range ps {
		for {
			select {
			case <-p.done:
				t.Fatalf("%s exited during start-up: %v", p.name, p.err)
			default:
			}
			r, err := http.Get(p.url("/readyz"))
			if err == nil {
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if r.StatusCode == 200 && strings.Contains(string(b), `"status":"ok"`) {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready after 90s (last: %v)", p.name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// apiClient talks to the web replicas with one bearer token.
type apiClient struct {
	http  *http.Client
	token string
}

func (c *apiClient) do(method, u string, body any, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type searchResp struct {
	Total int `json:"total"`
	Hits  []struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	} `json:"hits"`
}

// randomWord is a unique lowercase token (letters only, so the analyzer keeps it whole).
func randomWord() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 12)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[n.Int64()]
	}
	return "sx" + string(b)
}

type created struct {
	id   int64
	word string
}

// scrapeCounters sums the samples of a counter family by a label filter from a /metrics body.
func scrapeCounter(t *testing.T, p *proc, name string, labels ...string) float64 {
	t.Helper()
	r, err := http.Get(p.url("/metrics"))
	if err != nil {
		t.Fatalf("%s /metrics: %v", p.name, err)
	}
	defer r.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func TestScaleOutTwoWebTwoIndexers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs four processes")
	}
	osURL := openSearchURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b) + "_"
	t.Cleanup(func() {
		// Delete by name (wildcard deletes may be refused).
		res, err := http.Get(osURL + "/_cat/indices/" + prefix + "*?format=json&h=index&expand_wildcards=all")
		if err != nil {
			return
		}
		defer res.Body.Close()
		var rows []struct {
			Index string `json:"index"`
		}
		_ = json.NewDecoder(res.Body).Decode(&rows)
		for _, r := range rows {
			req, _ := http.NewRequest(http.MethodDelete, osURL+"/"+r.Index, nil)
			if dr, err := http.DefaultClient.Do(req); err == nil {
				dr.Body.Close()
			}
		}
	})
	bin := buildBinary(t)
	dsn := testenv.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	step := func(format string, args ...any) {
		t.Logf("%6.2fs "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}

	// Seed a unit and a reporter through the CLI code (in this process).
	db, err := store.Open(ctx, dsn, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "Z001", Name: "A1区测试直报点", Kind: unit.KindDirect}); err != nil {
		t.Fatal(err)
	}
	const password = "Scale-out-pass-2026"
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	t.Setenv("INFOWORK_DATA_DIR", t.TempDir())
	if err := run(ctx, []string{"user", "create", "--username", "li", "--password", password, "--role", "reporter",
		"--unit", "Z001", "--clearance", "internal", "--no-must-change-password"}); err != nil {
		t.Fatal(err)
	}

	env := []string{
		"INFOWORK_DATABASE_URL=" + dsn,
		"INFOWORK_SEARCH_ENGINE=opensearch",
		"INFOWORK_SEARCH_URLS=" + osURL,
		"INFOWORK_SEARCH_INDEX_PREFIX=" + prefix,
		"INFOWORK_SECRET_KEY=" + scaleSecretKey,
		"INFOWORK_RATE_LOGIN_PER_IP=0", "INFOWORK_RATE_LOGIN_PER_USER=0", "INFOWORK_RATE_PER_SESSION=0",
		"INFOWORK_LOG_LEVEL=warn",
	}
	// The indexers first, so that one of them creates the index before the web replicas ask.
	ix1 := startProc(t, bin, "indexer-1", "indexer", env)
	ix2 := startProc(t, bin, "indexer-2", "indexer", env)
	waitReady(t, ix1, ix2)
	web1 := startProc(t, bin, "web-1", "web", env)
	web2 := startProc(t, bin, "web-2", "web", env)
	waitReady(t, web1, web2)
	webs := []*proc{web1, web2}
	step("2 web replicas (%s, %s) and 2 indexers (%s, %s) ready", web1.addr, web2.addr, ix1.addr, ix2.addr)

	var (
		mu      sync.Mutex
		all     []created
		errs    []string
		nonOK   atomic.Int64
		reqs    atomic.Int64
		dupKeys atomic.Int64
		queries atomic.Int64
	)
	fail := func(format string, args ...any) {
		nonOK.Add(1)
		mu.Lock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	login := func(i int) *apiClient {
		c := &apiClient{http: &http.Client{Timeout: 30 * time.Second}}
		code, body, err := c.do(http.MethodPost, webs[i%2].url("/api/v1/auth/login"), map[string]string{"username": "li", "password": password}, nil)
		if err != nil || code != 200 {
			t.Fatalf("login on %s: %d %v %s", webs[i%2].name, code, err, body)
		}
		var s struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(body, &s); err != nil || s.Token == "" {
			t.Fatalf("login: %v %s", err, body)
		}
		c.token = s.Token
		return c
	}

	// burst runs clients × per creates, each client alternating replicas (login happened on
	// the replica of the client's index, so every other create uses the token on the other).
	burst := func(phase string, clients, per int, progress func(n int64)) {
		var wg sync.WaitGroup
		var acked atomic.Int64
		for ci := range clients {
			c := login(ci)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					w := webs[(ci+i+1)%2]
					word := randomWord()
					key := fmt.Sprintf("%s-c%d-%d-%s", phase, ci, i, word)
					body := map[string]any{"title": "规模测试 " + word, "body": "两个网页进程和两个索引进程的并发测试 " + word,
						"urgency": "normal", "classification": "public"}
					// Every other create is sent twice (the second to the other replica) with the
					// same key: a client retry after a lost response must not create a second row.
					tries := 1 + i%2
					var id int64
					for try := range tries {
						target := w
						if try == 1 {
							target = webs[(ci+i)%2]
						}
						reqs.Add(1)
						code, rb, err := c.do(http.MethodPost, target.url("/api/v1/submissions"), body, map[string]string{"Idempotency-Key": key})
						if err != nil || code/100 != 2 {
							fail("%s create on %s: %d %v %.300s", phase, target.name, code, err, rb)
							continue
						}
						var s struct {
							ID int64 `json:"id"`
						}
						if err := json.Unmarshal(rb, &s); err != nil || s.ID == 0 {
							fail("%s create: bad body %v %.300s", phase, err, rb)
							continue
						}
						if try == 0 {
							id = s.ID
						} else {
							if code != 200 || s.ID != id {
								fail("%s retried create (key %s) answered %d id %d, want 200 id %d", phase, key, code, s.ID, id)
							}
							dupKeys.Add(1)
						}
					}
					if id != 0 {
						mu.Lock()
						all = append(all, created{id, word})
						mu.Unlock()
						n := acked.Add(1)
						if progress != nil {
							progress(n)
						}
					}
				}
			}()
		}
		// Concurrent searches on both replicas while the creates run.
		sctx, stopSearch := context.WithCancel(ctx)
		var swg sync.WaitGroup
		for si := range 2 {
			c := login(si + 1)
			swg.Add(1)
			go func() {
				defer swg.Done()
				for n := 0; sctx.Err() == nil; n++ {
					mu.Lock()
					q := "规模测试"
					if len(all) > 0 {
						q = all[n%len(all)].word
					}
					mu.Unlock()
					reqs.Add(1)
					queries.Add(1)
					code, rb, err := c.do(http.MethodGet, webs[n%2].url("/api/v1/search?q="+url.QueryEscape(q)), nil, nil)
					if err != nil || code != 200 {
						fail("%s search on %s: %d %v %.300s", phase, webs[n%2].name, code, err, rb)
					}
				}
			}()
		}
		wg.Wait()
		stopSearch()
		swg.Wait()
	}

	waitDrained := func() {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			var n int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				var dead int
				_ = db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL`).Scan(&dead)
				t.Fatalf("outbox still holds %d rows (%d dead) after 90s", n, dead)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	an, err := analyzers.New(analyzers.Options{CacheDir: filepath.Join(t.TempDir(), "jieba")})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	engine, err := opensearch.Open(ctx, opensearch.Options{URLs: []string{osURL}, IndexPrefix: prefix, Analyzer: an})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()

	verify := func(phase string) {
		t.Helper()
		// The database's (id, version) pairs, every row (the RLS bypass of trusted internal work).
		dbv := map[string]int64{}
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if err := access.SetBypass(ctx, tx); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT id, version FROM submissions`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id, v int64
				if err := rows.Scan(&id, &v); err != nil {
					return err
				}
				dbv[strconv.FormatInt(id, 10)] = v
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := append([]created(nil), all...)
		mu.Unlock()
		if len(dbv) != len(got) {
			t.Errorf("%s: %d rows in the database, %d acknowledged creates (idempotent retries must not add rows)", phase, len(dbv), len(got))
		}
		ids := make([]string, 0, len(dbv))
		for id := range dbv {
			ids = append(ids, id)
		}
		iv, err := engine.Versions(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for id, v := range dbv {
			if iv[id] != v {
				t.Errorf("%s: submission %s: index version %d, database version %d", phase, id, iv[id], v)
			}
		}
		// Count sees refreshed documents only: poll past the refresh interval.
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			n, err := engine.Count(ctx)
			if err == nil && n == len(dbv) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: index holds %d documents (%v), database %d", phase, n, err, len(dbv))
				break
			}
		}
		// Each id by its unique word on both replicas: exactly one hit, that id. The refresh
		// interval of the index bounds how long a fresh write may stay invisible.
		c := login(0)
		var missing []string
		for _, cr := range got {
			for _, w := range webs {
				var sr searchResp
				deadline := time.Now().Add(15 * time.Second)
				for {
					code, rb, err := c.do(http.MethodGet, w.url("/api/v1/search?q="+cr.word), nil, nil)
					if err != nil || code != 200 {
						t.Fatalf("%s: search on %s: %d %v %.300s", phase, w.name, code, err, rb)
					}
					sr = searchResp{}
					_ = json.Unmarshal(rb, &sr)
					if sr.Total == 1 || time.Now().After(deadline) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if sr.Total != 1 || len(sr.Hits) != 1 || sr.Hits[0].ID != strconv.FormatInt(cr.id, 10) {
					missing = append(missing, fmt.Sprintf("%s on %s: total %d %+v, want id %d", cr.word, w.name, sr.Total, sr.Hits, cr.id))
				}
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d searches did not find exactly their submission, e.g. %v", phase, len(missing), missing[:min(5, len(missing))])
		}
	}

	// Phase 1: steady load.
	const clients, per = 4, 50
	t0 := time.Now()
	burst("p1", clients, per, nil)
	step("phase 1: %d creates acknowledged, %d requests (%d concurrent searches), %d idempotent re-sends, %d non-2xx in %s",
		len(all), reqs.Load(), queries.Load(), dupKeys.Load(), nonOK.Load(), time.Since(t0).Round(time.Millisecond))
	waitDrained()
	step("phase 1: outbox drained")
	verify("phase 1")
	step("phase 1: index equals database, every id searchable exactly once on both replicas")
	var okSum, staleSum float64
	for _, ix := range []*proc{ix1, ix2} {
		ok := scrapeCounter(t, ix, "infowork_indexer_documents_total", `op="upsert"`, `outcome="ok"`)
		stale := scrapeCounter(t, ix, "infowork_indexer_documents_total", `op="upsert"`, `outcome="stale"`)
		batches := scrapeCounter(t, ix, "infowork_indexer_batches_total", `result="ok"`)
		step("%s: %v batches, %v documents written, %v stale", ix.name, batches, ok, stale)
		okSum += ok
		staleSum += stale
	}
	if int(okSum) != len(all) {
		t.Errorf("the indexers wrote %v document versions for %d submissions (each version must be written exactly once; %v stale writes)", okSum, len(all), staleSum)
	}

	// Phase 2: SIGTERM one indexer in the middle of a burst.
	var once sync.Once
	var stopped time.Time
	t0 = time.Now()
	burst("p2", clients, 40, func(n int64) {
		if n == 40 {
			once.Do(func() {
				stopped = time.Now()
				_ = ix1.cmd.Process.Signal(syscall.SIGTERM)
			})
		}
	})
	step("phase 2: %d creates acknowledged in all (burst took %s), SIGTERM to %s during the burst", len(all), time.Since(t0).Round(time.Millisecond), ix1.name)
	select {
	case <-ix1.done:
		var ee *exec.ExitError
		if ix1.err != nil && errors.As(ix1.err, &ee) {
			t.Errorf("%s exited with %v after SIGTERM, want 0", ix1.name, ix1.err)
		} else if ix1.err != nil {
			t.Errorf("%s: %v", ix1.name, ix1.err)
		}
		step("%s exited (%v) %s after SIGTERM", ix1.name, ix1.err, time.Since(stopped).Round(time.Millisecond))
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatalf("%s still running %s after SIGTERM", ix1.name, shutdownGrace+5*time.Second)
	}
	before := scrapeCounter(t, ix2, "infowork_indexer_documents_total", `outcome="ok"`)
	waitDrained()
	step("phase 2: outbox drained by %s (%v documents written by it so far)", ix2.name, before)
	verify("phase 2")
	step("phase 2: index equals database, every id searchable exactly once on both replicas")
	if n := nonOK.Load(); n != 0 {
		t.Errorf("%d requests failed or answered non-2xx: %v", n, errs)
	}
	for _, p := range []*proc{web1, web2, ix2} {
		select {
		case <-p.done:
			t.Errorf("%s exited during the test: %v", p.name, p.err)
		default:
		}
	}
}
