package http

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

func TestCreateAnswersTheOriginalShape(t *testing.T) {
	n := newNode(t, nil)
	r := n.get(t, canaryPrefix+"create?name=My+Job&periodicity=3600.0&description=nightly&email=a@example.com&email=b@example.com")
	expectStatus(t, r, http.StatusOK)
	if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if !strings.HasPrefix(r.raw, "{\n    \"status\": \"ok\",\n    \"canary\": {\n        \"id\": ") || !strings.HasSuffix(r.raw, "}\n") {
		t.Errorf("not the original's layout:\n%s", r.raw)
	}
	if !strings.Contains(r.raw, `"periodicity": 3600.0,`) {
		t.Errorf("periodicity not shown as a float:\n%s", r.raw)
	}
	c := r.canary()
	id := c["id"].(string)
	if !fsm.ValidID(id) {
		t.Errorf("id %q", id)
	}
	want := map[string]any{
		"name": "My Job", "slug": "my-job", "description": "nightly", "late": false, "paused": false,
		"deadline": "2024-01-01T13:00:00.123456+00:00",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
	if emails := c["emails"].([]any); len(emails) != 2 || emails[0] != "a@example.com" || emails[1] != "b@example.com" {
		t.Errorf("emails %v", emails)
	}
	hist := c["history"].([]any)
	if len(hist) != 1 {
		t.Fatalf("history %v", hist)
	}
	if e := hist[0].([]any); e[0] != "2024-01-01T12:00:00.123456+00:00" || e[1] != "Canary created" {
		t.Errorf("history entry %v", e)
	}
	if _, ok := c["periodicity_schedule"]; ok {
		t.Error("periodicity_schedule for a number of seconds")
	}
}

func TestCreatePaused(t *testing.T) {
	n := newNode(t, nil)
	r := n.get(t, canaryPrefix+"create?name=p&periodicity=60&paused=True")
	expectStatus(t, r, http.StatusOK)
	c := r.canary()
	if c["paused"] != true {
		t.Errorf("paused = %v", c["paused"])
	}
	if _, ok := c["deadline"]; ok {
		t.Error("a paused canary has a deadline key")
	}
	if emails, ok := c["emails"].([]any); !ok || len(emails) != 0 {
		t.Errorf("emails %#v, want []", c["emails"])
	}
}

func TestCreateWithScheduleShowsItsPlayOut(t *testing.T) {
	n := newNode(t, nil)
	sched := "* * * * sat,sun 600; * * * * mon-fri 90"
	r := n.get(t, canaryPrefix+"create?name=sched&periodicity="+url.QueryEscape(sched))
	expectStatus(t, r, http.StatusOK)
	c := r.canary()
	if c["periodicity"] != sched {
		t.Errorf("periodicity %v", c["periodicity"])
	}
	windows, ok := c["periodicity_schedule"].([]any)
	if !ok || len(windows) == 0 {
		t.Fatalf("periodicity_schedule %v", c["periodicity_schedule"])
	}
	first := windows[0].([]any)
	if len(first) != 3 || first[0] != "2024-01-01T12:00:00+00:00" || first[2] != 90.0 {
		t.Errorf("first window %v", first)
	}
	if !strings.Contains(r.raw, "600.0\n") {
		t.Errorf("window seconds not shown as floats:\n%s", r.raw)
	}
	// A gap shows as "Inactive".
	r = n.get(t, canaryPrefix+"create?name=gappy&periodicity="+url.QueryEscape("* * * * mon-fri 90"))
	expectStatus(t, r, http.StatusOK)
	if !strings.Contains(r.raw, `"Inactive"`) {
		t.Errorf("no Inactive window:\n%s", r.raw)
	}
}

func TestCreateRejects(t *testing.T) {
	n := newNode(t, nil)
	n.mustCreate(t, "name=Taken&periodicity=60")
	tests := []struct {
		query string
		msg   string
	}{
		{"periodicity=60", `Missing argument "name"`},
		{"name=x", `Missing argument "periodicity"`},
		{"name=&periodicity=60", `Missing argument "name"`}, // blank values are dropped
		{"name=x&periodicity=60&paused=maybe", `Bad boolean value "maybe" for parameter "paused"`},
		{"name=x&periodicity=60&froodle=freedle", `Unexpected argument "froodle"`},
		{"name=x&periodicity=60&id=abcdefgh", `Unexpected argument "id"`},
		{"name=x&periodicity=0", "periodicity must be positive"},
		{"name=x&periodicity=0.0000001", "periodicity must be at least 1 second, not 1e-07 seconds"},
		{"name=x&periodicity=0.5", "periodicity must be at least 1 second, not 0.5 seconds"},
		{"name=x&periodicity=" + url.QueryEscape("* * * * * 0.001"), `periodicity must be at least 1 second: directive "* * * * * 0.001" allows 0.001 seconds`},
		{"name=x&periodicity=1.2.3", `periodicity "1.2.3" is not a number`},
		{"name=taken&periodicity=60", ""},
		{"name=x&periodicity=60&email=not-an-address", `invalid email address "not-an-address"`},
		{"name=%21%21&periodicity=60", "name must contain at least one letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := n.get(t, canaryPrefix+"create?"+tt.query)
			expectStatus(t, r, http.StatusBadRequest)
			if r.str("status") != "error" {
				t.Errorf("status %q", r.str("status"))
			}
			if tt.msg != "" && r.str("error") != tt.msg {
				t.Errorf("error %q, want %q", r.str("error"), tt.msg)
			}
		})
	}
	r := n.get(t, canaryPrefix+"create?name=TAKEN&periodicity=60")
	if msg := r.str("error"); !strings.HasPrefix(msg, "Canary taken already exists with identifier ") {
		t.Errorf("duplicate name error %q", msg)
	}
	r = n.get(t, canaryPrefix+"create?name=x&periodicity="+url.QueryEscape("* * * * * 60; * 0-11 * * * 90"))
	expectStatus(t, r, http.StatusBadRequest)
}

