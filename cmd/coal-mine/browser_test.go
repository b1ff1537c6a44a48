package main

// The web interface in a real browser: a headless Chromium, driven with chromedp,
// against the real coal-mine binary started as a process with an auth key.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browserWait bounds every wait of the browser tests: generous, as CI machines are
// small and busy.
const browserWait = 60 * time.Second

// browserPath finds a Chromium to drive. Without one the browser tests skip, except on
// CI, which installs Debian's chromium (.ci/run).
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no chromium, chromium-browser or google-chrome is on PATH: .ci/run installs Debian's chromium when it runs as root")
	}
	t.Skip("skipping the browser test: no chromium, chromium-browser or google-chrome on PATH " +
		"(Debian: apt-get install --no-install-recommends chromium fonts-dejavu-core)")
	return ""
}

// browserSession drives one tab of a headless Chromium and records the JavaScript
// dialogs that opened: a name that ran as a script would open one.
type browserSession struct {
	t   *testing.T
	ctx context.Context // the tab; each step derives its own deadline from it

	mu      sync.Mutex
	dialogs []string
}

func newBrowserSession(t *testing.T) *browserSession {
	t.Helper()
	exe := browserPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browserSession{t: t, ctx: ctx}

	// The first action starts the browser. Its context must have no deadline (the
	// deadline would stop the browser), so the wait for it is bounded here.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start %s: %v", exe, err)
		}
	case <-time.After(browserWait):
		t.Fatalf("%s did not start within %v", exe, browserWait)
	}

	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			// Close it, or the page would stay blocked and every later step time out.
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

func (b *browserSession) openedDialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// fatalf stops the test with what the page shows, for the log.
func (b *browserSession) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	b.t.Fatalf(format+"\nthe browser is at %s and shows:\n%s", append(args, loc, text)...)
}

// do runs the steps, all within browserWait.
func (b *browserSession) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// eval runs a JavaScript expression on the page and returns its value.
func eval[T any](b *browserSession, expression string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		b.fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// waitFor polls a JavaScript predicate in the page, without reloading it, until it is
// true, for at most browserWait.
func (b *browserSession) waitFor(what, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate,
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		b.fatalf("waiting %v for %s: %v", browserWait, what, err)
	}
}

// waitForText waits until the page's main part shows text.
func (b *browserSession) waitForText(text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("the page to show %q", text), "document.querySelector('main') !== null && document.querySelector('main').innerText.includes("+jsString(text)+")")
}

