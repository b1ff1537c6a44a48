package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTableRatiosAndSkippedRows(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("leader-32", `{"requests_per_second": 8000, "errors": 0, "client_cpu_cores": 0.5, "latency_ms": {"p50": 3.5, "p99": 12.25, "max": 40}}`)
	write("leader-32.cpu", `{"server_cpu_cores": 1.25, "raft_entries_per_second": 1000}`)
	write("follower-32", `{"requests_per_second": 7000, "errors": 3, "errors_by_kind": {"timeout": 1, "HTTP 503": 2}, "latency_ms": {"p50": 4, "p99": 14, "max": 50}}`)
	write("etcd-32", `{"requests_per_second": 2000, "errors": 0, "latency_ms": {"p50": 14, "p99": 30, "max": 60}}`)
	write("late-load", `{"requests_per_second": 1999.6, "rate": 2000, "errors": 0, "latency_ms": {"p50": 2, "p99": 9, "max": 20}}`)
	late, _ := json.Marshal(lateReport{Canaries: 10, WindowSeconds: 10, LateMailMS: latenessStats{Count: 10, P50: 40, P99: 90}, LateAtEnd: 10})
	if err := os.WriteFile(filepath.Join(dir, "late.json"), late, 0o644); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	if err := printTable(&out, dir); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.SplitN(got, "\n\n", 2)
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "late detection: 10 canaries due within 10s") {
		t.Fatalf("no late summary after the table:\n%s", got)
	}
	for _, row := range []string{"4.00x", "3.50x (0.88x leader)", "3 (HTTP 503 ×2, timeout ×1)", "2000 of 2000 offered", "1.25+0.50", " 8.0 "} {
		if !strings.Contains(lines[0], row) {
			t.Errorf("table lacks %q:\n%s", row, lines[0])
		}
	}
	// A header and the four rows that have reports: no "leader, 1 conn", no etcd 1 conn.
	if rows := strings.Split(lines[0], "\n"); len(rows) != 5 || strings.Contains(lines[0], "1 conn") {
		t.Errorf("rows without a report must be left out:\n%s", lines[0])
	}
}

func TestMailLatenessCountsDuplicatesAndMissing(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	canaries := makeLateCanaries("late-", 4, base, 4*time.Second)
	for i, c := range canaries {
		if want := base.Add(time.Duration(i) * time.Second); !c.deadline.Equal(want) {
			t.Fatalf("deadline %d = %v, want %v", i, c.deadline, want)
		}
	}
	mail := func(c lateCanary, after time.Duration, event string) receivedMail {
		return receivedMail{At: c.deadline.Add(after), Header: map[string][]string{
			"X-Coal-Mine-Canary": {c.ID}, "X-Coal-Mine-Event": {event}}}
	}
	mails := []receivedMail{
		mail(canaries[0], 10*time.Millisecond, "late"),
		mail(canaries[1], 30*time.Millisecond, "late"),
		mail(canaries[1], 900*time.Millisecond, "late"), // duplicate: not a second lateness
		mail(canaries[2], 20*time.Millisecond, "late"),
		mail(canaries[3], 5*time.Millisecond, "resumed"), // not a LATE mail: canary 3 is missing
		{At: base, Header: map[string][]string{"X-Coal-Mine-Canary": {"zzzzzzzz"}, "X-Coal-Mine-Event": {"late"}}},
	}
	stats, duplicates := mailLateness(canaries, mails)
	want := latenessStats{Count: 3, Missing: 1, P50: 20, P99: 30, Max: 30}
	if stats != want || duplicates != 1 {
		t.Errorf("stats %+v, duplicates %d; want %+v, 1", stats, duplicates, want)
	}
}

func TestSummarizePercentilesAndEarly(t *testing.T) {
	var lateness []time.Duration
	for i := 100; i >= -1; i-- { // -1ms (early), 0..100ms, unsorted
		lateness = append(lateness, time.Duration(i)*time.Millisecond)
	}
	got := summarize(lateness, 110)
	want := latenessStats{Count: 102, Missing: 8, Early: 1, P50: 49, P99: 99, Max: 100} // nearest rank: the 51st and 101st of 102
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if empty := summarize(nil, 5); empty != (latenessStats{Missing: 5}) {
		t.Errorf("empty: %+v", empty)
	}
}

func TestSampleSpreadsOverTheWindow(t *testing.T) {
	canaries := makeLateCanaries("late-", 100, time.Now(), time.Second)
	sample := sampleOf(canaries, 4)
	var names []string
	for _, c := range sample {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "late-00001 late-00026 late-00051 late-00076" {
		t.Errorf("sample %v", names)
	}
	ids := map[string]bool{}
	for _, c := range canaries {
		if len(c.ID) != 8 || strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyz") != "" || ids[c.ID] {
			t.Fatalf("bad or repeated id %q", c.ID)
		}
		ids[c.ID] = true
	}
}

