package main

// These tests run the real coal-mine binary: build it, start it on loopback ports, drive
// it over HTTP, receive its mail in an SMTP sink, kill it with SIGKILL and start it again.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// buildBinary compiles cmd/coal-mine once per test binary run.
// startSink starts an SMTP sink on loopback for the test; it closes after the test's
// processes have stopped.
func startSink(t *testing.T) *smtpsink.Sink {
	t.Helper()
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "coal-mine")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build coal-mine: %v\n%s", err, out)
	}
	return bin
}

// daemon is one running coal-mine process.
type daemon struct {
	t       *testing.T
	bin     string
	args    []string
	env     []string
	cmd     *exec.Cmd
	base    string
	authKey string
	log     *testkit.Buffer
	client  *http.Client // nil: http.DefaultClient (HTTPS tests give one that trusts their CA)
}

func (d *daemon) http() *http.Client {
	if d.client != nil {
		return d.client
	}
	return http.DefaultClient
}

func (d *daemon) start() {
	d.t.Helper()
	d.launch()
	d.waitReady()
}

// launch starts the process without waiting for it to be ready.
func (d *daemon) launch() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Env = append(os.Environ(), d.env...)
	d.log = &testkit.Buffer{}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.Dir = d.t.TempDir() // no coal-mine.ini of the developer's is picked up
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	// A process the test has not stopped is killed when it ends: left running, it would
	// go on taking CPU and ports from every later test and step.
	cmd := d.cmd
	d.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
}

func (d *daemon) waitReady() {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.http().Get(d.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("coal-mine did not become ready; log:\n%s", d.log)
}

func (d *daemon) kill() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_ = d.cmd.Wait()
}

// call runs a canary API command and decodes the JSON answer.
func (d *daemon) call(command string, params url.Values) (int, map[string]any) {
	d.t.Helper()
	return d.callAPI("canary/"+command, params)
}

// callAPI runs a v1 API command ("canary/get", "channel/create", ...), with the key
// unless it is a trigger, and decodes the JSON answer.
func (d *daemon) callAPI(command string, params url.Values) (int, map[string]any) {
	d.t.Helper()
	if d.authKey != "" && command != "canary/trigger" && !params.Has("auth_key") {
		params.Set("auth_key", d.authKey)
	}
	resp, err := d.http().Get(d.base + "/coal-mine/v1/" + command + "?" + params.Encode())
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		d.t.Fatalf("%s: not JSON: %s", command, body)
	}
	return resp.StatusCode, out
}

func (d *daemon) mustCall(command string, params url.Values) map[string]any {
	d.t.Helper()
	return d.mustCallAPI("canary/"+command, params)
}

func (d *daemon) mustCallAPI(command string, params url.Values) map[string]any {
	d.t.Helper()
	code, out := d.callAPI(command, params)
	if code != http.StatusOK || out["status"] != "ok" {
		d.t.Fatalf("%s %v: %d %v", command, params, code, out)
	}
	return out
}

func newDaemon(t *testing.T, bin string, sinkAddr string) *daemon {
	port := testkit.FreePort(t)
	d := &daemon{
		t:       t,
		bin:     bin,
		authKey: "s3cret",
		base:    fmt.Sprintf("http://127.0.0.1:%d", port),
		args: []string{
			"--port", fmt.Sprint(port),
			"--data-dir", t.TempDir(),
			"--raft-addr", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		},
	}
	host, sinkPort, _ := net.SplitHostPort(sinkAddr)
	d.env = []string{"WSGI_AUTH_KEY=s3cret", "EMAIL_SENDER=coal-mine@example.org", "SMTP_HOST=" + host, "SMTP_PORT=" + sinkPort}
	return d
}

func TestDaemonEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	sink := startSink(t)
	d := newDaemon(t, buildBinary(t), sink.Addr())
	d.start()
	defer d.kill()

	// Auth: everything but trigger needs the key.
	if code, _ := d.call("list", url.Values{"auth_key": {"wrong"}}); code != http.StatusUnauthorized {
		t.Fatalf("list with a wrong key: %d", code)
	}

	// A canary that is due in one second goes late and mails LATE; a trigger mails RESUMED.
	created := d.mustCall("create", url.Values{"name": {"Nightly Bäckup"}, "periodicity": {"1.0"}, "email": {"ops@example.org"}})
	canary := created["canary"].(map[string]any)
	id := canary["id"].(string)
	if canary["periodicity"] != 1.0 || canary["slug"] != "nightly-bäckup" {
		t.Fatalf("created canary = %v", canary)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := sink.WaitFor(ctx, 1); err != nil {
		t.Fatalf("no LATE mail: %v\n%s", err, d.log)
	}
	got := d.mustCall("get", url.Values{"id": {id}})["canary"].(map[string]any)
	if got["late"] != true {
		t.Fatalf("canary not late after its deadline: %v", got)
	}
	trig := d.mustCall("trigger", url.Values{"id": {id}, "comment": {"back"}})
	if trig["recovered"] != true {
		t.Fatalf("trigger of a late canary = %v", trig)
	}
	if err := sink.WaitFor(ctx, 2); err != nil {
		t.Fatalf("no RESUMED mail: %v", err)
	}
	msgs := sink.Messages()
	if msgs[0].Subject != "[LATE] Nightly Bäckup has not reported" || msgs[1].Subject != "[RESUMED] Nightly Bäckup is reporting again" {
		t.Fatalf("subjects = %q, %q", msgs[0].Subject, msgs[1].Subject)
	}
	// Keep it from going late again while the rest of the test runs.
	d.mustCall("update", url.Values{"id": {id}, "periodicity": {"3600"}})

	// More state to survive the crash: a paused canary, a schedule, triggers by short URL.
	d.mustCall("create", url.Values{"name": {"Paused job"}, "periodicity": {"60"}, "paused": {"True"}})
	sched := d.mustCall("create", url.Values{"name": {"Weekdays"}, "periodicity": {"* * * * mon-fri 600; * * * * sat,sun 3600"}})
	schedID := sched["canary"].(map[string]any)["id"].(string)
	if _, ok := sched["canary"].(map[string]any)["periodicity_schedule"]; !ok {
		t.Fatalf("schedule canary lacks periodicity_schedule: %v", sched)
	}
	for i := 0; i < 5; i++ {
		resp, err := http.Post(d.base+"/"+schedID+"?comment=run"+fmt.Sprint(i), "text/plain", strings.NewReader("ignored"))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("short trigger: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	before := d.mustCall("list", url.Values{"verbose": {"1"}})

	d.kill()
	d.start()
	after := d.mustCall("list", url.Values{"verbose": {"1"}})
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed across SIGKILL and restart\nbefore: %v\nafter:  %v", before, after)
	}

	// SIGTERM shuts down cleanly.
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, d.log)
		}
	case <-time.After(exitLimit):
		t.Fatalf("no exit %v after SIGTERM", exitLimit)
	}
	if strings.Contains(d.log.String(), "s3cret") {
		t.Fatal("the auth key appears in the log")
	}
}
