package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests pin down what `cmcli run` sends: a start signal, then the end with the
// same rid, the exit status, the comment and the output's tail as the POST body.

const triggerPath = "/coal-mine/v1/canary/trigger"

var commentPattern = regexp.MustCompile(`^(nightly; )?exit [0-9]+ in [0-9]+\.[0-9]s$`)

// checkStart checks a start signal and returns its rid.
func checkStart(t *testing.T, r recordedRequest) string {
	t.Helper()
	q := r.Query
	if r.Method != http.MethodGet || r.Path != triggerPath || len(q) != 3 || q.Get("id") != "abcdefgh" || q.Get("state") != "start" || q.Get("rid") == "" {
		t.Fatalf("start signal %s %s?%s, want GET trigger?id=abcdefgh&rid=...&state=start", r.Method, r.Path, q.Encode())
	}
	return q.Get("rid")
}

// checkEnd checks an end signal: exactly id, rid, exit_status and comment.
func checkEnd(t *testing.T, r recordedRequest, rid string, status int) {
	t.Helper()
	q := r.Query
	if r.Method != http.MethodPost || r.Path != triggerPath || len(q) != 4 || q.Get("id") != "abcdefgh" ||
		q.Get("exit_status") != fmt.Sprint(status) || !commentPattern.MatchString(q.Get("comment")) ||
		(rid != "" && q.Get("rid") != rid) || q.Get("rid") == "" {
		t.Fatalf("end signal %s %s?%s, want POST trigger with id, rid %q, exit_status=%d and comment", r.Method, r.Path, q.Encode(), rid, status)
	}
	if want := fmt.Sprintf("exit %d in ", status); !strings.Contains(q.Get("comment"), want) {
		t.Fatalf("comment %q, want %q", q.Get("comment"), want)
	}
}

func okTrigger(recordedRequest) (int, string) {
	return 200, `{"status":"ok","recovered":false,"unpaused":false}`
}

