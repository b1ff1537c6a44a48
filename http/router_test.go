package http

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUnknownPathsAre404BeforeAuth(t *testing.T) {
	for _, key := range []string{"", "sekrit"} {
		n := newNode(t, nil, withAuth(key))
		for _, path := range []string{
			"/", "/froodle", "/abcdefg", "/abcdefghi", "/ABCDEFGH", "/abcdefgh/", "/abcd1234",
			canaryPrefix + "froodle", canaryPrefix + "get/", canaryPrefix, "/coal-mine/v1/canary",
			"/coal-mine", clusterPrefix + "nope", "/healthz/x",
		} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				expectError(t, n.do(t, method, path, nil), http.StatusNotFound, "404 Not Found")
			}
		}
	}
}

func TestUnsupportedMethodsAre405(t *testing.T) {
	n := newNode(t, nil)
	for _, tt := range []struct{ method, path string }{
		{http.MethodPut, canaryPrefix + "create"},
		{http.MethodDelete, canaryPrefix + "delete"},
		{http.MethodPatch, "/abcdefgh"},
		{http.MethodGet, canaryPrefix + "import"},
		{http.MethodDelete, "/healthz"},
		{http.MethodPut, clusterPrefix + "snapshot"},
	} {
		r := n.do(t, tt.method, tt.path, nil)
		expectError(t, r, http.StatusMethodNotAllowed, "405 Method Not Allowed")
		if r.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
	r := n.do(t, "FROB", canaryPrefix+"get", nil)
	if r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
		t.Errorf("unknown method: %d", r.status)
	}
}

func TestAuth(t *testing.T) {
	n := newNode(t, nil, withAuth("good_key"))
	id := n.mustCreate(t, "name=authed&periodicity=60&auth_key=good_key")
	needKey := []string{
		canaryPrefix + "create?name=x&periodicity=60",
		canaryPrefix + "delete?id=" + id,
		canaryPrefix + "update?id=" + id + "&description=x",
		canaryPrefix + "get?id=" + id,
		canaryPrefix + "list",
		canaryPrefix + "pause?id=" + id,
		canaryPrefix + "unpause?id=" + id,
		clusterPrefix + "status",
		clusterPrefix + "remove-peer?id=n2",
		clusterPrefix + "transfer-leader",
		clusterPrefix + "snapshot",
	}
	for _, target := range needKey {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		for _, key := range []string{"", sep + "auth_key=bad_key", sep + "auth_key=", sep + "auth_key=good_keyx", sep + "AUTH_KEY=good_key"} {
			expectError(t, n.get(t, target+key), http.StatusUnauthorized, "401 Unauthorized")
		}
		if r := n.get(t, target+sep+"auth_key=good_key"); r.status == http.StatusUnauthorized {
			t.Errorf("%s with the key: 401", target)
		}
	}
	expectError(t, n.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(`{"canaries":[]}`)), http.StatusUnauthorized, "401 Unauthorized")
	expectError(t, n.do(t, http.MethodPost, clusterPrefix+"snapshot", strings.NewReader("x")), http.StatusUnauthorized, "401 Unauthorized")

	// The first auth_key counts, as in the original.
	expectStatus(t, n.get(t, canaryPrefix+"list?auth_key=good_key&auth_key=bad"), http.StatusOK)
	expectStatus(t, n.get(t, canaryPrefix+"list?auth_key=bad&auth_key=good_key"), http.StatusUnauthorized)

	// Trigger needs no key, and one given is not an unexpected argument.
	id = n.mustCreate(t, "name=trigger-me&periodicity=60&auth_key=good_key")
	for _, target := range []string{"/" + id, "/" + id + "?auth_key=whatever", canaryPrefix + "trigger?id=" + id} {
		expectStatus(t, n.get(t, target), http.StatusOK)
	}
	// Probes and metrics are open.
	for _, target := range []string{"/healthz", "/readyz", "/metrics"} {
		expectStatus(t, n.get(t, target), http.StatusOK)
	}
}