func TestBooleanSpellings(t *testing.T) {
	n := newNode(t, nil)
	for i, tt := range []struct {
		value  string
		paused bool
	}{
		{"true", true}, {"True", true}, {"TRUE", true}, {"yes", true}, {"YeS", true}, {"1", true},
		{"false", false}, {"False", false}, {"no", false}, {"NO", false}, {"0", false},
	} {
		r := n.get(t, canaryPrefix+"create?periodicity=60&name=b"+strings.Repeat("x", i)+"&paused="+tt.value)
		expectStatus(t, r, http.StatusOK)
		if r.canary()["paused"] != tt.paused {
			t.Errorf("paused=%s gave %v", tt.value, r.canary()["paused"])
		}
	}
	for _, bad := range []string{"maybe", "2", "t", "on"} {
		r := n.get(t, canaryPrefix+"list?late="+bad)
		expectError(t, r, http.StatusBadRequest, `Bad boolean value "`+bad+`" for parameter "late"`)
	}
}

func TestGetIdentifiesByIDSlugOrName(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=Find_Me+Please&periodicity=60")
	for _, q := range []string{
		"id=" + id, "slug=find-me-please", "name=Find_Me+Please", "name=FIND+me-please",
		"slug=nope&id=" + id, // id wins over slug
	} {
		r := n.get(t, canaryPrefix+"get?"+q)
		expectStatus(t, r, http.StatusOK)
		if r.canary()["id"] != id {
			t.Errorf("%s found %v", q, r.canary()["id"])
		}
	}
	for _, tt := range []struct {
		query  string
		status int
		msg    string
	}{
		{"", http.StatusBadRequest, "Must specify id, slug, or name"},
		{"id=", http.StatusBadRequest, "Must specify id, slug, or name"},
		{"id=zzzzzzzz", http.StatusNotFound, "Canary Not Found"},
		{"slug=nope", http.StatusNotFound, "Canary Not Found"},
		{"name=nope", http.StatusNotFound, "Canary Not Found"},
		{"id=" + id + "&verbose=1", http.StatusBadRequest, `Unexpected argument "verbose"`},
		{"id=" + id + "&consistent=perhaps", http.StatusBadRequest, `Bad boolean value "perhaps" for parameter "consistent"`},
	} {
		expectError(t, n.get(t, canaryPrefix+"get?"+tt.query), tt.status, tt.msg)
	}
}

