package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramBucketsCoverEveryValueWithinPrecision(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 129, 191, 192, 255, 256, 1000, 65535, 1 << 20, 1<<30 + 12345, histogramMaxMicros}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, rng.Uint64N(histogramMaxMicros))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histogramBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, histogramBuckets)
		}
		high := bucketHigh(i)
		if high < v || (i > 0 && bucketHigh(i-1) >= v) {
			t.Fatalf("%d is not in bucket %d (%d..%d]", v, i, bucketHigh(i-1), high)
		}
		if float64(high-v) > float64(v)/64 {
			t.Fatalf("bucket of %d reaches %d: more than 1/64 above", v, high)
		}
	}
}

func TestHistogramPercentiles(t *testing.T) {
	uniform := func() *latencyHistogram { // 1ms, 2ms, ..., 1000ms
		h := &latencyHistogram{}
		for i := 1; i <= 1000; i++ {
			h.record(time.Duration(i) * time.Millisecond)
		}
		return h
	}
	skewed := func() *latencyHistogram { // 990 fast requests, 10 slow ones
		h := &latencyHistogram{}
		for range 990 {
			h.record(2 * time.Millisecond)
		}
		for range 10 {
			h.record(3 * time.Second)
		}
		return h
	}
	tests := []struct {
		name string
		h    *latencyHistogram
		q    float64
		want time.Duration
	}{
		{"empty", &latencyHistogram{}, 0.99, 0},
		{"one value", func() *latencyHistogram { h := &latencyHistogram{}; h.record(7 * time.Millisecond); return h }(), 0.5, 7 * time.Millisecond},
		{"uniform p50", uniform(), 0.50, 500 * time.Millisecond},
		{"uniform p90", uniform(), 0.90, 900 * time.Millisecond},
		{"uniform p99", uniform(), 0.99, 990 * time.Millisecond},
		{"uniform max", uniform(), 1, 1000 * time.Millisecond},
		{"uniform min", uniform(), 0, time.Millisecond},
		{"skewed p99 is still fast", skewed(), 0.99, 2 * time.Millisecond},
		{"skewed p99.9 is slow", skewed(), 0.999, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.percentile(tt.q)
			// Bucket precision: at most 1/64 above the true value, never below it.
			if got < tt.want || float64(got-tt.want) > float64(tt.want)/64 {
				t.Errorf("percentile(%v) = %v, want %v (+1/64)", tt.q, got, tt.want)
			}
		})
	}

	h := uniform()
	if h.min != time.Millisecond || h.max != time.Second || h.mean() != 500500*time.Microsecond || h.total != 1000 {
		t.Errorf("min %v max %v mean %v total %d", h.min, h.max, h.mean(), h.total)
	}
}

func TestHistogramMergeEqualsRecordingTogether(t *testing.T) {
	var a, b, all latencyHistogram
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		d := time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond))
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var merged latencyHistogram
	merged.merge(&a)
	merged.merge(&b)
	merged.merge(&latencyHistogram{})
	if merged != all {
		t.Fatalf("merged histogram differs: total %d/%d min %v/%v max %v/%v", merged.total, all.total, merged.min, all.min, merged.max, all.max)
	}
}

func sampleReport() benchReport {
	res := newLoadResult()
	res.elapsed = 2 * time.Second
	for i := 1; i <= 100; i++ {
		res.latency.record(time.Duration(i) * 100 * time.Microsecond) // 0.1 .. 10 ms
	}
	res.fail("HTTP 503", "no leader")
	res.fail("HTTP 503", "no leader either")
	res.fail("timeout", "context deadline exceeded")
	res.dials = 32
	res.cpu = 500 * time.Millisecond
	r := newBenchReport(res)
	r.Target, r.Node, r.Keys, r.Connections, r.WarmupSeconds = benchTargetCoalMine, "http://127.0.0.1:8080", 1000, 32, 2
	return r
}

