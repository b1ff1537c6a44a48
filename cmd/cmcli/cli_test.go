package main

import (
	"bytes"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// These tests run cmcli in-process against a recording fake server, to pin down
// what goes on the wire. The integration tests run the real binary against the
// real daemon.

type recordedRequest struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
}

type fakeServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recordedRequest
}

// newFakeServer answers every request with respond(request).
func newFakeServer(t *testing.T, respond func(r recordedRequest) (int, string)) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		f.mu.Unlock()
		status, text := respond(rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, text)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		out = append(out, r.Path+"?"+r.Query.Encode())
	}
	return out
}

// cliEnv is an isolated environment: its own HOME, so ~/.coal-mine.ini is private.
type cliEnv struct {
	home string
	env  map[string]string
}

func newCLIEnv(t *testing.T) *cliEnv {
	home := t.TempDir()
	return &cliEnv{home: home, env: map[string]string{"HOME": home}}
}

func (e *cliEnv) run(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = execute(args, ioStreams{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut},
		func(k string) string { return e.env[k] })
	return code, out.String(), errOut.String()
}

const okCanary = `{"status": "ok", "canary": {"id": "bcdefghi", "name": "froodle", "periodicity": 60.0, "history": [["2015-03-19T01:08:44+00:00", "Canary created"]]}}`