func TestNoAuthKeyIgnoresOne(t *testing.T) {
	n := newNode(t, nil)
	r := n.get(t, canaryPrefix+"create?name=test_auth&periodicity=12347&auth_key=anything")
	expectStatus(t, r, http.StatusOK)
	expectStatus(t, n.get(t, canaryPrefix+"list?auth_key=x"), http.StatusOK)
}

func TestHealthAndReadiness(t *testing.T) {
	n := newNode(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		r := n.get(t, path)
		expectStatus(t, r, http.StatusOK)
		if r.str("status") != "ok" {
			t.Errorf("%s: %s", path, r.raw)
		}
		expectStatus(t, n.do(t, http.MethodHead, path, nil), http.StatusOK)
	}
	n.cluster.mu.Lock()
	n.cluster.ready = false
	n.cluster.mu.Unlock()
	r := n.get(t, "/readyz")
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.str("status") != "error" {
		t.Errorf("readyz: %s", r.raw)
	}
	expectStatus(t, n.get(t, "/healthz"), http.StatusOK)
}

func TestOddInputNeverBreaksTheServer(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=odd&periodicity=60")
	huge := strings.Repeat("x", 512<<10)
	tests := []struct {
		target string
		status int
		msg    string
	}{
		{canaryPrefix + "create?name=" + huge + "&periodicity=60", http.StatusBadRequest, "name must be at most 1024 bytes"},
		{canaryPrefix + "create?name=%ff%fe&periodicity=60", http.StatusBadRequest, "name must contain at least one letter or digit"},
		{canaryPrefix + "create?name=%zz&periodicity=60", http.StatusOK, ""},
		{canaryPrefix + "create?name=a&name=b&name=Last&periodicity=60&periodicity=61", http.StatusOK, ""},
		{canaryPrefix + "get?&&&id=" + id + "&&", http.StatusOK, ""},
		{canaryPrefix + "get?id=" + id + "&novalue", http.StatusOK, ""},
		{canaryPrefix + "get?id=" + id + "&=x", http.StatusBadRequest, `Unexpected argument ""`},
		{canaryPrefix + "get?id=" + id + "&" + huge + "=1", http.StatusBadRequest, ""},
		{canaryPrefix + "get?id=%00%01", http.StatusNotFound, "Canary Not Found"},
		{canaryPrefix + "trigger?id=" + id + "&comment=" + strings.Repeat("c", 5000), http.StatusBadRequest, "comment must be at most 4096 bytes"},
		{canaryPrefix + "trigger?id=" + id + "&comment=%c3%28", http.StatusOK, ""},
		{canaryPrefix + "list?search=" + strings.Repeat("(a*)*", maxSearchPattern/5), http.StatusOK, ""}, // no catastrophic backtracking
		{canaryPrefix + "list?search=" + strings.Repeat("(a*)*", 1000), http.StatusBadRequest, "Search pattern is 5000 bytes long: at most 1000 are allowed"},
		{canaryPrefix + "list?limit=99999999999999999999999", http.StatusBadRequest, ""},
		{canaryPrefix + "update?id=" + id + "&periodicity=" + strings.Repeat("9", 400), http.StatusBadRequest, ""},
		{canaryPrefix + "update?id=" + id + "&periodicity=" + strings.Repeat("*+", 1000), http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		r := n.get(t, tt.target)
		if r.status != tt.status || tt.msg != "" && r.str("error") != tt.msg {
			t.Errorf("%.80s: %d %.200s", tt.target, r.status, r.raw)
		}
	}
	c, err := n.fsm.Get(n.mustCreate(t, "name=x&name=repeated&periodicity=60"))
	if err != nil || c.Name != "repeated" {
		t.Errorf("repeated name: the last value must win, got %+v", c)
	}
	r := n.get(t, canaryPrefix+"get?slug=nothing-here")
	if !strings.Contains(r.raw, "\n") || r.status != http.StatusNotFound {
		t.Errorf("%d %s", r.status, r.raw)
	}
}

func TestServerLimitsHugeRequestLines(t *testing.T) {
	n := newNode(t, nil)
	srv := httptest.NewUnstartedServer(n.handler)
	srv.Config = NewServer("", n.handler)
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + canaryPrefix + "get?name=" + strings.Repeat("y", 2<<20))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2 MiB query: %d", resp.StatusCode)
	}
	// A trigger by POST with a body larger than anything the API reads still works.
	r := send(t, http.MethodPost, srv.URL+"/"+n.mustCreate(t, "name=big&periodicity=60"), bytes.NewReader(make([]byte, 3<<20)), nil)
	expectStatus(t, r, http.StatusOK)
}

