package http

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// browser is a client of the web interface with its own cookies.
type browser struct {
	t       *testing.T
	handler http.Handler
	cookies map[string]*http.Cookie
	origin  string // the Origin header its forms send, if any
}

func newBrowser(t *testing.T, n *node) *browser {
	return &browser{t: t, handler: n.handler, cookies: map[string]*http.Cookie{}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(method, target string, form url.Values) page {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.Header.Set("Accept", "text/html")
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return page{status: rec.Code, location: rec.Header().Get("Location"), body: rec.Body.String(), header: rec.Header()}
}

func (b *browser) get(target string) page { b.t.Helper(); return b.do(http.MethodGet, target, nil) }

// csrfPattern finds a form's token in a page.
var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// submit loads the page a form is on and posts the form with its token.
func (b *browser) submit(formPage, action string, form url.Values) page {
	b.t.Helper()
	p := b.get(formPage)
	m := csrfPattern.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no form token on %s (%d): %.300s", formPage, p.status, p.body)
	}
	form.Set("csrf", m[1])
	return b.do(http.MethodPost, action, form)
}

func TestBrowserAtRootGoesToTheInterface(t *testing.T) {
	n := newNode(t, nil)
	if p := newBrowser(t, n).get("/"); p.status != http.StatusFound || p.location != "/ui/" {
		t.Errorf("a browser at /: %d to %q, want 302 to /ui/", p.status, p.location)
	}
	expectError(t, n.get(t, "/"), http.StatusNotFound, "404 Not Found") // a client without text/html
}

func TestPagesShowNamesAsText(t *testing.T) {
	n := newNode(t, nil)
	name := `<script>alert("x")</script>`
	id := n.get(t, canaryPrefix+"create?"+url.Values{"name": {name}, "periodicity": {"60"}}.Encode()).canary()["id"].(string)
	n.get(t, "/"+id+"?comment="+url.QueryEscape(`<img src=x onerror=alert(1)>`))
	b := newBrowser(t, n)
	for _, target := range []string{"/ui/", "/ui/canary/" + id, "/ui/canary/" + id + "/edit", "/badge/" + id + ".svg"} {
		p := b.get(target)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", target, p.status)
		}
		if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
			t.Errorf("%s shows a name or comment as markup:\n%s", target, p.body)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(") {
			t.Errorf("%s does not show the name as text", target)
		}
	}
	if p := b.get("/ui/canary/" + id); !strings.Contains(p.body, "Triggered (&lt;img src=x onerror=alert(1)&gt;)") {
		t.Errorf("the canary's page does not show the trigger's comment as text")
	}
	if p := b.get("/ui/"); p.header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy on a page")
	}
}

func TestLoginKeepsASignedSessionNotTheKey(t *testing.T) {
	const key, readKey = "the-auth-key", "the-read-key"
	n := newNode(t, nil, withAuth(key), func(c *Config) { c.ReadOnlyKey = readKey })
	id := n.get(t, canaryPrefix+"create?auth_key="+key+"&name=job&periodicity=60").canary()["id"].(string)

	anonymous := newBrowser(t, n)
	if p := anonymous.get("/ui/canary/" + id); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/login?next=") {
		t.Fatalf("without a session: %d to %q, want the login form", p.status, p.location)
	}
	if p := anonymous.submit("/ui/login", "/ui/login", url.Values{"key": {"wrong"}}); p.status != http.StatusUnauthorized {
		t.Errorf("a wrong key: %d, want 401", p.status)
	}

	tests := []struct {
		name     string
		key      string
		canWrite bool
	}{
		{"auth key", key, true},
		{"read-only key", readKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, n)
			p := b.submit("/ui/login", "/ui/login", url.Values{"key": {tt.key}, "next": {"/ui/canary/" + id}})
			if p.status != http.StatusSeeOther || p.location != "/ui/canary/"+id {
				t.Fatalf("login: %d to %q", p.status, p.location)
			}
			session := b.cookies["coal_mine_session"]
			if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", session)
			}
			if strings.Contains(session.Value, tt.key) {
				t.Fatal("the session cookie holds the key")
			}
			if p := b.get("/ui/canary/" + id); p.status != http.StatusOK {
				t.Fatalf("with a session: %d", p.status)
			}
			p = b.submit("/ui/canary/"+id, "/ui/canary/"+id+"/trigger", url.Values{"comment": {"from the page"}})
			triggered := strings.Contains(n.get(t, canaryPrefix+"get?auth_key="+key+"&id="+id).raw, "from the page")
			if tt.canWrite != (p.status == http.StatusSeeOther && triggered) {
				t.Errorf("trigger from the page: %d, committed %v; want it to work: %v", p.status, triggered, tt.canWrite)
			}
			if got := b.get("/ui/new").status; tt.canWrite != (got == http.StatusOK) {
				t.Errorf("the new-canary form: %d", got)
			}
			if got := b.get("/ui/channels/nosuch/edit").status; tt.canWrite == (got == http.StatusForbidden) {
				t.Errorf("a channel's edit form: %d (forbidden unless the key can write)", got)
			}
			// A forged or changed cookie is no session.
			b.cookies["coal_mine_session"].Value = strings.Replace(session.Value, "ro|", "rw|", 1) + "x"
			if p := b.get("/ui/"); p.status != http.StatusSeeOther {
				t.Errorf("a tampered session: %d, want the login form", p.status)
			}
		})
	}
}