// TestCLIQueries replays the original cmcli's tests: the same command lines must
// send the same queries.
func TestCLIQueries(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"create", []string{"create", "--name", "froodle", "--periodicity", "60"},
			[]string{"/coal-mine/v1/canary/create?name=froodle&paused=False&periodicity=60.0"}},
		{"create with everything", []string{"create", "--name", "X", "--periodicity", "3600", "--email", "a@b", "--email", "c@d", "--paused", "--description", "d"},
			[]string{"/coal-mine/v1/canary/create?description=d&email=a%40b&email=c%40d&name=X&paused=True&periodicity=3600.0"}},
		{"delete", []string{"delete", "--slug", "froodle"}, []string{"/coal-mine/v1/canary/delete?slug=froodle"}},
		{"update rename", []string{"update", "--id", "abcdefgh", "--name", "freedle"},
			[]string{"/coal-mine/v1/canary/update?id=abcdefgh&name=freedle"}},
		{"update by name looks the canary up", []string{"update", "--name", "froodle", "--description", "foodesc", "--auth-key", "arglebargle"},
			[]string{"/coal-mine/v1/canary/get?auth_key=arglebargle&name=froodle",
				"/coal-mine/v1/canary/update?auth_key=arglebargle&description=foodesc&id=bcdefghi"}},
		{"get", []string{"get", "--name", "froodle"}, []string{"/coal-mine/v1/canary/get?name=froodle"}},
		{"list", []string{"list"}, []string{"/coal-mine/v1/canary/list?"}},
		{"list filters", []string{"list", "--verbose", "--paused", "--late", "--search", "foo"},
			[]string{"/coal-mine/v1/canary/list?late=True&paused=True&search=foo&verbose=True"}},
		{"list negated filters", []string{"list", "--verbose", "--no-paused", "--no-late", "--search", "foo"},
			[]string{"/coal-mine/v1/canary/list?late=False&paused=False&search=foo&verbose=True"}},
		{"trigger never sends the key", []string{"trigger", "--id", "aseprogj", "--comment", "ok", "--auth-key", "k"},
			[]string{"/coal-mine/v1/canary/trigger?comment=ok&id=aseprogj"}},
		{"pause", []string{"pause", "--name", "froodle", "--comment", "c"}, []string{"/coal-mine/v1/canary/pause?comment=c&name=froodle"}},
		{"unpause", []string{"unpause", "--name", "froodle"}, []string{"/coal-mine/v1/canary/unpause?name=froodle"}},
		{"create with cron", []string{"create", "--name", "froodle", "--cron", "0 2 * * *", "--tz", "Asia/Tokyo", "--grace", "600", "--max-runtime", "1h"},
			[]string{"/coal-mine/v1/canary/create?cron=0+2+%2A+%2A+%2A&grace=600&max_runtime=3600&name=froodle&paused=False&tz=Asia%2FTokyo"}},
		{"update settings only", []string{"update", "--slug", "froodle", "--grace", "10m", "--tz", ""},
			[]string{"/coal-mine/v1/canary/update?grace=600&slug=froodle&tz=UTC"}},
		{"update by name to a cron", []string{"update", "--name", "froodle", "--cron", "@daily", "--auth-key", "k"},
			[]string{"/coal-mine/v1/canary/get?auth_key=k&name=froodle",
				"/coal-mine/v1/canary/update?auth_key=k&cron=%40daily&id=bcdefghi"}},
		{"pause for", []string{"pause", "--id", "abcdefgh", "--for", "2s"}, []string{"/coal-mine/v1/canary/pause?for=2&id=abcdefgh"}},
		{"pause until", []string{"pause", "--id", "abcdefgh", "--until", "2026-12-24T08:00:00+01:00", "--comment", "xmas"},
			[]string{"/coal-mine/v1/canary/pause?comment=xmas&id=abcdefgh&until=2026-12-24T07%3A00%3A00Z"}},
		{"runs sends the key", []string{"runs", "--slug", "froodle", "--auth-key", "k"}, []string{"/coal-mine/v1/canary/runs?auth_key=k&slug=froodle"}},
		{"flags after the command or before it", []string{"--auth-key", "k", "get", "--id", "abcdefgh"},
			[]string{"/coal-mine/v1/canary/get?auth_key=k&id=abcdefgh"}},
		{"cluster remove-peer", []string{"cluster", "remove-peer", "--id", "n3"}, []string{"/coal-mine/v1/cluster/remove-peer?id=n3"}},
		{"cluster transfer-leader", []string{"cluster", "transfer-leader"}, []string{"/coal-mine/v1/cluster/transfer-leader?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, func(recordedRequest) (int, string) { return 200, okCanary })
			env := newCLIEnv(t)
			args := append([]string{"--host", srv.URL}, tt.args...)
			code, _, stderr := env.run("", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := srv.calls(); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCLIConfigureThenCall(t *testing.T) {
	srv := newFakeServer(t, func(recordedRequest) (int, string) { return 200, okCanary })
	u, _ := url.Parse(srv.URL)
	env := newCLIEnv(t)
	steps := []struct {
		args      []string
		wantCalls []string // calls made by this step
	}{
		{[]string{"configure", "--host", u.Hostname(), "--port", u.Port(), "--auth-key", "arglebargle"}, nil},
		{[]string{"pause", "--name", "froodle"}, []string{"/coal-mine/v1/canary/pause?auth_key=arglebargle&name=froodle"}},
		{[]string{"pause", "--name", "froodle", "--no-auth-key"}, []string{"/coal-mine/v1/canary/pause?name=froodle"}},
		{[]string{"pause", "--name", "froodle", "--auth-key", "other"}, []string{"/coal-mine/v1/canary/pause?auth_key=other&name=froodle"}},
		{[]string{"configure", "--no-auth-key"}, nil},
		{[]string{"pause", "--name", "froodle"}, []string{"/coal-mine/v1/canary/pause?name=froodle"}},
	}
	seen := 0
	for _, step := range steps {
		code, _, stderr := env.run("", step.args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", step.args, code, stderr)
		}
		calls := srv.calls()[seen:]
		seen += len(calls)
		if strings.Join(calls, "\n") != strings.Join(step.wantCalls, "\n") {
			t.Errorf("%q: calls %q, want %q", step.args, calls, step.wantCalls)
		}
	}
	data, err := os.ReadFile(filepath.Join(env.home, ".coal-mine.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "auth-key") || !strings.Contains(string(data), "port") {
		t.Errorf("configuration file:\n%s", data)
	}
}

func TestCLIServerError(t *testing.T) {
	srv := newFakeServer(t, func(recordedRequest) (int, string) {
		return 404, `{"status": "error", "error": "No such canary froodle"}`
	})
	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "--host", srv.URL, "get", "--name", "froodle")
	if code != exitFailure || stdout != "" || stderr != "404 Not Found\nNo such canary froodle\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	srv := newFakeServer(t, func(recordedRequest) (int, string) { return 200, okCanary })
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command specified"},
		{"unknown command", []string{"froodle"}, `unknown command "froodle"`},
		{"create without periodicity", []string{"create", "--name", "froodle"}, "create needs --periodicity or --cron"},
		{"create with periodicity and cron", []string{"create", "--name", "x", "--periodicity", "60", "--cron", "@daily"}, "--periodicity and --cron exclude each other"},
		{"update with periodicity and cron", []string{"update", "--id", "abcdefgh", "--periodicity", "60", "--cron", "@daily"}, "--periodicity and --cron exclude each other"},
		{"bad grace", []string{"create", "--name", "x", "--cron", "@daily", "--grace", "a while"}, `--grace "a while" is neither seconds`},
		{"negative max runtime", []string{"update", "--id", "abcdefgh", "--max-runtime", "-1m"}, "must not be negative"},
		{"pause until and for", []string{"pause", "--id", "abcdefgh", "--for", "1m", "--until", "2026-12-24"}, "--until and --for exclude each other"},
		{"pause until garbage", []string{"pause", "--id", "abcdefgh", "--until", "next week"}, "is not an ISO 8601 time"},
		{"unpause has no --for", []string{"unpause", "--id", "abcdefgh", "--for", "1m"}, "unknown flag: --for"},
		{"runs without a canary", []string{"runs"}, "[id name slug]"},
		{"update with id and slug", []string{"update", "--id", "abcdefgh", "--slug", "foo"}, "[id slug]"},
		{"update with nothing", []string{"update", "--periodicity", "120"}, "must specify --name, --id, or --slug"},
		{"get without a canary", []string{"get"}, "[id name slug]"},
		{"get by two names", []string{"get", "--id", "a", "--slug", "b"}, "none of the others"},
		{"bad periodicity", []string{"create", "--name", "x", "--periodicity", "1.2.3"}, "not a number"},
		{"auth key and no auth key", []string{"list", "--auth-key", "k", "--no-auth-key"}, "auth-key"},
		{"unknown flag", []string{"list", "--froodle"}, "unknown flag: --froodle"},
		{"run without a command", []string{"run", "--id", "abcdefgh"}, "needs a COMMAND"},
		{"snapshot save without a file", []string{"snapshot", "save"}, "needs FILE"},
		{"bad host", []string{"list", "--host", "ftp://x"}, "host must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCLIEnv(t)
			args := tt.args
			if tt.name != "bad host" {
				args = append([]string{"--host", srv.URL}, args...)
			}
			code, _, stderr := env.run("", args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tt.want)
			}
		})
	}
	if calls := srv.calls(); len(calls) != 0 {
		t.Errorf("usage errors sent requests: %q", calls)
	}
}