func TestNewServerSetsTimeouts(t *testing.T) {
	s := NewServer(":0", http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("unbounded server: %+v", s)
	}
}

func TestAccessLogNeverShowsTheKey(t *testing.T) {
	n := newNode(t, nil, withAuth("s3cr3tkey"))
	for _, q := range []string{"auth_key=s3cr3tkey", "auth%5Fkey=s3cr3tkey", "auth_key=s3cr3tkey&auth_key=s3cr3tkey2", "x=1&auth_key=s3cr3tkey&y=2"} {
		n.get(t, canaryPrefix+"list?"+q)
	}
	logs := n.logText()
	if strings.Contains(logs, "s3cr3tkey") {
		t.Errorf("key in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "http request") || !strings.Contains(logs, "REDACTED") {
		t.Errorf("no access log:\n%s", logs)
	}
}

func TestMetrics(t *testing.T) {
	n := newNode(t, nil, withAuth("metrics-key"))
	id := n.mustCreate(t, "name=Secret+Project&periodicity=60&auth_key=metrics-key")
	n.get(t, "/"+id)
	n.get(t, "/no/where/at-all")
	r := n.get(t, "/metrics")
	expectStatus(t, r, http.StatusOK)
	body := r.raw
	for _, want := range []string{
		`coal_mine_http_requests_total{code="200",endpoint="/coal-mine/v1/canary/create"} 1`,
		`coal_mine_http_requests_total{code="200",endpoint="/<id>"} 1`,
		`coal_mine_http_requests_total{code="404",endpoint="unmatched"} 1`,
		`coal_mine_http_request_duration_seconds_bucket{endpoint="/<id>"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, secret := range []string{id, "Secret", "secret-project", "metrics-key"} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics show %q", secret)
		}
	}
}

func TestRecoverTurnsAPanicInto500(t *testing.T) {
	n := newNode(t, nil)
	n.proposer.fsm = nil // ApplyCommands on a nil FSM panics
	r := n.get(t, canaryPrefix+"create?name=boom&periodicity=60")
	expectError(t, r, http.StatusInternalServerError, "500 Internal Server Error")
	if !strings.Contains(n.logText(), "panic in HTTP handler") {
		t.Error("panic not logged")
	}
	expectStatus(t, n.get(t, "/healthz"), http.StatusOK)
}

// TestAccessLogHidesChannelSecrets: a channel's URL, headers, routing key and body
// template are secrets: the debug access log shows none of them.
func TestAccessLogHidesChannelSecrets(t *testing.T) {
	n := newNode(t, nil, withAuth("k"))
	n.get(t, channelPrefix+"create?auth_key=k&name=s&kind=webhook&url=http://h/SECRETPATH?token%3DSECRETTOKEN&header=Authorization:+Bearer+SECRETHEADER&body=SECRETBODY&routing_key=SECRETKEY")
	if logs := n.logText(); strings.Contains(logs, "SECRET") || !strings.Contains(logs, "url=REDACTED") {
		t.Fatalf("access log:\n%s", logs)
	}
}