func TestUpdate(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=upd&periodicity=12354&email=a@example.com")
	n.clock.Advance(time.Second)

	r := n.get(t, canaryPrefix+"update?id="+id+"&periodicity=12355&email=")
	expectStatus(t, r, http.StatusOK)
	c := r.canary()
	if c["periodicity"] != 12355.0 || len(c["emails"].([]any)) != 1 {
		t.Errorf("after periodicity update: %v", c)
	}

	r = n.get(t, canaryPrefix+"update?slug=upd&email=b@example.com&email=c@example.com&name=Renamed&description=d")
	expectStatus(t, r, http.StatusOK)
	c = r.canary()
	if c["name"] != "Renamed" || c["slug"] != "renamed" || c["description"] != "d" || len(c["emails"].([]any)) != 2 {
		t.Errorf("after update: %v", c)
	}

	r = n.get(t, canaryPrefix+"update?id="+id+"&email=-")
	expectStatus(t, r, http.StatusOK)
	if emails := r.canary()["emails"].([]any); len(emails) != 0 {
		t.Errorf("email=- left %v", emails)
	}

	for _, tt := range []struct {
		query  string
		status int
		msg    string
	}{
		{"id=" + id, http.StatusBadRequest, "No updates specified"},
		{"id=" + id + "&name=Renamed", http.StatusBadRequest, "No updates specified"},
		{"id=" + id + "&email=-", http.StatusBadRequest, "No updates specified"},
		{"name=upd", http.StatusBadRequest, "Must specify id or slug"},
		{"", http.StatusBadRequest, "Must specify id or slug"},
		{"id=zzzzzzzz&name=x", http.StatusNotFound, "Canary Not Found"},
		{"slug=nope&name=x", http.StatusNotFound, "Canary Not Found"},
		{"id=" + id + "&paused=1", http.StatusBadRequest, `Unexpected argument "paused"`},
		{"id=" + id + "&periodicity=-5", http.StatusBadRequest, `malformed periodicity: `},
		{"id=" + id + "&periodicity=0.5", http.StatusBadRequest, `periodicity must be at least 1 second, not 0.5 seconds`},
		{"id=" + id + "&periodicity=" + url.QueryEscape("* * * * sat,sun 60 ; * * * * mon-fri 0.001"), http.StatusBadRequest,
			`periodicity must be at least 1 second: directive "* * * * mon-fri 0.001" allows 0.001 seconds`},
	} {
		r := n.get(t, canaryPrefix+"update?"+tt.query)
		expectStatus(t, r, tt.status)
		if !strings.HasPrefix(r.str("error"), tt.msg) {
			t.Errorf("%s: error %q, want %q", tt.query, r.str("error"), tt.msg)
		}
	}
}

func TestDelete(t *testing.T) {
	n := newNode(t, nil)
	n.mustCreate(t, "name=test_handle_delete&periodicity=60")
	r := n.get(t, canaryPrefix+"delete?name=test_handle_delete")
	expectStatus(t, r, http.StatusOK)
	if r.raw != "{\n    \"status\": \"ok\"\n}\n" {
		t.Errorf("delete answer %q", r.raw)
	}
	expectError(t, n.get(t, canaryPrefix+"get?name=test_handle_delete"), http.StatusNotFound, "Canary Not Found")
	expectError(t, n.get(t, canaryPrefix+"delete?name=test_handle_delete"), http.StatusNotFound, "Canary Not Found")
	expectError(t, n.get(t, canaryPrefix+"delete"), http.StatusBadRequest, "Must specify id, slug, or name")
	expectError(t, n.get(t, canaryPrefix+"delete?id=abcdefgh&comment=x"), http.StatusBadRequest, `Unexpected argument "comment"`)
}