func TestCLIRunReports(t *testing.T) {
	tests := []struct {
		name       string
		flags      []string
		job        []string
		wantExit   int
		wantStdout string
		wantStderr string // the job's and cmcli's
		wantBody   string // a regular expression
	}{
		{"success", nil, []string{"sh", "-c", "echo job-output"}, 0, "job-output\n", "", `^job-output\n$`},
		{"failure is reported with its output", nil, []string{"sh", "-c", "echo oops; echo bad >&2; exit 3"}, 3, "oops\n", "bad\n",
			`^(oops\nbad\n|bad\noops\n)$`},
		{"killed by a signal", nil, []string{"sh", "-c", "echo dying; kill -TERM $$"}, 143, "dying\n", "", `^dying\n$`},
		{"a job that cannot start is a failure", nil, []string{"cmcli-no-such-command"}, 127, "",
			"cmcli: run: starting cmcli-no-such-command", `^cmcli: run: starting cmcli-no-such-command: .*\n$`},
		{"no start", []string{"--no-start"}, []string{"true"}, 0, "", "", `^$`},
		{"comment prefix", []string{"--comment", "nightly"}, []string{"true"}, 0, "", "", `^$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, okTrigger)
			env := newCLIEnv(t)
			args := append([]string{"--host", srv.URL, "--auth-key", "k", "run", "--id", "abcdefgh", "--timeout-trigger", "5s"}, tt.flags...)
			code, stdout, stderr := env.run("", append(append(args, "--"), tt.job...)...)
			if code != tt.wantExit {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantExit, stderr)
			}
			if stdout != tt.wantStdout || !strings.HasPrefix(stderr, tt.wantStderr) || (tt.wantStderr == "" && stderr != "") {
				t.Errorf("stdout %q, stderr %q; want %q and %q: the job's output passes through", stdout, stderr, tt.wantStdout, tt.wantStderr)
			}
			srv.mu.Lock()
			reqs := append([]recordedRequest(nil), srv.requests...)
			srv.mu.Unlock()
			rid := ""
			if tt.flags == nil || tt.flags[0] != "--no-start" {
				if len(reqs) != 2 {
					t.Fatalf("calls %q, want a start and an end", srv.calls())
				}
				rid = checkStart(t, reqs[0])
				reqs = reqs[1:]
			} else if len(reqs) != 1 {
				t.Fatalf("calls %q, want only an end", srv.calls())
			}
			checkEnd(t, reqs[0], rid, tt.wantExit)
			if ok, _ := regexp.Match(tt.wantBody, reqs[0].Body); !ok {
				t.Errorf("end body %q, want %q", reqs[0].Body, tt.wantBody)
			}
			if tt.flags != nil && tt.flags[0] == "--comment" && !strings.HasPrefix(reqs[0].Query.Get("comment"), "nightly; exit 0 in ") {
				t.Errorf("comment %q", reqs[0].Query.Get("comment"))
			}
		})
	}
}

// TestCLIRunRIDsDiffer: every run has its own rid, so the server pairs each end
// with its own start.
func TestCLIRunRIDsDiffer(t *testing.T) {
	srv := newFakeServer(t, okTrigger)
	env := newCLIEnv(t)
	for range 2 {
		if code, _, stderr := env.run("", "--host", srv.URL, "run", "--id", "abcdefgh", "true"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var rids []string
	for _, r := range srv.requests {
		rids = append(rids, r.Query.Get("rid"))
	}
	if len(rids) != 4 || rids[0] != rids[1] || rids[2] != rids[3] || rids[0] == rids[2] || len(rids[0]) < 16 {
		t.Fatalf("rids %q: want start and end of a run to share one, and runs to differ", rids)
	}
}

// TestCLIRunSendsTheOutputTail: only the last 10,000 bytes of a long output are sent.
func TestCLIRunSendsTheOutputTail(t *testing.T) {
	srv := newFakeServer(t, okTrigger)
	env := newCLIEnv(t)
	job := `awk 'BEGIN { for (i = 0; i < 3000; i++) printf "line %05d\n", i }'`
	code, stdout, stderr := env.run("", "--host", srv.URL, "run", "--id", "abcdefgh", "--", "sh", "-c", job)
	if code != 0 || len(stdout) != 33000 {
		t.Fatalf("exit %d, %d bytes of stdout (want 33000), stderr %q", code, len(stdout), stderr)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	body := srv.requests[len(srv.requests)-1].Body
	if want := stdout[len(stdout)-maxReportedOutput:]; string(body) != want {
		t.Fatalf("body: %d bytes starting %q, want the last %d bytes of the output, starting %q",
			len(body), body[:min(20, len(body))], maxReportedOutput, want[:20])
	}
}

// TestCLIRunStartDoesNotDelayTheJob: a server that never answers the start signal
// holds the job up for startSignalBound, no more, and the job still runs and ends.
func TestCLIRunStartDoesNotDelayTheJob(t *testing.T) {
	type arrival struct {
		at    time.Time
		query string
	}
	var mu sync.Mutex
	var arrivals []arrival
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		arrivals = append(arrivals, arrival{time.Now(), r.URL.RawQuery})
		mu.Unlock()
		if r.URL.Query().Get("state") == "start" {
			select { // hang like an overloaded server
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, `{"status":"ok","recovered":false,"unpaused":false}`)
	}))
	defer srv.Close()
	defer close(release)

	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "--host", srv.URL, "run", "--id", "abcdefgh", "--timeout-trigger", "10s", "--", "echo", "ran")
	if code != 0 || stdout != "ran\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, `sending the start signal to the canary (id "abcdefgh") failed, running the job anyway`) {
		t.Errorf("stderr %q: the start's failure must be reported", stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2 || !strings.Contains(arrivals[0].query, "state=start") || !strings.Contains(arrivals[1].query, "exit_status=0") {
		t.Fatalf("requests %v, want the start then the end", arrivals)
	}
	// The job ran between the two, so the gap bounds the job's delay. The slack is
	// for a busy machine; a delay by --timeout-trigger (10s) would still exceed it.
	if gap := arrivals[1].at.Sub(arrivals[0].at); gap > startSignalBound+3*time.Second {
		t.Errorf("the end came %v after the start: the job was held up beyond %v", gap, startSignalBound)
	}
}

// TestCLIRunReportFailures: a report that fails is said on stderr and the job's exit
// status stays.
func TestCLIRunReportFailures(t *testing.T) {
	tests := []struct {
		name       string
		job        string
		wantExit   int
		wantStderr []string
	}{
		{"success", "true", 0, []string{
			`sending the start signal to the canary (id "abcdefgh") failed, running the job anyway: 404 Not Found`,
			`the job succeeded but triggering the canary (id "abcdefgh") failed: 404 Not Found`}},
		{"failure", "exit 3", 3, []string{
			`the job failed (exit 3) and reporting that to the canary (id "abcdefgh") failed: 404 Not Found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, func(recordedRequest) (int, string) {
				return 404, `{"status":"error","error":"No such canary"}`
			})
			env := newCLIEnv(t)
			code, stdout, stderr := env.run("", "--host", srv.URL, "run", "--id", "abcdefgh", "--timeout-trigger", "2s", "--", "sh", "-c", tt.job)
			if code != tt.wantExit || stdout != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", code, tt.wantExit, stdout, stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
			if n := len(srv.calls()); n != 2 {
				t.Errorf("%d calls, want 2: a 404 is not retried", n)
			}
		})
	}
}