func TestTableScaleSummary(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"scale-load.json":        `{"requests_per_second": 500, "rate": 500, "errors": 0, "latency_ms": {"p50": 1.5, "p99": 2.5, "max": 16}}`,
		"scale-backup-load.json": `{"requests_per_second": 500, "rate": 500, "errors": 0, "latency_ms": {"p50": 1.5, "p99": 5, "max": 63}}`,
		"scale-import.json":      `{"canaries": 1000000, "history_entries_each": 10, "import_seconds": 61.5}`,
		"scale-ops.json":         `{"rss_mb_after_import": [1370, 1107, 1129], "rss_mb_at_end": [1284, 1180, 1131], "peak_rss_mb": [1400, 1200, 1150], "settle_seconds": 14, "snapshot_seconds": 0.9, "backup_seconds": 1.35, "restart_seconds": 2.3}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	if err := printTable(&out, dir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the same, during a backup", "500 of 500 offered", "1000000 canaries with 10 history entries each (imported in 61.5s, idle 14s later)",
		"after the import 1370/1107/1129", "at the end 1284/1180/1131", "peak 1400/1200/1150", "1.35s on the leader under the load above (the snapshot 0.90s of it)", "after 2.30s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// An id that collides with an existing canary's is replaced and imported again; the
// caller sees the id that was imported.
func TestImportCanariesRetriesTakenIDs(t *testing.T) {
	var posts int
	existing := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts++
		var body struct{ Canaries []lateCanary }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		reply := map[string]any{"status": "ok", "created": []string{}, "conflicts": []map[string]string{}}
		for _, c := range body.Canaries {
			if existing[c.ID] || c.ID == "takenidx" {
				reply["conflicts"] = append(reply["conflicts"].([]map[string]string), map[string]string{"id": c.ID, "error": "exists"})
				continue
			}
			existing[c.ID] = true
			reply["created"] = append(reply["created"].([]string), c.ID)
		}
		json.NewEncoder(w).Encode(reply)
	}))
	defer srv.Close()

	canaries := []lateCanary{{ID: "takenidx", Name: "a"}, {ID: "freeidxx", Name: "b"}}
	if err := importCanaries(context.Background(), lateOptions{node: srv.URL}, canaries); err != nil {
		t.Fatal(err)
	}
	if posts != 2 || canaries[0].ID == "takenidx" || !existing[canaries[0].ID] || canaries[1].ID != "freeidxx" {
		t.Errorf("%d posts, ids now %q and %q", posts, canaries[0].ID, canaries[1].ID)
	}
}

// The receiver records a canary's late events by id: the first arrival, every delivery
// and every distinct idempotency key; other events, undecodable bodies and a header key
// that differs from the body's are counted apart.
func TestHookReceiverRecordsLateEvents(t *testing.T) {
	h := newHookReceiver()
	srv := httptest.NewServer(h)
	defer srv.Close()
	canaries := makeLateCanaries("storm-", 3, time.Now().Add(-time.Second), time.Millisecond)
	post := func(body, key string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hook", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	event := func(kind, id, key string) string {
		return `{"event":"` + kind + `","canary":{"id":"` + id + `","name":"x"},"seq":1,"idempotency_key":"` + key + `"}`
	}
	a, b := canaries[0].ID, canaries[1].ID
	post(event("late", a, "k-a"), "k-a")
	post(event("late", a, "k-a"), "k-a") // redelivered: a duplicate, same key
	post(event("late", b, "k-b1"), "k-b1")
	post(event("late", b, "k-b2"), "k-b2")                            // a second key for b
	post(event("resumed", a, "k-a2"), "k-a2")                         // other
	post(event("late", "zzzzzzzz", "k-z"), "k-z")                     // not one of ours: other
	post(`{"event":"outage","seq":2,"idempotency_key":"k-o"}`, "k-o") // no canary: other
	post(`not json`, "")                                              // bad
	post(event("late", a, "k-a"), "k-different")                      // bad: the keys differ

	got := h.await(context.Background(), canaries, time.Now(), 0)
	if got.Delivered != 2 || got.Deliveries != 4 || got.Duplicates != 2 || got.ExtraKeys != 1 ||
		got.OtherEvents != 3 || got.BadRequests != 2 || got.DeliveryMS.Missing != 1 || got.Pass {
		t.Errorf("report %+v", got)
	}
	// Each delay is first arrival - deadline: about a second here, never the later ones.
	if got.DeliveryMS.Count != 2 || got.DeliveryMS.Early != 0 || got.DeliveryMS.Max < 1000 || got.DeliveryMS.Max > 5000 {
		t.Errorf("delivery %+v", got.DeliveryMS)
	}
}

func TestWebhookFiguresAgainstTheTarget(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	canaries := makeLateCanaries("storm-", 4, base, time.Second)
	arrivals := func(delays ...time.Duration) map[string]*hookArrivals {
		m := map[string]*hookArrivals{}
		for i, d := range delays {
			m[canaries[i].ID] = &hookArrivals{first: canaries[i].deadline.Add(d), deliveries: 1, keys: map[string]bool{"k": true}}
		}
		return m
	}
	ok := webhookFigures(canaries, arrivals(100*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond, 10*time.Second), 0, 0, 10*time.Second)
	want := latenessStats{Count: 4, P50: 200, P99: 10000, Max: 10000}
	if !ok.Pass || ok.Delivered != 4 || ok.Duplicates != 0 || ok.DeliveryMS != want || ok.TargetSeconds != 10 {
		t.Errorf("within the target: %+v", ok)
	}
	if late := webhookFigures(canaries, arrivals(time.Millisecond, time.Millisecond, time.Millisecond, 10*time.Second+time.Millisecond), 0, 0, 10*time.Second); late.Pass {
		t.Errorf("one over 10s passed: %+v", late)
	}
	if missing := webhookFigures(canaries, arrivals(time.Millisecond, time.Millisecond, time.Millisecond), 0, 0, 10*time.Second); missing.Pass || missing.DeliveryMS.Missing != 1 {
		t.Errorf("one missing passed: %+v", missing)
	}
}

// startWebhook creates a default webhook channel to its receiver (with the auth key);
// stop deletes it.
func TestStormChannelCreatedAndDeleted(t *testing.T) {
	var calls []string
	var created url.Values
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.URL.Path)
		if r.URL.Path == "/coal-mine/v1/channel/create" {
			created = r.URL.Query()
		}
		if r.URL.Query().Get("auth_key") != "sekrit" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		w.Write([]byte(`{"status": "ok"}`))
	}))
	defer node.Close()
	o := lateOptions{node: node.URL, authKey: "sekrit", channel: "storm"}
	h, err := startWebhook(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if created.Get("name") != "storm" || created.Get("kind") != "webhook" || created.Get("default") != "true" ||
		created.Get("url") != h.url || !strings.HasPrefix(h.url, "http://127.0.0.1:") {
		t.Errorf("created with %v (receiver %s)", created, h.url)
	}
	resp, err := http.Post(h.url, "application/json", strings.NewReader(`{"event":"test","idempotency_key":"k"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := h.stop(o); err != nil {
		t.Fatal(err)
	}
	if strings.Join(calls, " ") != "/coal-mine/v1/channel/create /coal-mine/v1/channel/delete" {
		t.Errorf("calls %v", calls)
	}
	if _, err := http.Post(h.url, "application/json", nil); err == nil {
		t.Error("the receiver still answers after stop")
	}
}

func TestTableStormSummary(t *testing.T) {
	dir := t.TempDir()
	storm, _ := json.Marshal(lateReport{Canaries: 10000, WindowSeconds: 1, ImportSeconds: 0.8,
		MarkedLateMS: latenessStats{Count: 500, P50: 40, P99: 130, Max: 150}, LateAtEnd: 10000,
		Webhook: &webhookReport{Delivered: 10000, Deliveries: 10001, Duplicates: 1, TargetSeconds: 10, Pass: true,
			DeliveryMS: latenessStats{Count: 10000, P50: 900, P99: 2500, Max: 3000}}})
	for name, body := range map[string]string{
		"storm.json":      string(storm),
		"storm-load.json": `{"requests_per_second": 2000, "rate": 2000, "connections": 128, "errors": 0, "latency_ms": {"p50": 2, "p99": 9.5, "max": 40}}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	if err := printTable(&out, dir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"leader, 128 conns, during the storm test", "storm: 10000 canaries due within 1s",
		"p50 900.0ms  p99 2500.0ms  max 3000.0ms  delivered 10000 of 10000  missing 0",
		"webhook deliveries 10001, duplicates 1 (extra idempotency keys 0)",
		"target every webhook within 10s: pass (10000 of 10000 delivered, max 3000.0ms)",
		"target LATE marked p99 <= 100ms: FAIL (130.0ms, 30.0ms over)",
		"target triggers p99 <= 15ms: pass (9.5ms)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
