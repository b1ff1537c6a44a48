package main

// Helpers for the integration tests: they build the real cmcli and coal-mine
// binaries and run them as processes, on loopback ports only.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

var binaries struct {
	once      sync.Once
	dir       string
	cmcli     string
	daemon    string
	cmcliErr  error
	daemonErr error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// buildBinaries builds cmcli and coal-mine once per test run.
func buildBinaries() {
	binaries.once.Do(func() {
		dir, err := os.MkdirTemp("", "cmcli-test-bin-")
		if err != nil {
			binaries.cmcliErr, binaries.daemonErr = err, err
			return
		}
		binaries.dir = dir
		binaries.cmcli = filepath.Join(dir, "cmcli")
		binaries.daemon = filepath.Join(dir, "coal-mine")
		binaries.cmcliErr = goBuild(binaries.cmcli, "github.com/coal-mine/coal-mine/cmd/cmcli")
		binaries.daemonErr = goBuild(binaries.daemon, "github.com/coal-mine/coal-mine/cmd/coal-mine")
	})
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, output)
	}
	return nil
}

// cmcliBinary is the path of the built cmcli.
func cmcliBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binaries")
	}
	buildBinaries()
	if binaries.cmcliErr != nil {
		t.Fatal(binaries.cmcliErr)
	}
	return binaries.cmcli
}

// daemonBinary is the path of the built coal-mine; the test is skipped when the
// daemon does not build (it is written at the same time as cmcli).
func daemonBinary(t *testing.T) string {
	t.Helper()
	cmcliBinary(t)
	if binaries.daemonErr != nil {
		msg := binaries.daemonErr.Error()
		if len(msg) > 600 {
			msg = msg[:600] + "..."
		}
		t.Skipf("cmd/coal-mine does not build, so there is no server to test against: %s", msg)
	}
	return binaries.daemon
}

// lockedBuffer collects a process's log while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverOptions are the daemon settings a test chooses (flags per DESIGN.md).
type serverOptions struct {
	authKey         string
	nodeID          string
	gossipPort      int
	join            []string
	bootstrapExpect int
}

// testServer is one running coal-mine process.
type testServer struct {
	t        *testing.T
	cmd      *exec.Cmd
	port     int
	base     string
	nodeID   string
	log      *lockedBuffer
	stopOnce sync.Once
}

// startServer starts coal-mine; waitReady must follow (clusters start all nodes first).
func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	bin := daemonBinary(t)
	s := &testServer{t: t, port: testkit.FreePort(t), log: &lockedBuffer{}, nodeID: opts.nodeID}
	s.base = fmt.Sprintf("http://127.0.0.1:%d", s.port)
	args := []string{
		"--port", fmt.Sprint(s.port),
		"--data-dir", t.TempDir(),
		"--raft-addr", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
	}
	if opts.authKey != "" {
		args = append(args, "--auth-key", opts.authKey)
	}
	if opts.nodeID != "" {
		args = append(args, "--node-id", opts.nodeID)
	}
	if opts.gossipPort != 0 {
		args = append(args, "--gossip-addr", fmt.Sprintf("127.0.0.1:%d", opts.gossipPort))
	}
	if len(opts.join) > 0 {
		args = append(args, "--join", strings.Join(opts.join, ","))
	}
	if opts.bootstrapExpect != 0 {
		args = append(args, "--bootstrap-expect", fmt.Sprint(opts.bootstrapExpect))
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = cleanEnv(nil)
	s.cmd.Dir = t.TempDir() // no coal-mine.ini of the developer's is read
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting coal-mine: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// startSingleNode starts a single-node server and waits until it is ready.
func startSingleNode(t *testing.T, authKey string) *testServer {
	t.Helper()
	s := startServer(t, serverOptions{authKey: authKey})
	s.waitReady()
	return s
}

func (s *testServer) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("coal-mine on port %d did not become ready; log:\n%s", s.port, s.log)
}

func (s *testServer) stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		if s.t.Failed() {
			s.t.Logf("coal-mine on port %d log:\n%s", s.port, s.log)
		}
	})
}

// cleanEnv is the test process's environment without settings that would change
// what cmcli or coal-mine do, plus extra.
func cleanEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "HOME", name == "NO_COLOR", strings.HasPrefix(name, "COAL_MINE_"),
			strings.HasPrefix(name, "WSGI_"), strings.HasPrefix(name, "SMTP_"), name == "EMAIL_SENDER", name == "MONGODB_URI":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// cliRunner runs the cmcli binary with its own HOME (and so its own
// ~/.coal-mine.ini).
type cliRunner struct {
	t    *testing.T
	bin  string
	home string
	env  []string
}

func newCLIRunner(t *testing.T) *cliRunner {
	t.Helper()
	home := t.TempDir()
	return &cliRunner{t: t, bin: cmcliBinary(t), home: home, env: []string{"HOME=" + home}}
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

func (c *cliRunner) run(args ...string) cliResult {
	c.t.Helper()
	return c.runWithInput("", args...)
}

func (c *cliRunner) runWithInput(stdin string, args ...string) cliResult {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = cleanEnv(c.env)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running cmcli %q: %v", args, err)
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs cmcli, requires success and decodes its JSON output (stdout is not a
// terminal, so JSON is the default).
func (c *cliRunner) ok(args ...string) map[string]any {
	c.t.Helper()
	res := c.run(args...)
	if res.code != 0 {
		c.t.Fatalf("cmcli %q: %s", args, res)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		c.t.Fatalf("cmcli %q: output is not JSON: %v\n%s", args, err, res)
	}
	return out
}

// quiet runs cmcli, requires success and no output (configure when stdout is not
// a terminal).
func (c *cliRunner) quiet(args ...string) {
	c.t.Helper()
	if res := c.run(args...); res.code != 0 || res.stdout != "" {
		c.t.Fatalf("cmcli %q: %s", args, res)
	}
}

// fails runs cmcli and requires exit status code with wantStderr in stderr.
func (c *cliRunner) fails(code int, wantStderr string, args ...string) cliResult {
	c.t.Helper()
	res := c.run(args...)
	if res.code != code || !strings.Contains(res.stderr, wantStderr) {
		c.t.Fatalf("cmcli %q: want exit %d and stderr containing %q; got %s", args, code, wantStderr, res)
	}
	return res
}

// serverArgs are the connection flags for s.
func serverArgs(s *testServer, args ...string) []string {
	return append([]string{"--host", "127.0.0.1", "--port", fmt.Sprint(s.port)}, args...)
}

func canaryOf(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	c, ok := out["canary"].(map[string]any)
	if !ok {
		t.Fatalf("no canary in %v", out)
	}
	return c
}

// historyComments lists the comments of a canary's history, newest first.
func historyComments(t *testing.T, canary map[string]any) []string {
	t.Helper()
	events, _ := canary["history"].([]any)
	var out []string
	for _, e := range events {
		pair, _ := e.([]any)
		if len(pair) == 2 {
			out = append(out, fmt.Sprint(pair[1]))
		}
	}
	return out
}
