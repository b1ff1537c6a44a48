package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// TestDebugAddrServesNoSecrets: --debug-addr serves profiles to who gives the auth key,
// but none of its endpoints shows the secrets the daemon was started with: /debug/pprof/cmdline (which showed the
// auth key and the SMTP password given as flags) answers 404, and every endpoint the
// index links to, each profile in text and in its binary form, a CPU profile and an
// execution trace, holds neither secret.
func TestDebugAddrServesNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	sink := startSink(t)
	const authKey, smtpPassword = "auth-key-7f3a9c21e0", "smtp-password-b84d16"
	d := newDaemon(t, buildBinary(t), sink.Addr())
	debugBase := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	d.args = append(d.args, "--auth-key", authKey, "--smtp-username", "mailer", "--smtp-password", smtpPassword,
		"--debug-addr", strings.TrimPrefix(debugBase, "http://"))
	d.authKey = authKey
	d.start()
	defer d.kill()
	d.mustCall("create", map[string][]string{"name": {"profiled"}, "periodicity": {"60"}})

	get := func(path string) (int, []byte) {
		t.Helper()
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		resp, err := http.Get(debugBase + path + sep + "auth_key=" + authKey)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if r, err := gzip.NewReader(bytes.NewReader(body)); err == nil { // binary profiles
			if plain, err := io.ReadAll(r); err == nil {
				body = plain
			}
		}
		return resp.StatusCode, body
	}

	status, index := get("/debug/pprof/")
	if status != http.StatusOK {
		t.Fatalf("index: %d %s", status, index)
	}
	if resp, err := http.Get(debugBase + "/debug/pprof/goroutine"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a profile without the auth key: %v %v, want 401", resp.StatusCode, err)
	}
	paths := []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol",
		"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"}
	for _, m := range regexp.MustCompile(`href=['"]([a-z]+)(\?[^'"]*)?['"]`).FindAllStringSubmatch(string(index), -1) {
		switch m[1] {
		case "cmdline", "symbol", "profile", "trace": // above; profile and trace for a second, not 30
		default:
			paths = append(paths, "/debug/pprof/"+m[1]+m[2], "/debug/pprof/"+m[1]) // text, and binary
		}
	}
	if len(paths) < 10 {
		t.Fatalf("the index links to too few profiles: %s", index)
	}
	for _, path := range paths {
		status, body := get(path)
		for _, secret := range []string{authKey, smtpPassword} {
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("GET %s (%d) shows the secret %q", path, status, secret)
			}
		}
		switch {
		case strings.HasPrefix(path, "/debug/pprof/cmdline"):
			if status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, status)
			}
		case status != http.StatusOK:
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
}