func TestFormsNeedTheirToken(t *testing.T) {
	n := newNode(t, nil)
	b := newBrowser(t, n)
	b.get("/ui/new") // the browser has its token cookie
	tests := []struct {
		name   string
		token  string
		origin string
	}{
		{"no token", "", ""},
		{"another token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""},
		{"another site", "", "https://evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.origin = tt.origin
			form := url.Values{"name": {"forged"}, "periodicity": {"60"}}
			var p page
			if tt.origin != "" {
				p = b.submit("/ui/new", "/ui/new", form)
			} else {
				form.Set("csrf", tt.token)
				p = b.do(http.MethodPost, "/ui/new", form)
			}
			if p.status != http.StatusForbidden {
				t.Errorf("%d, want 403", p.status)
			}
			if list, _ := n.fsm.List(fsmFilterAll()); len(list) != 0 {
				t.Errorf("a forged form created %d canaries", len(list))
			}
		})
	}
}

func TestCanaryLifeThroughThePages(t *testing.T) {
	n := newNode(t, nil)
	b := newBrowser(t, n)
	p := b.submit("/ui/new", "/ui/new", url.Values{"name": {"nightly backup"}, "periodicity": {"3600"},
		"grace": {"60"}, "emails": {"ops@example.com, dev@example.com"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/canary/") {
		t.Fatalf("create: %d to %q\n%s", p.status, p.location, p.body)
	}
	id := strings.TrimPrefix(strings.Split(p.location, "?")[0], "/ui/canary/")
	c, err := n.fsm.Get(id)
	if err != nil || c.Job == nil || c.Job.Grace.Seconds() != 60 || len(c.Emails) != 2 {
		t.Fatalf("created canary %+v, %v", c, err)
	}
	if p := b.submit("/ui/new", "/ui/new", url.Values{"name": {"bad"}, "periodicity": {"-5"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "periodicity") {
		t.Errorf("a bad periodicity: %d, want 400 with the API's message", p.status)
	}

	page := "/ui/canary/" + id
	until := testStart.Add(30 * 24 * time.Hour).UTC().Truncate(time.Minute) // the form's datetime-local is UTC
	steps := []struct {
		action string
		form   url.Values
		check  func() error
	}{
		{"trigger", url.Values{"comment": {"by hand"}}, func() error {
			if !strings.Contains(b.get(page).body, "Triggered (by hand)") {
				return fmt.Errorf("the page does not show the trigger")
			}
			return nil
		}},
		{"pause", url.Values{"until": {until.Format("2006-01-02T15:04")}}, func() error {
			if c, _ := n.fsm.Get(id); !c.Paused || c.Job == nil || !c.Job.PausedUntil.Equal(until) {
				return fmt.Errorf("not paused until %s: %+v", until, c.Job)
			}
			return nil
		}},
		{"unpause", url.Values{}, func() error {
			if c, _ := n.fsm.Get(id); c.Paused {
				return fmt.Errorf("still paused")
			}
			return nil
		}},
		{"edit", url.Values{"name": {"nightly backup v2"}, "periodicity": {"7200"}, "emails": {""}}, func() error {
			if c, _ := n.fsm.Get(id); c.Name != "nightly backup v2" || c.Periodicity.Seconds != 7200 || len(c.Emails) != 0 || c.Job != nil && c.Job.Grace != 0 {
				return fmt.Errorf("not saved: %+v", c)
			}
			return nil
		}},
	}
	for _, s := range steps {
		if p := b.submit(page, page+"/"+s.action, s.form); p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d: %s", s.action, p.status, regexp.MustCompile(`role="alert">[^<]*`).FindString(p.body))
		}
		if err := s.check(); err != nil {
			t.Errorf("%s: %v", s.action, err)
		}
	}

	if p := b.get(page + "/delete"); !strings.Contains(p.body, "Delete it") {
		t.Fatalf("delete asks for no confirmation: %.300s", p.body)
	}
	if p := b.submit(page+"/delete", page+"/delete", url.Values{}); p.status != http.StatusSeeOther || p.location != "/ui/?notice=deleted" {
		t.Fatalf("delete: %d to %q", p.status, p.location)
	}
	if _, err := n.fsm.Get(id); err == nil {
		t.Error("the canary is still there")
	}
}

func TestDashboardPagesAndFilters(t *testing.T) {
	n := newNode(t, nil)
	for i := range 230 {
		n.get(t, canaryPrefix+"create?"+url.Values{"name": {fmt.Sprintf("job %03d", i)}, "periodicity": {"60"}}.Encode())
	}
	b := newBrowser(t, n)
	rows := regexp.MustCompile(`<a href="/ui/canary/[a-z]{8}">`)
	next := regexp.MustCompile(`href="(/ui/\?[^"]*after=[a-z]{8}[^"]*)">Next page`)
	seen, pages := 0, 0
	for target := "/ui/"; target != ""; pages++ {
		p := b.get(strings.ReplaceAll(target, "&amp;", "&"))
		seen += len(rows.FindAllString(p.body, -1))
		target = ""
		if m := next.FindStringSubmatch(p.body); m != nil {
			target = m[1]
		}
	}
	if seen != 230 || pages != 3 {
		t.Errorf("paging showed %d canaries on %d pages, want 230 on 3", seen, pages)
	}
	p := b.get("/ui/?q=job+017")
	if got := len(rows.FindAllString(p.body, -1)); got != 1 {
		t.Errorf("search for one name: %d rows", got)
	}
	if p := b.get("/ui/?state=late"); !strings.Contains(p.body, "No canaries match") {
		t.Errorf("the late filter shows canaries that are not late")
	}
}

func TestBadges(t *testing.T) {
	const key = "k3y"
	for _, public := range []bool{false, true} {
		n := newNode(t, nil, withAuth(key), func(c *Config) { c.PublicBadges = public })
		id := n.get(t, canaryPrefix+"create?auth_key="+key+"&name=backup&periodicity=60").canary()["id"].(string)
		svg := n.get(t, "/badge/"+id+".svg")
		if !public {
			if svg.status != http.StatusUnauthorized {
				t.Errorf("a badge without a key: %d, want 401", svg.status)
			}
			svg = n.get(t, "/badge/"+id+".svg?auth_key="+key)
		}
		if svg.status != http.StatusOK || svg.header.Get("Content-Type") != "image/svg+xml; charset=utf-8" ||
			!strings.HasPrefix(svg.raw, "<svg") || !strings.Contains(svg.raw, ">backup<") || !strings.Contains(svg.raw, ">up<") {
			t.Errorf("public %v: svg badge %d %s:\n%s", public, svg.status, svg.header.Get("Content-Type"), svg.raw)
		}
		js := n.get(t, "/badge/"+id+".json?auth_key="+key)
		if js.status != http.StatusOK || js.str("label") != "backup" || js.str("message") != "up" {
			t.Errorf("json badge %d %v", js.status, js.body)
		}
		if got := n.get(t, "/badge/nosuchid.svg?auth_key="+key).status; got != http.StatusNotFound {
			t.Errorf("a badge of no canary: %d", got)
		}
	}
}

func fsmFilterAll() fsm.Filter { return fsm.Filter{} }

func TestChannelsThroughThePages(t *testing.T) {
	n := newNode(t, nil)
	b := newBrowser(t, n)
	p := b.submit("/ui/channels", "/ui/channels", url.Values{"name": {"ops-hook"}, "kind": {"webhook"},
		"url": {"https://hooks.example.com/services/T0/SECRET"}, "default": {"true"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d", p.status)
	}
	list := b.get("/ui/channels").body
	if !strings.Contains(list, "ops-hook") || !strings.Contains(list, "https://hooks.example.com/…") || strings.Contains(list, "SECRET") {
		t.Errorf("the list shows the channel's secret path, or not the channel:\n%s", list)
	}
	if p := b.submit("/ui/channels", "/ui/channels", url.Values{"name": {"bad"}, "kind": {"sms"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "kind") {
		t.Errorf("a bad kind: %d, want 400 with the API's message", p.status)
	}

	// Editing: the form never shows the secret, keeps it unless a new one is typed, and
	// sends both flags, so an unticked box clears one.
	edit := "/ui/channels/ops-hook/edit"
	if p := b.get(edit); p.status != http.StatusOK || strings.Contains(p.body, "SECRET") || !strings.Contains(p.body, "unchanged: https://hooks.example.com/…") {
		t.Fatalf("edit page: %d, or it shows the secret:\n%s", p.status, p.body)
	}
	if p := b.submit(edit, edit, url.Values{"url": {""}, "admin": {"true"}}); p.status != http.StatusSeeOther || p.location != "/ui/channels?notice=channel-saved" {
		t.Fatalf("save: %d %q", p.status, p.location)
	}
	ch := n.fsm.Channels()[0]
	if ch.URL != "https://hooks.example.com/services/T0/SECRET" || ch.Default || !ch.Admin {
		t.Errorf("after the edit: url %q default %v admin %v, want the url kept, default cleared, admin set", ch.URL, ch.Default, ch.Admin)
	}
	if p := b.submit(edit, edit, url.Values{"url": {"https://hooks.example.com/services/T1/NEW"}, "admin": {"true"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save a new url: %d", p.status)
	}
	if ch := n.fsm.Channels()[0]; ch.URL != "https://hooks.example.com/services/T1/NEW" {
		t.Errorf("url %q, want the new one", ch.URL)
	}
	if p := b.get("/ui/channels/nosuch/edit"); p.status != http.StatusNotFound {
		t.Errorf("editing a missing channel: %d, want 404", p.status)
	}
	b.submit("/ui/channels", "/ui/channels", url.Values{"name": {"ops-mail"}, "kind": {"email"}, "emails": {"ops@example.com"}})
	mailEdit := "/ui/channels/ops-mail/edit"
	if p := b.get(mailEdit); !strings.Contains(p.body, `value="ops@example.com"`) {
		t.Errorf("the e-mail channel's form does not show its addresses:\n%.600s", p.body)
	}
	if p := b.submit(mailEdit, mailEdit, url.Values{"emails": {"a@example.com, b@example.com"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save addresses: %d", p.status)
	}
	if p := b.submit(mailEdit, mailEdit, url.Values{"emails": {" "}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "at least one address") {
		t.Errorf("no addresses: %d, want 400 with the API's message:\n%.600s", p.status, p.body)
	}
	for _, ch := range n.fsm.Channels() {
		if ch.Name == "ops-mail" && strings.Join(ch.Emails, " ") != "a@example.com b@example.com" {
			t.Errorf("addresses %v, want the two saved", ch.Emails)
		}
	}
	b.submit("/ui/channels/ops-mail/delete", "/ui/channels/ops-mail/delete", url.Values{})

	confirm := "/ui/channels/ops-hook/delete"
	if p := b.get(confirm); p.status != http.StatusOK || !strings.Contains(p.body, "Delete it") {
		t.Fatalf("delete asks for no confirmation: %d", p.status)
	}
	if p := b.submit(confirm, confirm, url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.status)
	}
	if len(n.fsm.Channels()) != 0 {
		t.Error("the channel is still there")
	}
}
