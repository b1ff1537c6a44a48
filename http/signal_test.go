package http

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPingForms sends every ping form a Healthchecks client or a crontab line uses and
// checks the state and history a user then reads.
func TestPingForms(t *testing.T) {
	cases := []struct {
		method, path, body string
		status             int
		state, comment     string
		exit               any // last_exit_status, nil when absent
	}{
		{"GET", "/%s", "", 200, "up", "Triggered", nil},
		{"POST", "/%s?m=hello", "ignored body", 200, "up", "Triggered (hello)", nil},
		{"HEAD", "/%s/start", "", 200, "started", "Started", nil},
		{"GET", "/%s/fail", "", 200, "failed", "Failed", nil},
		{"GET", "/%s/0", "", 200, "up", "Triggered", 0.0},
		{"POST", "/ping/%s/3?comment=disk", "out of space", 200, "failed", "Failed (exit status 3) (disk)", 3.0},
		{"GET", "/ping/%s/log", "", 200, "failed", "Log", 3.0},
		{"POST", "/ping/%s", "all good", 200, "up", "Triggered", 0.0},
		{"GET", "/%s/256", "", 400, "", "", nil},
		{"GET", "/%s/-1", "", 400, "", "", nil},
		{"GET", "/%s/+3", "", 400, "", "", nil},
		{"GET", "/%s/start?state=fail", "", 400, "", "", nil},
		{"GET", canaryPrefix + "trigger?id=%s&state=start&rid=r1", "", 200, "started", "Started", 0.0},
		{"POST", canaryPrefix + "trigger?id=%s&exit_status=4&rid=r1", "x", 200, "failed", "Failed (exit status 4)", 4.0},
		{"GET", canaryPrefix + "trigger?id=%s&state=success&exit_status=4", "", 400, "", "", nil},
		{"GET", canaryPrefix + "trigger?id=%s&state=log&exit_status=0", "", 400, "", "", nil},
		{"GET", canaryPrefix + "trigger?id=%s&state=bogus", "", 400, "", "", nil},
	}
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=job&periodicity=3600")
	for _, tc := range cases {
		path := strings.Replace(tc.path, "%s", id, 1)
		var body *strings.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		var r response
		if body != nil {
			r = n.do(t, tc.method, path, body)
		} else {
			r = n.do(t, tc.method, path, nil)
		}
		if r.status != tc.status {
			t.Fatalf("%s %s: %d %s, want %d", tc.method, path, r.status, r.raw, tc.status)
		}
		if tc.status != 200 {
			if tc.method != "HEAD" && r.str("status") != "error" {
				t.Fatalf("%s %s: %s", tc.method, path, r.raw)
			}
			continue
		}
		if tc.method != "HEAD" && !strings.HasPrefix(r.raw, "{\n    \"status\": \"ok\",\n    \"recovered\": ") {
			t.Fatalf("%s %s: not the trigger answer: %s", tc.method, path, r.raw)
		}
		c := n.get(t, canaryPrefix+"get?id="+id).canary()
		history := c["history"].([]any)
		if got := history[0].([]any)[1]; c["state"] != tc.state || got != tc.comment || c["last_exit_status"] != tc.exit {
			t.Fatalf("%s %s: state %v, comment %q, exit %v; want %s, %q, %v", tc.method, path, c["state"], got, c["last_exit_status"], tc.state, tc.comment, tc.exit)
		}
		if (tc.state == "failed") != (c["late"] == true) {
			t.Fatalf("%s %s: late %v in state %s", tc.method, path, c["late"], tc.state)
		}
	}

	runs := n.get(t, canaryPrefix+"runs?id="+id)
	expectStatus(t, runs, http.StatusOK)
	list := runs.body["runs"].([]any)
	// Newest first: the run r1 (started last) comes before the success with output.
	if first, second := list[0].(map[string]any), list[1].(map[string]any); first["rid"] != "r1" ||
		second["state"] != "success" || second["output"] != "all good" || second["exit_status"] != 0.0 {
		t.Fatalf("runs = %s", runs.raw)
	}
	var paired map[string]any
	for _, r := range list {
		if m := r.(map[string]any); m["rid"] == "r1" {
			paired = m
		}
	}
	if paired == nil || paired["duration"] == nil || paired["exit_status"] != 4.0 || paired["output"] != "x" || paired["started"] == nil {
		t.Fatalf("run r1 = %v in %s", paired, runs.raw)
	}
	for _, r := range list {
		if m := r.(map[string]any); m["output"] == "ignored body" {
			t.Fatal("a bare /<id> kept its POST body")
		}
	}
}

func TestPingOutputIsCut(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=job&periodicity=3600")
	r := n.do(t, "POST", "/ping/"+id+"/log", strings.NewReader(strings.Repeat("a", 50000)))
	expectStatus(t, r, http.StatusOK)
	out := n.get(t, canaryPrefix+"runs?id="+id).body["runs"].([]any)[0].(map[string]any)["output"].(string)
	if len(out) > 10100 || !strings.HasSuffix(out, "[output cut at 10000 bytes]") {
		t.Fatalf("output is %d bytes, ends %q", len(out), out[len(out)-40:])
	}
}

