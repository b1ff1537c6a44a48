package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
