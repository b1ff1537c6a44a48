package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// page is what every template gets.
type page struct {
	Title    string
	Error    string
	Notice   string
	CSRF     string
	CanWrite bool
	LoggedIn bool
	Live     bool
	Version  string
	Data     any
}

var pageNames = []string{"login", "message", "dashboard", "canary", "form", "confirm", "cluster", "channels", "channel"}

func parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{"stamp": stamp, "until": until, "duration": runDuration}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// render writes a page. The template runs into a buffer first, so that a template error
// is a clean 500, not half a page.
func (u *ui) render(c *gin.Context, status int, name string, p page) {
	r, ok := u.roleOf(c)
	p.CSRF = u.csrfToken(c)
	p.CanWrite = ok && r == readWrite
	p.LoggedIn = ok && !u.sessions.open()
	p.Version = u.cfg.Version
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		u.cfg.Logger.Error("web interface: rendering a page failed", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "rendering the page failed")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// fail shows an error page.
func (u *ui) fail(c *gin.Context, status int, msg string) {
	u.render(c, status, "message", page{Title: http.StatusText(status), Error: msg})
}

// stamp shows a moment as a <time> element in UTC; the script shows it in the browser's
// zone and keeps UTC on hover.
func stamp(t time.Time) template.HTML {
	t = t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		t.Format(time.RFC3339Nano), t.Format("2006-01-02 15:04:05 UTC"), t.Format("2006-01-02 15:04:05 UTC")))
}

// until says how far a moment is from now, as "in 3m20s" or "4h ago".
func until(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	switch {
	case d > 0:
		return "in " + shortDuration(d)
	case d < 0:
		return shortDuration(-d) + " ago"
	}
	return "now"
}

func shortDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.String()
}

func runDuration(r fsm.Run) string {
	if d, ok := r.Duration(); ok {
		return d.Round(time.Millisecond).String()
	}
	return "–"
}

// row is a canary as the dashboard shows it.
type row struct {
	ID, Name, State, Schedule string
	LastTrigger, Deadline     time.Time
}

func newRow(c *fsm.Canary) row {
	return row{ID: c.ID, Name: c.Name, State: c.State(), Schedule: schedule(c),
		LastTrigger: lastTrigger(c), Deadline: c.LateAt()}
}

func schedule(c *fsm.Canary) string {
	if c.Job != nil && c.Job.Cron != "" {
		s := "cron " + c.Job.Cron
		if c.Job.TZ != "" {
			s += " (" + c.Job.TZ + ")"
		}
		return s
	}
	if c.Periodicity.IsSchedule() {
		return c.Periodicity.String()
	}
	return "every " + (time.Duration(c.Periodicity.Seconds * float64(time.Second))).String()
}

// lastTrigger is the newest history entry a job's signal wrote.
func lastTrigger(c *fsm.Canary) time.Time {
	for _, e := range c.History.Newest(20) {
		if strings.HasPrefix(e.Comment, "Triggered") || strings.HasPrefix(e.Comment, "Started") ||
			strings.HasPrefix(e.Comment, "Failed") {
			return e.Time()
		}
	}
	return time.Time{}
}

func (u *ui) dashboard(c *gin.Context) {
	flt := fsm.Filter{After: c.Query("after"), Limit: pageSize}
	yes, no := true, false
	state := c.Query("state")
	switch state {
	case "late":
		flt.Late = &yes
	case "paused":
		flt.Paused = &yes
	case "active":
		flt.Paused = &no
	default:
		state = ""
	}
	query := strings.TrimSpace(c.Query("q"))
	if query != "" {
		flt.Text = query
	}
	canaries, more := u.cfg.Store.List(flt)
	rows := make([]row, len(canaries))
	for i, ca := range canaries {
		rows[i] = newRow(ca)
	}
	link := func(after string) string {
		v := url.Values{}
		if query != "" {
			v.Set("q", query)
		}
		if state != "" {
			v.Set("state", state)
		}
		if after != "" {
			v.Set("after", after)
		}
		if len(v) == 0 {
			return "/ui/"
		}
		return "/ui/?" + v.Encode()
	}
	data := map[string]any{"Rows": rows, "Query": query, "State": state, "Base": u.base(c),
		"First": flt.After == "", "FirstURL": link(""), "NextURL": ""}
	if more && len(rows) > 0 {
		data["NextURL"] = link(rows[len(rows)-1].ID)
	}
	u.render(c, http.StatusOK, "dashboard", page{Title: "Canaries", Live: true, Notice: notice(c), Data: data})
}

// base is where jobs reach the cluster: the public URL, else this request's host.
func (u *ui) base(c *gin.Context) string {
	if u.cfg.PublicURL != "" {
		return strings.TrimRight(u.cfg.PublicURL, "/")
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

const timelineDays = 7

func (u *ui) canary(c *gin.Context) {
	ca, err := u.cfg.Store.Get(c.Param("id"))
	if err != nil {
		u.fail(c, http.StatusNotFound, "No canary with that id.")
		return
	}
	var runs []fsm.Run
	if ca.Job != nil {
		runs = slices.Clone(ca.Job.Runs)
		slices.Reverse(runs)
	}
	history := ca.History.Newest(200)
	data := map[string]any{"C": ca, "State": ca.State(), "Schedule": schedule(ca), "Deadline": ca.LateAt(),
		"Base": u.base(c), "PingURL": u.base(c) + "/" + ca.ID, "Runs": runs, "History": history,
		"Days": timelineDays, "TL": newTimeline(ca.History.NewestFirst(), ca.LateAt(), u.cfg.Now())}
	u.render(c, http.StatusOK, "canary", page{Title: ca.Name, Live: true, Notice: notice(c), Data: data})
}

func (u *ui) cluster(c *gin.Context) {
	raw, _ := json.Marshal(u.cfg.Status())
	var status map[string]any
	_ = json.Unmarshal(raw, &status)
	var fields []kv
	var members [][]string
	var memberKeys []string
	for _, k := range sortedKeys(status) {
		switch v := status[k].(type) {
		case []any:
			if k == "members" || k == "servers" || k == "nodes" {
				memberKeys, members = table(v)
			}
		case map[string]any:
		default:
			fields = append(fields, kv{k, fmt.Sprint(v)})
		}
	}
	pretty, _ := json.MarshalIndent(status, "", "  ")
	data := map[string]any{"Fields": fields, "Members": members, "MemberKeys": memberKeys, "JSON": string(pretty),
		"Outbox": len(u.cfg.Store.Outbox()), "Canaries": u.cfg.Store.Len()}
	u.render(c, http.StatusOK, "cluster", page{Title: "Cluster", Live: true, Data: data})
}

type kv struct{ Key, Value string }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// table lays out a list of objects as rows under the union of their keys.
func table(list []any) ([]string, [][]string) {
	seen := map[string]bool{}
	var keys []string
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	var rows [][]string
	for _, item := range list {
		m, _ := item.(map[string]any)
		r := make([]string, len(keys))
		for i, k := range keys {
			if v, ok := m[k]; ok {
				r[i] = fmt.Sprint(v)
			}
		}
		rows = append(rows, r)
	}
	return keys, rows
}