// TestCLIRunRetriesTheEndWithItsBody: a retried end signal sends the output again.
func TestCLIRunRetriesTheEndWithItsBody(t *testing.T) {
	ends := 0
	srv := newFakeServer(t, func(r recordedRequest) (int, string) {
		if r.Query.Has("exit_status") {
			ends++
			if ends == 1 {
				return 503, `{"status":"error","error":"no leader"}`
			}
		}
		return okTrigger(r)
	})
	env := newCLIEnv(t)
	code, _, stderr := env.run("", "--host", srv.URL, "run", "--id", "abcdefgh", "--", "echo", "payload")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.requests) != 3 {
		t.Fatalf("%d requests, want a start and two ends", len(srv.requests))
	}
	rid := checkStart(t, srv.requests[0])
	for _, r := range srv.requests[1:] {
		checkEnd(t, r, rid, 0)
		if string(r.Body) != "payload\n" {
			t.Errorf("end body %q", r.Body)
		}
	}
}

// TestCLIRunOlderServer: a server that refuses signals (400) still gets a success as
// the plain trigger it always got; a failure is not turned into a trigger.
func TestCLIRunOlderServer(t *testing.T) {
	tests := []struct {
		name      string
		job       string
		wantExit  int
		wantCalls int
		wantPlain bool
	}{
		{"success falls back to a trigger", "true", 0, 3, true},
		{"failure does not trigger", "exit 4", 4, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, func(r recordedRequest) (int, string) {
				for _, k := range []string{"state", "exit_status", "rid"} {
					if r.Query.Has(k) {
						return 400, `{"status":"error","error":"unexpected parameter ` + k + `"}`
					}
				}
				return okTrigger(r)
			})
			env := newCLIEnv(t)
			code, _, stderr := env.run("", "--host", srv.URL, "run", "--id", "abcdefgh", "--", "sh", "-c", tt.job)
			if code != tt.wantExit {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			calls := srv.calls()
			if len(calls) != tt.wantCalls {
				t.Fatalf("calls %q", calls)
			}
			last := calls[len(calls)-1]
			plain, _ := regexp.MatchString(`^/coal-mine/v1/canary/trigger\?comment=exit\+0\+in\+[0-9]+\.[0-9]s&id=abcdefgh$`, last)
			if plain != tt.wantPlain {
				t.Errorf("last call %q, plain trigger %v, want %v", last, plain, tt.wantPlain)
			}
			// The start's refusal is said either way; the end's only when nothing took it.
			if strings.Contains(stderr, "triggering") || strings.Contains(stderr, "reporting that") == tt.wantPlain {
				t.Errorf("stderr %q", stderr)
			}
		})
	}
}

func TestOutputTail(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"short output is whole", 10, []string{"abc", "def"}, "abcdef"},
		{"exactly max", 6, []string{"abc", "def"}, "abcdef"},
		{"the tail is kept", 4, []string{"abc", "def"}, "cdef"},
		{"after many writes", 4, []string{"0123456789", "ab", "cdefgh", "ij"}, "ghij"},
		{"one write larger than twice max", 3, []string{"0123456789"}, "789"},
		{"a cut character is dropped", 5, []string{"xx", "ééé"}, "éé"}, // é is 2 bytes: 5 bytes start mid-character
		{"an uncut character stays", 6, []string{"xx", "ééé"}, "ééé"},
	}
	for _, tt := range tests {
		tail := newOutputTail(tt.max)
		for _, w := range tt.writes {
			if n, err := tail.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: Write = %d, %v", tt.name, n, err)
			}
		}
		if got := tail.Bytes(); !bytes.Equal(got, []byte(tt.want)) {
			t.Errorf("%s: tail %q, want %q", tt.name, got, tt.want)
		}
	}
}
