package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"infowork/search"
	"infowork/search/internal/esengine/estest"
	"infowork/search/opensearch"
)

// freePortRun finds n consecutive free loopback ports for HTTP and n for transport, so a
// cluster left behind by an interrupted run (or another checkout's) can never collide with this
// one; fixed ports once made the start fail in CI.
func freePortRun(t *testing.T, n int) (httpBase, transportBase int) {
	t.Helper()
	free := func(p int) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		_ = l.Close()
		return true
	}
	for try := 0; try < 200; try++ {
		base := 20000 + rand.IntN(20000)
		ok := true
		for i := 0; i < n && ok; i++ {
			ok = free(base+i) && free(base+1000+i)
		}
		if ok {
			return base, base + 1000
		}
	}
	t.Fatal("no free port range for the three-node cluster")
	return 0, 0
}

func runSh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tryRunSh(args...)
	if err != nil {
		t.Fatalf("run.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func tryRunSh(args ...string) (string, error) {
	script, err := filepath.Abs("../../deploy/opensearch-dev/run.sh")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(script, args...) // #nosec G204 -- the repository's own script
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestThreeNodeFailoverDuringBulkIndexing starts a three-node cluster, indexes continuously
// through the indexer into an index with one replica, SIGKILLs one node in the middle, and
// checks that every row ends up indexed exactly once at its database version, that searches
// keep answering, and that the node rejoins after a restart.
func TestThreeNodeFailoverDuringBulkIndexing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node OpenSearch cluster (about a minute)")
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed for the three-node cluster", tool)
			}
			t.Skipf("%s is needed for the three-node cluster", tool)
		}
	}
	dir := t.TempDir()
	clusterHTTPPort, clusterTransportPort := freePortRun(t, 3)
	started := time.Now()
	// Stop whatever started even when the start fails, so no node outlives the test.
	t.Cleanup(func() { _, _ = tryRunSh("stop", "--data", dir) })
	runSh(t, "start", "--nodes", "3", "--port", strconv.Itoa(clusterHTTPPort), "--transport-port", strconv.Itoa(clusterTransportPort),
		"--data", dir, "--heap", "384m")
	t.Logf("three nodes up in %s", time.Since(started).Round(time.Millisecond))
	var urls []string
	for i := 0; i < 3; i++ {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", clusterHTTPPort+i))
	}

	db := newDB(t)
	ctx := context.Background()
	e, err := opensearch.Open(ctx, opensearch.Options{URLs: urls, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t),
		Replicas: 1, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	health(t, urls[0], "green", 3)
	startIndexer(t, db, e, 12)

	stop := make(chan struct{})
	wait := writers(ctx, db, 2, 10*time.Millisecond, stop)
	time.Sleep(3 * time.Second)
	// Kill the node holding the primary of the index, the worst case for writes.
	victim := primaryNode(t, urls[0], e.Alias())
	pidb, err := os.ReadFile(filepath.Join(dir, "node-"+strconv.Itoa(victim)+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ { // until the process is gone
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("SIGKILLed node-%d (pid %d, primary of the index)", victim, pid)
	// Searches keep answering once the replica is promoted.
	var failed int
	var answeredAfter time.Duration
	for time.Since(killedAt) < 5*time.Second || answeredAfter == 0 {
		_, err := e.Search(ctx, search.Query{Text: "停车", Scope: allScope, Size: 5})
		if err != nil {
			failed++
		} else if answeredAfter == 0 {
			answeredAfter = time.Since(killedAt)
		}
		if time.Since(killedAt) > 60*time.Second {
			t.Fatalf("no search answered within a minute of the kill (%d failures, last %v)", failed, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	writes, werr := wait()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	drained := waitDrained(t, db, 90*time.Second)
	t.Logf("%d writes; first search answered %s after the kill (%d failed before); outbox drained %s after the writers stopped",
		writes, answeredAfter.Round(time.Millisecond), failed, drained.Round(time.Millisecond))
	assertSame(t, db, e)
	res, err := e.Search(ctx, search.Query{Text: "停车", Scope: allScope, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := e.Count(ctx)
	if res.Total != n {
		t.Fatalf("search total %d, index count %d", res.Total, n)
	}

	// The node comes back and the replica is rebuilt.
	// A restart right after a SIGKILL can lose the race for the node's data-directory lock
	// while the old process is still being torn down: retry a few times.
	restarted := time.Now()
	for attempt := 1; ; attempt++ {
		out, err := tryRunSh("start", "--data", dir)
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("run.sh start --data %s: %v\n%s", dir, err, out)
		}
		t.Logf("restart attempt %d failed (%v); retrying:\n%s", attempt, err, out)
		time.Sleep(3 * time.Second)
	}
	health(t, urls[0], "green", 3)
	t.Logf("node-%d rejoined, cluster green in %s", victim, time.Since(restarted).Round(time.Millisecond))
	assertSame(t, db, e)
}

// health waits for a cluster status and node count.
func health(t *testing.T, base, status string, nodes int) {
	t.Helper()
	u := fmt.Sprintf("%s/_cluster/health?wait_for_status=%s&wait_for_nodes=%%3E%%3D%d&timeout=60s", base, status, nodes)
	res, err := http.Get(u) // #nosec G107 -- test cluster
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("cluster not %s with %d nodes: HTTP %d", status, nodes, res.StatusCode)
	}
}

// primaryNode returns the index (0-based) of the node holding the primary shard behind alias.
func primaryNode(t *testing.T, base, alias string) int {
	t.Helper()
	res, err := http.Get(base + "/_cat/shards/" + alias + "?h=prirep,node") // #nosec G107 -- test cluster
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "p" && strings.HasPrefix(f[1], "node-") {
			if i, err := strconv.Atoi(strings.TrimPrefix(f[1], "node-")); err == nil {
				return i
			}
		}
	}
	t.Fatalf("no primary in _cat/shards: %q", b.String())
	return 0
}
