package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// webSession is a browser-like client of one node's web interface: cookies kept,
// redirects not followed.
type webSession struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newWebSession(t *testing.T, d *daemon) *webSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &webSession{t: t, base: d.base, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var formToken = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (w *webSession) get(path string) (int, string) {
	w.t.Helper()
	resp, err := w.client.Get(w.base + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post submits a form found on formPage, with that page's token; it returns the status
// and where it redirects.
func (w *webSession) post(formPage, action string, form url.Values) (int, string) {
	w.t.Helper()
	_, page := w.get(formPage)
	m := formToken.FindStringSubmatch(page)
	if m == nil {
		w.t.Fatalf("no form token on %s", formPage)
	}
	form.Set("csrf", m[1])
	resp, err := w.client.PostForm(w.base+action, form)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func (w *webSession) login(key string) {
	w.t.Helper()
	if code, _ := w.post("/ui/login", "/ui/login", url.Values{"key": {key}}); code != http.StatusSeeOther {
		w.t.Fatalf("login on %s: %d", w.base, code)
	}
}

// TestWebFormsOnAFollowerCommitThroughTheLeader: any node serves the interface, and a
// form sent to a follower takes the one write path to the leader.
func TestWebFormsOnAFollowerCommitThroughTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three real nodes")
	}
	sink := startSink(t)
	c := startCluster(t, buildBinary(t), sink.Addr(), 3)
	leader := c.leader(30 * time.Second)
	follower := c.followers(leader)[0]

	w := newWebSession(t, follower)
	w.login(follower.authKey)
	code, location := w.post("/ui/new", "/ui/new", url.Values{"name": {"made on a follower"}, "periodicity": {"3600"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(location, "/ui/canary/") {
		t.Fatalf("create on the follower: %d to %q", code, location)
	}
	id := strings.TrimPrefix(strings.Split(location, "?")[0], "/ui/canary/")

	// The leader's own interface shows it, from its own state.
	l := newWebSession(t, leader)
	l.login(leader.authKey)
	if code, page := l.get("/ui/canary/" + id); code != http.StatusOK || !strings.Contains(page, "made on a follower") {
		t.Fatalf("the leader's page of %s: %d", id, code)
	}
	// A trigger from the follower's page is on the leader too.
	if code, _ := w.post("/ui/canary/"+id, "/ui/canary/"+id+"/trigger", url.Values{"comment": {"pressed on a follower"}}); code != http.StatusSeeOther {
		t.Fatalf("trigger on the follower: %d", code)
	}
	code, body := leader.call("get", url.Values{"id": {id}})
	if history := fmt.Sprint(body["canary"]); code != http.StatusOK || !strings.Contains(history, "Triggered (pressed on a follower)") {
		t.Errorf("the leader's canary after a trigger on the follower's page: %d %s", code, history)
	}
}