func TestTrigger(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=trig&periodicity=60")
	history := func() []any {
		return n.get(t, canaryPrefix+"get?id="+id).canary()["history"].([]any)
	}
	tests := []struct {
		name, method, target string
		body                 string
		comment              string
	}{
		{"v1 GET", http.MethodGet, canaryPrefix + "trigger?id=" + id, "", "Triggered"},
		{"v1 POST body ignored", http.MethodPost, canaryPrefix + "trigger?slug=trig&comment=c1", "comment=ignored", "Triggered (c1)"},
		{"m", http.MethodGet, canaryPrefix + "trigger?name=Trig&m=c2", "", "Triggered (c2)"},
		{"comment wins over m", http.MethodGet, canaryPrefix + "trigger?id=" + id + "&m=no&comment=c3", "", "Triggered (c3)"},
		{"short GET", http.MethodGet, "/" + id, "", "Triggered"},
		{"short GET comment", http.MethodGet, "/" + id + "?comment=test+comment", "", "Triggered (test comment)"},
		{"short POST", http.MethodPost, "/" + id + "?m=posted", "ignored body", "Triggered (posted)"},
		{"short id wins over query id", http.MethodGet, "/" + id + "?id=zzzzzzzz", "", "Triggered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.clock.Advance(time.Second)
			r := n.do(t, tt.method, tt.target, strings.NewReader(tt.body))
			expectStatus(t, r, http.StatusOK)
			if r.body["recovered"] != false || r.body["unpaused"] != false || r.str("status") != "ok" {
				t.Errorf("answer %s", r.raw)
			}
			if got := history()[0].([]any)[1]; got != tt.comment {
				t.Errorf("newest history %q, want %q", got, tt.comment)
			}
		})
	}
	expectError(t, n.get(t, "/zzzzzzzz"), http.StatusNotFound, "Canary Not Found")
	expectError(t, n.get(t, canaryPrefix+"trigger?name=test_not_found"), http.StatusNotFound, "Canary Not Found")
	expectError(t, n.get(t, canaryPrefix+"trigger"), http.StatusBadRequest, "Must specify id, slug, or name")
	expectError(t, n.get(t, "/"+id+"?x=1"), http.StatusBadRequest, `Unexpected argument "x"`)
}

func TestTriggerReportsRecoveredAndUnpaused(t *testing.T) {
	n := newNode(t, nil)
	late := n.mustCreate(t, "name=late&periodicity=60")
	c, _ := n.fsm.Get(late)
	res := n.fsm.ApplyCommands([]fsm.Command{{Type: fsm.TypeMarkLate, Version: fsm.CommandVersion,
		At: c.Deadline, MarkLate: &fsm.MarkLate{ID: late, Deadline: c.Deadline}}})
	if res[0].Err != nil || !res[0].Changed {
		t.Fatalf("mark late: %+v", res[0])
	}
	paused := n.mustCreate(t, "name=paused&periodicity=60&paused=yes")
	for _, tt := range []struct {
		id                  string
		recovered, unpaused bool
	}{{late, true, false}, {late, false, false}, {paused, false, true}, {paused, false, false}} {
		r := n.get(t, "/"+tt.id)
		expectStatus(t, r, http.StatusOK)
		if r.body["recovered"] != tt.recovered || r.body["unpaused"] != tt.unpaused {
			t.Errorf("trigger %s: %s", tt.id, r.raw)
		}
	}
}