// mainText is what the page's main part shows.
func (b *browserSession) mainText() string {
	b.t.Helper()
	return eval[string](b, "document.querySelector('main').innerText")
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// TestBrowserLife: a user in a real browser logs in with the auth key, creates a
// canary with the form, sees a job's curl trigger appear on the open page by itself,
// pauses, unpauses, and deletes it after the confirmation page; a canary named like a
// script shows as text and runs nothing. With COAL_MINE_SCREENSHOTS=<dir> it then saves
// screenshots of every page at desktop and phone widths.
func TestBrowserLife(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary and a browser")
	}
	b := newBrowserSession(t)
	d := newDaemon(t, buildBinary(t), startSink(t).Addr())
	if d.authKey == "" {
		t.Fatal("the node must run with an auth key: the test logs in")
	}
	d.start()
	defer d.kill()

	// Anything under /ui/ asks for the key first, then goes where it was going.
	b.do("open the dashboard",
		chromedp.Navigate(d.base+"/ui/"),
		chromedp.WaitVisible(`form[action="/ui/login"] input[name=key]`),
	)
	if loc := eval[string](b, "location.pathname"); loc != "/ui/login" {
		b.fatalf("without a session /ui/ should go to /ui/login, not %s", loc)
	}
	b.do("log in",
		chromedp.SendKeys(`input[name=key]`, d.authKey),
		chromedp.Click(`form[action="/ui/login"] button[type=submit]`),
		chromedp.WaitVisible(`form.filters`),
	)
	b.waitForText("No canaries")

	b.do("create a canary with the form",
		chromedp.Click(`header a[href="/ui/new"]`),
		chromedp.WaitVisible(`form[action="/ui/new"] input[name=name]`),
		chromedp.SendKeys(`input[name=name]`, "nightly backup"),
		chromedp.SendKeys(`input[name=periodicity]`, "3600"),
		chromedp.Click(`form[action="/ui/new"] button[type=submit]`),
		chromedp.WaitVisible(`.title-row h1`),
	)
	b.waitForText("Created.")
	if h1 := eval[string](b, "document.querySelector('.title-row h1').textContent"); !strings.Contains(h1, "nightly backup") {
		b.fatalf("the new canary's page is headed %q", h1)
	}
	path := eval[string](b, "location.pathname")
	id := strings.TrimPrefix(path, "/ui/canary/")
	if len(id) != 8 || !strings.HasPrefix(path, "/ui/canary/") {
		b.fatalf("after create the browser is at %s, not a canary's page", path)
	}
	if st := eval[string](b, "document.querySelector('.title-row .state').textContent"); st != "up" {
		b.fatalf("a new canary's state is %q, want up", st)
	}

	// A job's curl while the page is open: the live page shows it by itself.
	resp, err := http.Get(d.base + "/" + id + "?comment=from%20curl")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /%s?comment=from%%20curl: %s", id, resp.Status)
	}
	if p := eval[string](b, "location.pathname"); p != path {
		b.fatalf("the browser left the canary's page for %s", p)
	}
	b.waitForText("Triggered (from curl)")

	b.do("pause",
		chromedp.Click(`form[action="/ui/canary/`+id+`/pause"] button`),
		chromedp.WaitVisible(`.title-row .state-paused`),
	)
	b.waitForText("Paused.")
	if st := eval[string](b, "document.querySelector('.title-row .state').textContent"); st != "paused" {
		b.fatalf("after Pause the state is %q", st)
	}
	if c := d.canary(id); c["paused"] != true {
		t.Fatalf("the page says paused, the API does not: %v", c)
	}

	b.do("unpause",
		chromedp.Click(`form[action="/ui/canary/`+id+`/unpause"] button`),
		chromedp.WaitVisible(`.title-row .state-up`),
	)
	b.waitForText("Unpaused.")
	if c := d.canary(id); c["paused"] != false {
		t.Fatalf("the page says unpaused, the API does not: %v", c)
	}

	b.do("ask to delete",
		chromedp.Click(`.title-row a.button.danger`),
		chromedp.WaitVisible(`form[action="/ui/canary/`+id+`/delete"] button.danger`),
	)
	b.waitForText("Delete nightly backup?")
	b.do("confirm the delete",
		chromedp.Click(`form[action="/ui/canary/`+id+`/delete"] button.danger`),
		chromedp.WaitVisible(`form.filters`),
	)
	b.waitForText("Deleted.")
	if text := b.mainText(); strings.Contains(text, "nightly backup") || strings.Contains(text, id) {
		b.fatalf("the deleted canary is still on the dashboard")
	}
	if code, _ := d.call("get", url.Values{"id": {id}}); code != http.StatusNotFound {
		t.Fatalf("get of the deleted canary: %d, want 404", code)
	}

	// A channel edited in its form: the page never shows the webhook's secret, an
	// unticked box clears the flag, and the URL stays as it was.
	secretURL := "https://hooks.example.com/coal-mine/T0123/secret"
	d.mustCallAPI("channel/create", url.Values{"name": {"ops-webhook"}, "kind": {"webhook"}, "url": {secretURL}, "default": {"true"}})
	b.do("edit a channel with its form",
		chromedp.Navigate(d.base+"/ui/channels"),
		chromedp.Click(`a[href="/ui/channels/ops-webhook/edit"]`),
		chromedp.WaitVisible(`form[action="/ui/channels/ops-webhook/edit"] input[name=default]`),
	)
	if html := eval[string](b, "document.documentElement.outerHTML"); strings.Contains(html, "T0123") {
		b.fatalf("the channel's form holds its secret URL")
	}
	b.do("untick default and save",
		chromedp.Click(`form[action="/ui/channels/ops-webhook/edit"] input[name=default]`),
		chromedp.Click(`form[action="/ui/channels/ops-webhook/edit"] button[type=submit]`),
		chromedp.WaitVisible(`p.notice`),
	)
	b.waitForText("Channel saved.")
	ch := d.mustCallAPI("channel/get", url.Values{"name": {"ops-webhook"}})["channel"].(map[string]any)
	if ch["url"] != secretURL || ch["default"] == true {
		t.Fatalf("after the form: url %v, default %v; want the url kept and default cleared", ch["url"], ch["default"])
	}
	d.mustCallAPI("channel/delete", url.Values{"name": {"ops-webhook"}})

	// A name like a script shows as text; nothing runs, no dialog opens.
	name := "<script>alert(1)</script>"
	xss := d.mustCall("create", url.Values{"name": {name}, "periodicity": {"3600"}})["canary"].(map[string]any)["id"].(string)
	b.do("the dashboard with a script for a name",
		chromedp.Navigate(d.base+"/ui/"),
		chromedp.WaitVisible(`table.canaries a[href="/ui/canary/`+xss+`"]`),
	)
	b.waitForText(name)
	if got := eval[string](b, `document.querySelector('table.canaries a[href="/ui/canary/`+xss+`"]').textContent`); got != name {
		b.fatalf("the canary's link reads %q, want the name as text %q", got, name)
	}
	if n := eval[int](b, "document.querySelectorAll('main script').length"); n != 0 {
		b.fatalf("the dashboard has %d script elements in its main part", n)
	}
	b.do("the page of the canary with a script for a name",
		chromedp.Click(`table.canaries a[href="/ui/canary/`+xss+`"]`),
		chromedp.WaitVisible(`.title-row h1`),
	)
	b.waitForText(name)
	if got := eval[string](b, "document.title"); !strings.Contains(got, name) {
		b.fatalf("the page's title is %q, want the name as text in it", got)
	}
	if dialogs := b.openedDialogs(); len(dialogs) != 0 {
		t.Fatalf("JavaScript dialogs opened, a name ran as a script: %q", dialogs)
	}

	if dir := os.Getenv("COAL_MINE_SCREENSHOTS"); dir != "" {
		screenshots(t, b, d, dir)
		if dialogs := b.openedDialogs(); len(dialogs) != 0 {
			t.Fatalf("JavaScript dialogs opened: %q", dialogs)
		}
	}
}