func TestCLIImportBatches(t *testing.T) {
	srv := newFakeServer(t, func(r recordedRequest) (int, string) {
		if strings.Contains(string(r.Body), "qwertyui") {
			return 200, `{"status":"ok","created":[],"unchanged":[],"updated":[],"conflicts":[{"id":"qwertyui","error":"slug taken"}]}`
		}
		return 200, `{"status":"ok","created":["fbkvlsby"],"unchanged":[],"updated":[],"conflicts":[]}`
	})
	env := newCLIEnv(t)
	code, stdout, stderr := env.run(mongoexportSample, "--host", srv.URL, "--auth-key", "k", "--human", "import", "-", "--batch-size", "2")
	if code != exitFailure || !strings.Contains(stderr, "conflicting canaries were not imported: 1") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "created:   1\n") || !strings.Contains(stdout, "qwertyui: slug taken") {
		t.Errorf("stdout %q", stdout)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.requests) != 2 {
		t.Fatalf("%d requests, want 2 batches", len(srv.requests))
	}
	r := srv.requests[0]
	if r.Method != "POST" || r.Path != "/coal-mine/v1/canary/import" || r.Query.Get("auth_key") != "k" || r.Query.Has("overwrite") {
		t.Errorf("first batch: %s %s?%s", r.Method, r.Path, r.Query.Encode())
	}
	if !strings.Contains(string(r.Body), `"periodicity":3600.0`) {
		t.Errorf("first batch body %s", r.Body)
	}
}

func TestCLIRunWithBrokenConfigStillRunsTheJob(t *testing.T) {
	env := newCLIEnv(t)
	if err := os.WriteFile(filepath.Join(env.home, ".coal-mine.ini"), []byte("[coal-mine]\nport = eighty\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := env.run("", "run", "--id", "abcdefgh", "--", "sh", "-c", "echo ran")
	if code != 0 || stdout != "ran\n" || !strings.Contains(stderr, "not a port number") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestCLIHTTPSWithAPrivateCA: an https:// server whose certificate a private CA signed
// is trusted with --ca-file (or the ca-file stored by configure), and refused without.
func TestCLIHTTPSWithAPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okCanary)
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := newCLIEnv(t)
	if code, _, stderr := env.run("", "--host", srv.URL, "get", "--id", "bcdefghi"); code != exitFailure || !strings.Contains(stderr, "certificate") {
		t.Errorf("without the CA: exit %d, %s", code, stderr)
	}
	if code, out, stderr := env.run("", "--host", srv.URL, "--ca-file", caFile, "--json", "get", "--id", "bcdefghi"); code != 0 || !strings.Contains(out, "froodle") {
		t.Errorf("with --ca-file: exit %d, %s %s", code, out, stderr)
	}
	if code, _, stderr := env.run("", "configure", "--host", srv.URL, "--ca-file", caFile); code != 0 {
		t.Fatalf("configure: %s", stderr)
	}
	if code, out, stderr := env.run("", "--json", "get", "--id", "bcdefghi"); code != 0 || !strings.Contains(out, "froodle") {
		t.Errorf("with the stored CA: exit %d, %s %s", code, out, stderr)
	}
}