func TestPauseAndUnpause(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=pz&periodicity=60")
	r := n.get(t, canaryPrefix+"pause?id="+id+"&comment=maintenance")
	expectStatus(t, r, http.StatusOK)
	c := r.canary()
	if c["paused"] != true || c["history"].([]any)[0].([]any)[1] != "Paused (maintenance)" {
		t.Errorf("pause: %s", r.raw)
	}
	if _, ok := c["deadline"]; ok {
		t.Error("paused canary has a deadline")
	}
	expectError(t, n.get(t, canaryPrefix+"pause?name=pz"), http.StatusBadRequest, "Canary is already paused")

	r = n.get(t, canaryPrefix+"unpause?slug=pz")
	expectStatus(t, r, http.StatusOK)
	if c := r.canary(); c["paused"] != false || c["deadline"] == nil || c["history"].([]any)[0].([]any)[1] != "Unpaused" {
		t.Errorf("unpause: %s", r.raw)
	}
	expectError(t, n.get(t, canaryPrefix+"unpause?id="+id), http.StatusBadRequest, "Canary is already unpaused")
	expectError(t, n.get(t, canaryPrefix+"pause?id=zzzzzzzz"), http.StatusNotFound, "Canary Not Found")
	expectError(t, n.get(t, canaryPrefix+"unpause?id="+id+"&m=x"), http.StatusBadRequest, `Unexpected argument "m"`)
	expectError(t, n.get(t, canaryPrefix+"pause"), http.StatusBadRequest, "Must specify id, slug, or name")

	sched := n.mustCreate(t, "name=sp&periodicity="+url.QueryEscape("* * * * * 60"))
	for _, cmd := range []string{"pause", "unpause"} {
		r := n.get(t, canaryPrefix+cmd+"?id="+sched)
		expectStatus(t, r, http.StatusOK)
		if _, ok := r.canary()["periodicity_schedule"]; !ok {
			t.Errorf("%s of a scheduled canary has no periodicity_schedule", cmd)
		}
	}
}