// maxScreenshot is the size above which a page is shot to a fixed height instead of
// in full, to keep the repository small.
const maxScreenshot = 400 << 10

// screenshots saves each page at desktop and phone widths, over canaries in every
// state (COAL_MINE_SCREENSHOTS=dir; the README shows http/ui/screenshots).
func screenshots(t *testing.T, b *browserSession, d *daemon, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	create := func(name string, params url.Values) string {
		params.Set("name", name)
		return d.mustCall("create", params)["canary"].(map[string]any)["id"].(string)
	}

	// up, with runs (one failed) and history
	backup := create("nightly database backup", url.Values{"periodicity": {"86400"}, "grace": {"600"},
		"email": {"ops@example.com"}, "description": {"pg_dump of the main database, uploaded to the backup bucket"}})
	for i := range 4 {
		d.ping("/"+backup+"/start", "")
		if i == 1 {
			d.ping("/"+backup+"/1", "pg_dump: error: connection to server lost\n")
			continue
		}
		d.ping("/"+backup+"/0", fmt.Sprintf("pg_dump: done, 3.%d GB written\nupload: ok\n", i))
	}
	d.ping("/"+backup+"?comment=manual%20run", "")
	// failed
	renewal := create("certificate renewal", url.Values{"cron": {"0 3 * * *"}, "tz": {"Europe/Berlin"}})
	d.ping("/"+renewal+"/start", "")
	d.ping("/"+renewal+"/fail", "")
	// started
	index := create("search index rebuild", url.Values{"periodicity": {"3600"}, "max_runtime": {"1800"}})
	d.ping("/"+index+"/start", "")
	// paused
	report := create("weekly report", url.Values{"periodicity": {"604800"}})
	d.mustCall("pause", url.Values{"id": {report}, "comment": {"holidays"}})
	// late: a period of a second is over before the page opens
	create("log rotation", url.Values{"periodicity": {"1"}})
	d.mustCallAPI("channel/create", url.Values{"name": {"ops-webhook"}, "kind": {"webhook"},
		"url": {"https://hooks.example.com/coal-mine/T0123/secret"}, "default": {"true"}})
	d.mustCallAPI("channel/create", url.Values{"name": {"oncall-mail"}, "kind": {"email"}, "email": {"oncall@example.com"}})

	// The dashboard must show every state before it is shot.
	b.do("the dashboard", chromedp.Navigate(d.base+"/ui/"), chromedp.WaitVisible(`table.canaries`))
	for _, state := range []string{"up", "late", "failed", "started", "paused"} {
		b.waitFor("a canary in state "+state+" on the dashboard",
			"document.querySelector('table.canaries .state-"+state+"') !== null")
	}

	pages := []struct{ name, path, ready string }{
		{"dashboard", "/ui/", `table.canaries .state-late`},
		{"canary", "/ui/canary/" + backup, `.history`},
		{"new", "/ui/new", `form[action="/ui/new"]`},
		{"cluster", "/ui/cluster", `main h1`},
		{"channels", "/ui/channels", `main h1`},
	}
	widths := []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}}
	for _, w := range widths {
		for _, p := range pages {
			b.do("open "+p.name+" at "+w.name+" width",
				chromedp.EmulateViewport(w.width, w.height),
				chromedp.Navigate(d.base+p.path),
				chromedp.WaitVisible(p.ready),
				chromedp.WaitVisible(`footer`),
			)
			// The script has put times in the browser's zone.
			b.waitFor("times shown by the script", `[...document.querySelectorAll("time[datetime]")].every(t => t.title !== t.textContent)`)
			if over := eval[int](b, "document.documentElement.scrollWidth - window.innerWidth"); over > 0 {
				t.Errorf("%s at %s width: the page is %d px wider than the window", p.name, w.name, over)
			}
			png := b.screenshot(w.width, w.height, p.name)
			file := filepath.Join(dir, p.name+"-"+w.name+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s (%d KB)", file, len(png)>>10)
		}
	}
}

// screenshot shoots the whole page, or its first 1400 px when the whole page would
// make a large file.
func (b *browserSession) screenshot(width, height int64, what string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil && len(png) > maxScreenshot {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(width, 1400))
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		}
		if err == nil {
			err = chromedp.Do(ctx, chromedp.EmulateViewport(width, height))
		}
	}
	if err != nil {
		b.fatalf("screenshot of %s: %v", what, err)
	}
	return png
}
