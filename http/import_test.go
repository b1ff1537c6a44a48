package http

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// exportFrom is a verbose list of a node's canaries, as an import body.
func exportFrom(t *testing.T, n *node) string {
	t.Helper()
	r := n.get(t, canaryPrefix+"list?verbose=1")
	expectStatus(t, r, http.StatusOK)
	return r.raw
}

func TestImportRecreatesCanariesExactly(t *testing.T) {
	src := newNode(t, nil)
	a := src.mustCreate(t, "name=Alpha&periodicity=3600&email=a@example.com&description=first")
	b := src.mustCreate(t, "name=beta&periodicity=60&paused=1")
	s := src.mustCreate(t, "name=sched&periodicity="+url.QueryEscape("* * * * mon-fri 90"))
	src.clock.Advance(1500 * time.Millisecond)
	src.get(t, "/"+a+"?comment=hello")
	body := exportFrom(t, src)

	dst := newNode(t, nil)
	r := dst.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(body))
	expectStatus(t, r, http.StatusOK)
	if created := r.body["created"].([]any); len(created) != 3 {
		t.Fatalf("import: %s", r.raw)
	}
	for _, id := range []string{a, b, s} {
		want := src.get(t, canaryPrefix+"get?id="+id).raw
		if got := dst.get(t, canaryPrefix+"get?id="+id).raw; got != want {
			t.Errorf("canary %s differs after import:\n%s\nwant\n%s", id, got, want)
		}
	}

	r = dst.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(body))
	expectStatus(t, r, http.StatusOK)
	if len(r.body["unchanged"].([]any)) != 3 || len(r.body["created"].([]any)) != 0 {
		t.Errorf("second import: %s", r.raw)
	}

	changed := strings.Replace(body, `"description": "first"`, `"description": "second"`, 1)
	r = dst.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(changed))
	conflicts := r.body["conflicts"].([]any)
	if len(conflicts) != 1 || conflicts[0].(map[string]any)["id"] != a {
		t.Errorf("conflicting import: %s", r.raw)
	}
	r = dst.do(t, http.MethodPost, canaryPrefix+"import?overwrite=True", strings.NewReader(changed))
	if updated := r.body["updated"].([]any); len(updated) != 1 || updated[0] != a {
		t.Errorf("overwriting import: %s", r.raw)
	}
	if c, _ := dst.fsm.Get(a); c.Description != "second" {
		t.Errorf("description %q after overwrite", c.Description)
	}
}

func TestImportAcceptsNaiveTimestamps(t *testing.T) {
	n := newNode(t, nil)
	body := `{"canaries": [{"id": "abcdefgh", "name": "old", "periodicity": 300, "emails": [],
		"late": true, "paused": false, "deadline": "2015-03-19T01:13:44.885182",
		"history": [["2015-03-19 01:08:44.885182", "Triggered"], ["2015-03-19T00:00:00", "Canary created"]]}]}`
	r := n.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(body))
	expectStatus(t, r, http.StatusOK)
	c := n.get(t, canaryPrefix+"get?id=abcdefgh").canary()
	if c["deadline"] != "2015-03-19T01:13:44.885182+00:00" || c["late"] != true || c["periodicity"] != 300.0 {
		t.Errorf("imported %v", c)
	}
	hist, _ := json.Marshal(c["history"])
	if string(hist) != `[["2015-03-19T01:08:44.885182+00:00","Triggered"],["2015-03-19T00:00:00+00:00","Canary created"]]` {
		t.Errorf("history %s", hist)
	}
}

func TestImportRejects(t *testing.T) {
	n := newNode(t, nil)
	for _, tt := range []struct {
		query, body string
		status      int
		msg         string
	}{
		{"", `{"canaries": [`, http.StatusBadRequest, "Bad import body: unexpected end of JSON input"},
		{"", `{}`, http.StatusBadRequest, `Bad import body: missing "canaries"`},
		{"", `[]`, http.StatusBadRequest, ""},
		{"", `{"canaries": [{"id": "abcdefgh", "deadline": "yesterday"}]}`, http.StatusBadRequest, `Bad import body: canary 0 ("abcdefgh"): deadline: bad timestamp "yesterday"`},
		{"", `{"canaries": [{"id": "abcdefgh", "history": [["2015-03-19T00:00:00"]]}]}`, http.StatusBadRequest, `Bad import body: canary 0 ("abcdefgh"): history entry 0 is not [timestamp, comment]`},
		{"", `{"canaries": [{"periodicity": {}}]}`, http.StatusBadRequest, ""},
		{"overwrite=maybe", `{"canaries": []}`, http.StatusBadRequest, `Bad boolean value "maybe" for parameter "overwrite"`},
		{"force=1", `{"canaries": []}`, http.StatusBadRequest, `Unexpected argument "force"`},
	} {
		r := n.do(t, http.MethodPost, canaryPrefix+"import?"+tt.query, strings.NewReader(tt.body))
		expectStatus(t, r, tt.status)
		if tt.msg != "" && r.str("error") != tt.msg {
			t.Errorf("%s: error %q, want %q", tt.body, r.str("error"), tt.msg)
		}
	}
	// Canaries Apply rejects are conflicts, the others are imported.
	r := n.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(
		`{"canaries": [{"id": "BAD", "name": "x", "periodicity": 60, "history": [["2015-03-19T00:00:00", "c"]]},
		 {"id": "tooshort", "name": "fast", "periodicity": 0.5, "history": [["2015-03-19T00:00:00", "c"]]},
		 {"id": "goodgood", "name": "good", "periodicity": 60, "history": [["2015-03-19T00:00:00", "c"]]}]}`))
	expectStatus(t, r, http.StatusOK)
	if len(r.body["conflicts"].([]any)) != 2 || len(r.body["created"].([]any)) != 1 {
		t.Errorf("mixed import: %s", r.raw)
	}
	if !strings.Contains(r.raw, `"periodicity must be at least 1 second, not 0.5 seconds"`) {
		t.Errorf("import below the periodicity floor: %s", r.raw)
	}
}

func TestImportBodyLimit(t *testing.T) {
	n := newNode(t, nil)
	big := io.MultiReader(strings.NewReader(`{"canaries": [], "pad": "`), &zeros{n: maxImportBody}, strings.NewReader(`"}`))
	r := n.do(t, http.MethodPost, canaryPrefix+"import", big)
	expectStatus(t, r, http.StatusRequestEntityTooLarge)
}

// zeros reads n bytes of '0'.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	for i := range p {
		p[i] = '0'
	}
	z.n -= int64(len(p))
	return len(p), nil
}

func TestImportThroughTheFollower(t *testing.T) {
	c := newCluster2(t)
	body := `{"canaries": [{"id": "fwdfwdfw", "name": "fwd", "periodicity": 60, "history": [["2015-03-19T00:00:00", "Canary created"]]}]}`
	r := c.follower.do(t, http.MethodPost, canaryPrefix+"import", strings.NewReader(body))
	expectStatus(t, r, http.StatusOK)
	if c.leaderHits.Load() != 0 || c.follower.proposer.calls.Load() != 1 {
		t.Error("the import did not go through the follower's write path")
	}
	if _, err := c.leader.fsm.Get("fwdfwdfw"); err != nil {
		t.Error("not imported on the leader")
	}
}