func TestList(t *testing.T) {
	n := newNode(t, nil)
	ids := map[string]string{}
	for _, q := range []string{
		"name=alpha&periodicity=60&email=ops@example.com",
		"name=beta&periodicity=60&paused=1",
		"name=gamma&periodicity=" + url.QueryEscape("* * * * * 60"),
		"name=delta&periodicity=60&email=dev@example.org",
	} {
		id := n.mustCreate(t, q)
		ids[strings.Split(strings.TrimPrefix(q, "name="), "&")[0]] = id
	}
	d, _ := n.fsm.Get(ids["delta"])
	n.fsm.ApplyCommands([]fsm.Command{{Type: fsm.TypeMarkLate, Version: fsm.CommandVersion,
		At: d.Deadline, MarkLate: &fsm.MarkLate{ID: d.ID, Deadline: d.Deadline}}})

	names := func(r response) []string {
		t.Helper()
		expectStatus(t, r, http.StatusOK)
		var out []string
		for _, c := range r.body["canaries"].([]any) {
			out = append(out, c.(map[string]any)["name"].(string))
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  int
		only  string
	}{
		{"", 4, ""},
		{"paused=true", 1, "beta"},
		{"paused=false", 3, ""},
		{"late=1", 1, "delta"},
		{"late=0&paused=0", 2, ""},
		{"search=^alpha$", 1, "alpha"},         // the name and the slug, never an id (8 letters)
		{"search=example%5C.org", 1, "delta"},  // e-mail address
		{"search=" + ids["gamma"], 1, "gamma"}, // id
		{"search=ALPHA", 0, ""},
		{"search=a", 4, ""},
		{"paused=", 4, ""}, // blank values are dropped
	} {
		got := names(n.get(t, canaryPrefix+"list?"+tt.query))
		if len(got) != tt.want || tt.only != "" && got[0] != tt.only {
			t.Errorf("list?%s = %v", tt.query, got)
		}
	}

	r := n.get(t, canaryPrefix+"list")
	for _, c := range r.body["canaries"].([]any) {
		if m := c.(map[string]any); len(m) != 2 || m["id"] == nil || m["name"] == nil {
			t.Errorf("non-verbose entry %v", m)
		}
	}
	r = n.get(t, canaryPrefix+"list?verbose=True&search=gamma")
	entry := r.body["canaries"].([]any)[0].(map[string]any)
	if entry["slug"] != "gamma" || entry["history"] == nil || entry["periodicity_schedule"] != nil {
		t.Errorf("verbose entry %v", entry)
	}

	expectError(t, n.get(t, canaryPrefix+"list?search=%28"), http.StatusBadRequest,
		"Bad search pattern \"(\": error parsing regexp: missing closing ): `(`")
	// The pattern's size is capped: 1,000 bytes pass, more are refused before compiling.
	expectStatus(t, n.get(t, canaryPrefix+"list?search="+strings.Repeat("a", maxSearchPattern)), http.StatusOK)
	expectError(t, n.get(t, canaryPrefix+"list?search="+strings.Repeat("a", maxSearchPattern+1)), http.StatusBadRequest,
		"Search pattern is 1001 bytes long: at most 1000 are allowed")
	expectError(t, n.get(t, canaryPrefix+"list?search="+strings.Repeat("a", 900<<10)), http.StatusBadRequest,
		"Search pattern is 921600 bytes long: at most 1000 are allowed")
	expectError(t, n.get(t, canaryPrefix+"list?name=x"), http.StatusBadRequest, `Unexpected argument "name"`)
	expectError(t, n.get(t, canaryPrefix+"list?verbose=perhaps"), http.StatusBadRequest, `Bad boolean value "perhaps" for parameter "verbose"`)
	for _, bad := range []string{"0", "-1", "x"} {
		expectStatus(t, n.get(t, canaryPrefix+"list?limit="+bad), http.StatusBadRequest)
	}
}

func TestListPages(t *testing.T) {
	n := newNode(t, nil)
	for i := range 5 {
		n.mustCreate(t, "periodicity=60&name=c"+strings.Repeat("x", i))
	}
	var all []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := n.get(t, canaryPrefix+"list?limit=2&after="+after)
		expectStatus(t, r, http.StatusOK)
		for _, c := range r.body["canaries"].([]any) {
			all = append(all, c.(map[string]any)["id"].(string))
		}
		next, more := r.body["next"].(string)
		if !more {
			break
		}
		if next != all[len(all)-1] {
			t.Errorf("next %q is not the last id of the page", next)
		}
		after = next
	}
	if len(all) != 5 {
		t.Fatalf("paged through %d canaries, want 5: %v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1] >= all[i] {
			t.Errorf("ids not ascending: %v", all)
		}
	}
	if r := n.get(t, canaryPrefix+"list?limit=5"); r.body["next"] != nil {
		t.Errorf("next on the last page: %s", r.raw)
	}
}

// TestLocalReadsWaitForTheNodesOwnWrites: a local read is served only once the node
// has applied the writes it acknowledged; when it cannot say so in time the read gets a
// 503 with Retry-After, never an answer that lacks the client's own write.
func TestLocalReadsWaitForTheNodesOwnWrites(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=Mine&periodicity=60")
	n.cluster.mu.Lock()
	n.cluster.ownWritesErr = context.DeadlineExceeded
	n.cluster.mu.Unlock()
	for _, q := range []string{"get?id=" + id, "list"} {
		r := n.get(t, canaryPrefix+q)
		expectError(t, r, http.StatusServiceUnavailable, "this node has not yet applied writes it acknowledged: retry shortly")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", q)
		}
	}
	n.cluster.mu.Lock()
	n.cluster.ownWritesErr = nil
	n.cluster.mu.Unlock()
	expectStatus(t, n.get(t, canaryPrefix+"get?id="+id), http.StatusOK)
}