func TestBenchReportHuman(t *testing.T) {
	var out strings.Builder
	if err := sampleReport().writeHuman(&out); err != nil {
		t.Fatal(err)
	}
	want := `coal-mine at http://127.0.0.1:8080: 1000 canaries, 32 connections, closed loop
  duration   2.00s (after a 2s warm-up)
  requests   103 (51.5/s), 32 new connections
  client     0.25 CPU cores used by this load generator
  errors     3: HTTP 503 ×2, timeout ×1
  latency    p50 5.05ms  p90 9.09ms  p99 9.98ms  max 10.0ms  (mean 5.05ms)
  first HTTP 503: no leader
  first timeout: context deadline exceeded
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}

	etcd := sampleReport()
	etcd.Target, etcd.Rate, etcd.Errors, etcd.ErrorExamples = benchTargetEtcd, 500, 0, nil
	out.Reset()
	_ = etcd.writeHuman(&out)
	if first := strings.SplitN(out.String(), "\n", 2)[0]; first != "etcd at http://127.0.0.1:8080: 1000 keys, 32 connections, open loop at 500/s" {
		t.Errorf("etcd header %q", first)
	}
	if !strings.Contains(out.String(), "  errors     0\n") {
		t.Errorf("no-error line missing:\n%s", out.String())
	}
}

func TestBenchReportJSON(t *testing.T) {
	data, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	latency := got["latency_ms"].(map[string]any)
	checks := map[string]any{
		"target": "coal-mine", "requests": 103.0, "errors": 3.0, "requests_per_second": 51.5,
		"connections": 32.0, "keys": 1000.0, "rate": 0.0, "duration_seconds": 2.0, "connections_opened": 32.0, "client_cpu_cores": 0.25,
	}
	for key, want := range checks {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	// True values: p50 5ms, p99 9.9ms; buckets are at most 1/64 above.
	if p50, p99 := latency["p50"].(float64), latency["p99"].(float64); p50 < 5 || p50 > 5*65/64.0 || p99 < 9.9 || p99 > 9.9*65/64.0 || latency["max"] != 10.0 || latency["min"] != 0.1 {
		t.Errorf("latency_ms = %v", latency)
	}
	if kinds := got["errors_by_kind"].(map[string]any); kinds["HTTP 503"] != 2.0 || kinds["timeout"] != 1.0 {
		t.Errorf("errors_by_kind = %v", kinds)
	}
}

// countingServer answers 200, or 503 for paths in failing, and counts the TCP
// connections clients open.
func countingServer(t *testing.T, failing ...string) (*httptest.Server, *atomic.Int64, *sync.Map) {
	t.Helper()
	var conns atomic.Int64
	var paths sync.Map // path -> *atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := paths.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if slices.Contains(failing, r.URL.Path) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status": "error", "error": "no leader"}`)
			return
		}
		fmt.Fprint(w, `{"status": "ok", "recovered": false, "unpaused": false}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns, &paths
}

func getPath(base string) requestFunc {
	return func(key int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, fmt.Sprintf("%s/k%d", base, key), nil)
	}
}

func TestLoadGeneratorKeepsOneConnectionPerClient(t *testing.T) {
	srv, conns, paths := countingServer(t, "/k3")
	for _, rate := range []float64{0, 2000} { // closed loop, then open loop
		conns.Store(0)
		gen := mustLoadGenerator(t, 4, 5*time.Second, 10, getPath(srv.URL))
		gen.run(t.Context(), loadPlan{requests: 100}) // warm-up
		res := gen.run(t.Context(), loadPlan{requests: 200, rate: rate})
		gen.close()
		if got := res.requests(); got != 200 {
			t.Errorf("rate %v: %d requests, want exactly 200", rate, got)
		}
		if res.errors["HTTP 503"] != 20 || res.errorCount() != 20 || int64(res.latency.total) != 180 {
			t.Errorf("rate %v: errors %v, successes %d; want 20 HTTP 503 (key 3 of 10) and 180", rate, res.errors, res.latency.total)
		}
		if res.examples["HTTP 503"] != "no leader" {
			t.Errorf("example %q", res.examples["HTTP 503"])
		}
		// Each client opens one connection and keeps it: never more than 4 in all.
		if n := conns.Load(); n < 1 || n > 4 {
			t.Errorf("rate %v: %d connections to the server, want 1 to 4, kept alive", rate, n)
		}
	}
	// Round-robin: every key got the same share.
	paths.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n != 60 {
			t.Errorf("%s got %d requests, want 60", k, n)
		}
		return true
	})
}

func TestLoadGeneratorStopsAfterDuration(t *testing.T) {
	srv, _, _ := countingServer(t)
	gen := mustLoadGenerator(t, 2, 5*time.Second, 5, getPath(srv.URL))
	defer gen.close()
	res := gen.run(t.Context(), loadPlan{duration: 200 * time.Millisecond})
	if res.requests() == 0 || res.errorCount() != 0 || res.elapsed < 200*time.Millisecond {
		t.Errorf("%d requests, %d errors in %v", res.requests(), res.errorCount(), res.elapsed)
	}
}

func TestLoadGeneratorTransportErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	tests := []struct {
		base    string
		timeout time.Duration
		kind    string
	}{
		{closed, time.Second, "connection refused"},
		{slow.URL, 50 * time.Millisecond, "timeout"},
	}
	for _, tt := range tests {
		gen := mustLoadGenerator(t, 1, tt.timeout, 1, getPath(tt.base))
		res := gen.run(t.Context(), loadPlan{requests: 2})
		gen.close()
		if res.errors[tt.kind] != 2 || res.latency.total != 0 {
			t.Errorf("%s: errors %v, want 2 %q", tt.base, res.errors, tt.kind)
		}
	}
}

func TestBenchCoalMineSetupAndTriggers(t *testing.T) {
	// bench-1 and bench-3 exist (and an unrelated canary that the search also matches);
	// bench-2 must be created; triggers go to the three ids only, without the key.
	var created atomic.Int64
	srv := newFakeServer(t, func(r recordedRequest) (int, string) {
		switch r.Path {
		case canaryAPI + "list":
			return 200, `{"status": "ok", "canaries": [{"name": "bench-1", "id": "aaaaaaaa"}, {"name": "bench-3", "id": "cccccccc"}, {"name": "Nightly", "id": "nnnnnnnn"}]}`
		case canaryAPI + "create":
			created.Add(1)
			return 200, `{"status": "ok", "canary": {"id": "bbbbbbbb", "name": "bench-2"}}`
		case "/aaaaaaaa", "/bbbbbbbb", "/cccccccc":
			return 200, `{"status": "ok", "recovered": false, "unpaused": false}`
		}
		return 404, `{"status": "error", "error": "not found"}`
	})
	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "--host", srv.URL, "--auth-key", "k", "--json", "bench",
		"--canaries", "3", "--connections", "2", "--requests", "30", "--duration", "0", "--warmup", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var report benchReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if report.Requests != 30 || report.Errors != 0 || report.Keys != 3 || report.Created != 1 || created.Load() != 1 {
		t.Errorf("report %+v, %d creates", report, created.Load())
	}
	calls := srv.calls()
	if calls[0] != canaryAPI+"list?auth_key=k&limit=1000&search=%5Ebench-" {
		t.Errorf("first call %s", calls[0])
	}
	if !strings.HasPrefix(calls[1], canaryAPI+"create?auth_key=k&description=") || !strings.HasSuffix(calls[1], "&name=bench-2&periodicity=2592000") {
		t.Errorf("create call %s", calls[1])
	}
	triggers := map[string]int{}
	for _, c := range calls[2:] {
		triggers[c]++
	}
	if want := map[string]int{"/aaaaaaaa?": 10, "/bbbbbbbb?": 10, "/cccccccc?": 10}; fmt.Sprint(triggers) != fmt.Sprint(want) {
		t.Errorf("triggers %v, want %v", triggers, want)
	}
}

func TestBenchEtcdPutsAndCleanup(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]int{}
	var deleteBody map[string]string
	etcd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		decoded := map[string]string{}
		for k, v := range body {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			decoded[k] = string(b)
		}
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/v3/kv/put":
			if decoded["value"] != etcdValue {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			keys[decoded["key"]]++
			fmt.Fprint(w, `{"header": {"revision": "2"}}`)
		case "/v3/kv/deleterange":
			deleteBody = decoded
			fmt.Fprint(w, `{"header": {"revision": "3"}, "deleted": "7"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer etcd.Close()

	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "--json", "bench", "--target", "etcd", "--node", etcd.URL,
		"--canaries", "4", "--prefix", "cm-", "--connections", "2", "--requests", "8", "--duration", "0", "--warmup", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var report benchReport
	_ = json.Unmarshal([]byte(stdout), &report)
	if report.Requests != 8 || report.Errors != 0 || report.Target != "etcd" {
		t.Errorf("report %s", stdout)
	}
	if fmt.Sprint(keys) != "map[cm-1:2 cm-2:2 cm-3:2 cm-4:2]" {
		t.Errorf("puts %v", keys)
	}

	code, stdout, stderr = env.run("", "--human", "bench", "--target", "etcd", "--node", etcd.URL, "--prefix", "cm-", "--cleanup")
	if code != 0 || stdout != "Deleted 7 bench keys (prefix \"cm-\").\n" {
		t.Fatalf("cleanup: exit %d: %s%s", code, stdout, stderr)
	}
	if deleteBody["key"] != "cm-" || deleteBody["range_end"] != "cm." {
		t.Errorf("delete range %q", deleteBody)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"bench-", "bench."}, {"a", "b"}, {"a\xff", "b"}, {"\xff\xff", "\x00"},
	} {
		if got := string(prefixEnd([]byte(tt.in))); got != tt.want {
			t.Errorf("prefixEnd(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--target", "redis"},
		{"bench", "--connections", "0"},
		{"bench", "--canaries", "0"},
		{"bench", "--duration", "0"},
		{"bench", "--rate", "-1"},
		{"bench", "--prefix", ""},
		{"bench", "--node", "ftp://x"},
		{"bench", "extra"},
	} {
		env := newCLIEnv(t)
		if code, _, stderr := env.run("", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

// TestIntegrationBench runs the real cmcli bench against a real single node: a short
// run creates the canaries, the next one reuses them, --cleanup deletes only them.
func TestIntegrationBench(t *testing.T) {
	srv := startSingleNode(t, "k")
	cli := newCLIRunner(t)
	args := func(extra ...string) []string {
		return serverArgs(srv, append([]string{"--auth-key", "k"}, extra...)...)
	}
	cli.ok(args("create", "--name", "Nightly backup", "--periodicity", "3600")...)

	first := cli.ok(args("bench", "--canaries", "20", "--connections", "4", "--duration", "1s", "--warmup", "200ms")...)
	if first["requests"].(float64) <= 0 || first["errors"] != 0.0 || first["created"] != 20.0 || first["keys"] != 20.0 {
		t.Fatalf("first run: %v", first)
	}
	t.Logf("single node, 4 connections: %v req/s, p99 %v ms", first["requests_per_second"], first["latency_ms"].(map[string]any)["p99"])

	again := cli.ok(args("bench", "--use-existing", "--requests", "100", "--duration", "0", "--rate", "500", "--warmup", "0")...)
	if again["requests"] != 100.0 || again["errors"] != 0.0 || again["created"] != 0.0 || again["keys"] != 20.0 {
		t.Fatalf("second run: %v", again)
	}

	if got := cli.ok(args("bench", "--cleanup")...); got["deleted"] != 20.0 {
		t.Fatalf("cleanup: %v", got)
	}
	var names []string
	for _, c := range cli.ok(args("list")...)["canaries"].([]any) {
		names = append(names, c.(map[string]any)["name"].(string))
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[Nightly backup]" {
		t.Fatalf("canaries left after cleanup: %v", names)
	}
	cli.fails(1, "no canary has a name with the bench prefix", args("bench", "--use-existing", "--requests", "1", "--duration", "0")...)
}

func mustLoadGenerator(t *testing.T, connections int, timeout time.Duration, keys int, build requestFunc) *loadGenerator {
	t.Helper()
	gen, err := newLoadGenerator(connections, timeout, keys, build)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}