func TestRunsNeedsTheKeyLikeGet(t *testing.T) {
	n := newNode(t, nil, withAuth("k"))
	id := n.mustCreate(t, "name=job&periodicity=3600&auth_key=k")
	expectStatus(t, n.get(t, canaryPrefix+"runs?id="+id), http.StatusUnauthorized)
	expectStatus(t, n.get(t, canaryPrefix+"runs?id="+id+"&auth_key=k"), http.StatusOK)
	expectStatus(t, n.get(t, canaryPrefix+"runs?id=zzzzzzzz&auth_key=k"), http.StatusNotFound)
	// Pings never need it.
	expectStatus(t, n.get(t, "/ping/"+id+"/start"), http.StatusOK)
}

func TestSettingsOnCreateAndUpdate(t *testing.T) {
	n := newNode(t, nil)
	r := n.get(t, canaryPrefix+"create?name=tokyo&cron=0%092+*+*++*&tz=Asia/Tokyo&grace=600&max_runtime=3600")
	expectStatus(t, r, http.StatusOK)
	c := r.canary()
	// testStart is 2024-01-01 12:00 UTC, 21:00 in Tokyo: the next 02:00 there is 17:00 UTC.
	if c["deadline"] != "2024-01-01T17:10:00+00:00" || c["periodicity"] != nil || c["cron"] != "0 2 * * *" ||
		c["tz"] != "Asia/Tokyo" || c["grace"] != 600.0 || c["max_runtime"] != 3600.0 || c["state"] != "up" {
		t.Fatalf("cron canary = %v", c)
	}
	id := c["id"].(string)
	r = n.get(t, canaryPrefix+"update?id="+id+"&periodicity=60&grace=0")
	expectStatus(t, r, http.StatusOK)
	if c := r.canary(); c["cron"] != nil || c["periodicity"] != 60.0 || c["grace"] != nil {
		t.Fatalf("updated = %v", c)
	}
	for _, bad := range []string{
		"create?name=a&cron=0+2+*+*+*&periodicity=60",
		"create?name=a&periodicity=60&grace=-1",
		"create?name=a&periodicity=60&grace=abc",
		"create?name=a&periodicity=60&grace=1_0",
		"create?name=a&periodicity=60&max_runtime=NaN",
		"create?name=a&periodicity=60&tz=Mars/Olympus",
		"create?name=a&cron=61+*+*+*+*",
		"create?name=a&cron=",
		"create?name=a",
		"update?id=" + id + "&cron=",
	} {
		r := n.get(t, canaryPrefix+bad)
		if r.status != http.StatusBadRequest || r.str("status") != "error" {
			t.Errorf("%s: %d %s", bad, r.status, r.raw)
		}
	}
	// Without the new parameters the answer has none of the new keys but state.
	plain := n.get(t, canaryPrefix+"create?name=plain&periodicity=60").canary()
	for _, key := range []string{"cron", "tz", "grace", "max_runtime", "started", "last_duration", "last_exit_status", "paused_until"} {
		if _, ok := plain[key]; ok {
			t.Errorf("a plain canary shows %s", key)
		}
	}
}

func TestTimedPauseParameters(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=job&periodicity=3600")
	r := n.get(t, canaryPrefix+"pause?id="+id+"&for=90")
	expectStatus(t, r, http.StatusOK)
	want := testStart.Add(90 * time.Second)
	if c := r.canary(); c["paused_until"] != isoTime(want) || c["state"] != "paused" {
		t.Fatalf("paused = %v", c)
	}
	expectStatus(t, n.get(t, canaryPrefix+"unpause?id="+id), http.StatusOK)
	r = n.get(t, canaryPrefix+"pause?id="+id+"&until=2024-01-02T08:00:00Z")
	expectStatus(t, r, http.StatusOK)
	if c := r.canary(); c["paused_until"] != "2024-01-02T08:00:00+00:00" {
		t.Fatalf("paused = %v", c)
	}
	expectStatus(t, n.get(t, canaryPrefix+"unpause?id="+id), http.StatusOK)
	for _, bad := range []string{"for=0", "for=x", "until=yesterday", "until=2020-01-01T00:00:00Z", "for=5&until=2030-01-01T00:00:00Z"} {
		r := n.get(t, canaryPrefix+"pause?id="+id+"&"+bad)
		if r.status != http.StatusBadRequest {
			t.Errorf("pause %s: %d %s", bad, r.status, r.raw)
		}
	}
	expectStatus(t, n.get(t, canaryPrefix+"unpause?id="+id+"&for=5"), http.StatusBadRequest)
}

// TestScheduleInAZone: a schedule's directives are read in the canary's zone, in its
// deadline and in its periodicity_schedule.
func TestScheduleInAZone(t *testing.T) {
	n := newNode(t, nil)
	// testStart is 12:00 UTC, 13:00 in Berlin: the 9-23 directive (600 s) is active
	// through 23:59 Berlin, 22:59 UTC.
	r := n.get(t, canaryPrefix+"create?name=berlin&tz=Europe/Berlin&periodicity="+
		"*+0-8+*+*+*+3600;+*+9-23+*+*+*+600")
	expectStatus(t, r, http.StatusOK)
	c := r.canary()
	windows := c["periodicity_schedule"].([]any)
	first := windows[0].([]any)
	if c["deadline"] != "2024-01-01T12:10:00.123456+00:00" || first[1] != "2024-01-01T22:59:00+00:00" || first[2] != 600.0 {
		t.Fatalf("deadline %v, first window %v", c["deadline"], first)
	}
}