// TestALocalNotFoundIsConfirmedWithTheLeader: a plain get that finds no canary asks the
// leader how far to apply before it answers 404, so a canary created through another
// node a moment ago is found; a get that finds its canary asks nobody.
func TestALocalNotFoundIsConfirmedWithTheLeader(t *testing.T) {
	n := newNode(t, nil)
	id := n.mustCreate(t, "name=Here&periodicity=60")
	expectStatus(t, n.get(t, canaryPrefix+"get?id="+id), http.StatusOK)
	if n.cluster.reads != 0 {
		t.Errorf("a get that found its canary made %d consistent reads", n.cluster.reads)
	}

	expectError(t, n.get(t, canaryPrefix+"get?id=zzzzzzzz"), http.StatusNotFound, "Canary Not Found")
	if n.cluster.reads != 1 {
		t.Errorf("a 404 went out after %d consistent reads, want 1", n.cluster.reads)
	}

	n.cluster.mu.Lock()
	n.cluster.catchUp = func() { n.mustCreate(t, "name=Elsewhere&periodicity=60") }
	n.cluster.mu.Unlock()
	r := n.get(t, canaryPrefix+"get?name=Elsewhere")
	expectStatus(t, r, http.StatusOK)
	if r.canary()["name"] != "Elsewhere" {
		t.Errorf("answered %v", r.raw)
	}
}

// TestLocalReadsWaitWhileTheNodeIsNotReady: a node that knows no leader or is behind
// it (a partition just healed, an election) does not answer a plain read from what may
// be an old state: the read waits until the node is ready again, or gets a 503 with
// Retry-After after the election wait.
func TestLocalReadsWaitWhileTheNodeIsNotReady(t *testing.T) {
	n := newNode(t, nil, withElectionWait(50*time.Millisecond))
	id := n.mustCreate(t, "name=Behind&periodicity=60")
	n.cluster.mu.Lock()
	n.cluster.ready = false
	n.cluster.mu.Unlock()
	for _, q := range []string{"get?id=" + id, "list"} {
		r := n.get(t, canaryPrefix+q)
		expectError(t, r, http.StatusServiceUnavailable, "this node knows no leader, or is behind it: retry shortly, or ask another node")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", q)
		}
	}
	// consistent=true asks the leader and does not need this node to be ready.
	expectStatus(t, n.get(t, canaryPrefix+"get?consistent=true&id="+id), http.StatusOK)

	n = newNode(t, n.fsm, withElectionWait(10*time.Second))
	n.cluster.ready = false
	done := make(chan response, 1)
	go func() { done <- n.get(t, canaryPrefix+"get?id="+id) }()
	time.AfterFunc(20*time.Millisecond, func() {
		n.cluster.mu.Lock()
		n.cluster.ready = true
		n.cluster.mu.Unlock()
	})
	r := <-done
	expectStatus(t, r, http.StatusOK)
}

// TestLocalReadsWaitUntilTheNodeHasCaughtUp: a node that has not caught up with the
// cluster since it started answers reads from what it replayed so far; rather than a
// wrong 404 or an empty list, a read waits for it (up to the election wait), then gets
// a 503 with Retry-After.
func TestLocalReadsWaitUntilTheNodeHasCaughtUp(t *testing.T) {
	n := newNode(t, nil, withElectionWait(50*time.Millisecond))
	id := n.mustCreate(t, "name=Replayed&periodicity=60")
	n.cluster.mu.Lock()
	n.cluster.caughtUp = make(chan struct{})
	n.cluster.mu.Unlock()

	for _, q := range []string{"get?id=" + id, "get?name=Replayed", "list", "list?verbose=1"} {
		r := n.get(t, canaryPrefix+q)
		expectError(t, r, http.StatusServiceUnavailable, "this node has not caught up with the cluster since it started: retry shortly")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", q)
		}
	}

	// A read that arrives while the node catches up is answered once it has.
	n = newNode(t, n.fsm, withElectionWait(10*time.Second))
	n.cluster.caughtUp = make(chan struct{})
	done := make(chan response, 1)
	go func() { done <- n.get(t, canaryPrefix+"get?id="+id) }()
	time.AfterFunc(20*time.Millisecond, func() { close(n.cluster.caughtUp) })
	r := <-done
	expectStatus(t, r, http.StatusOK)
	if r.canary()["id"] != id {
		t.Errorf("answered %v", r.raw)
	}
}
