package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

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
		t.Fatal("no chromium on CI: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium, chromium-browser or google-chrome on PATH: the browser tests need one (Debian: apt-get install chromium)")
	return ""
}

// browserSession drives one headless Chromium tab and counts the JavaScript dialogs
// that opened (a name that ran as a script would open one).
type browserSession struct {
	ctx     context.Context
	dialogs atomic.Int64
}

func newBrowserSession(t *testing.T) *browserSession {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browserSession{ctx: ctx}
	// The first action starts the browser, so the dialog watch comes after it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", browserPath(t), err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			b.dialogs.Add(1)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

func (b *browserSession) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitForText waits until the page shows text, without reloading it: the page's own
// script must bring it.
func (b *browserSession) waitForText(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.body.innerText.includes(%q)", text)))
		if err != nil {
			t.Fatal(err)
		}
		if shown {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(b.ctx, chromedp.Text("body"))
			t.Fatalf("the page did not show %q within %v; it shows:\n%s", text, timeout, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *browserSession) location(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestBrowserLife: a user in a real browser logs in, creates a canary, sees a curl
// trigger appear by itself, pauses, unpauses and deletes it; a canary named like a
// script shows as text.
func TestBrowserLife(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary and a browser")
	}
	b := newBrowserSession(t)
	sink := startSink(t)
	d := newDaemon(t, buildBinary(t), sink.Addr())
	d.start()
	defer d.kill()
	const wait = 60 * time.Second

	b.run(t, "log in",
		chromedp.Navigate(d.base+"/ui/"),
		chromedp.WaitVisible(`input[name=key]`),
		chromedp.SendKeys(`input[name=key]`, d.authKey),
		chromedp.Click(`form[action="/ui/login"] button`),
		chromedp.WaitVisible(`form.filters`),
	)
	b.run(t, "create a canary",
		chromedp.Navigate(d.base+"/ui/new"),
		chromedp.WaitVisible(`input[name=name]`),
		chromedp.SendKeys(`input[name=name]`, "nightly backup"),
		chromedp.SendKeys(`input[name=periodicity]`, "3600"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`.title-row`),
	)
	b.waitForText(t, "nightly backup", wait)
	loc := b.location(t)
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], d.base+"/ui/canary/")
	if len(id) != 8 {
		t.Fatalf("after create the browser is at %s", loc)
	}

	// A job's curl, while the page is open: the page shows it by itself.
	resp, err := http.Get(d.base + "/" + id + "?comment=" + url.QueryEscape("from curl"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("trigger: %v %v", err, resp)
	}
	resp.Body.Close()
	b.waitForText(t, "Triggered (from curl)", wait)

	b.run(t, "pause", chromedp.Click(`form[action$="/pause"] button`), chromedp.WaitVisible(`.title-row .state-paused`))
	b.run(t, "unpause", chromedp.Click(`form[action$="/unpause"] button`), chromedp.WaitVisible(`.title-row .state-up`))
	b.run(t, "delete, confirmed",
		chromedp.Click(`a.button.danger`),
		chromedp.WaitVisible(`button.danger`),
		chromedp.Click(`button.danger`),
		chromedp.WaitVisible(`form.filters`),
	)
	b.waitForText(t, "Deleted.", wait)
	body, err := chromedp.Run(b.ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "nightly backup") {
		t.Errorf("the deleted canary is still listed:\n%s", body)
	}

	name := "<script>alert(1)</script>"
	d.mustCall("create", url.Values{"name": {name}, "periodicity": {"60"}})
	b.run(t, "the dashboard", chromedp.Navigate(d.base+"/ui/"), chromedp.WaitVisible(`table.canaries`))
	b.waitForText(t, name, wait)
	if n := b.dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened: a name ran as a script", n)
	}

	if dir := os.Getenv("COAL_MINE_SCREENSHOTS"); dir != "" {
		screenshots(t, b, d, dir)
	}
}

// screenshots saves each page at desktop and phone widths, over canaries in every
// state, for the README (COAL_MINE_SCREENSHOTS=dir).
func screenshots(t *testing.T, b *browserSession, d *daemon, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	create := func(name string, params url.Values) string {
		params.Set("name", name)
		return d.mustCall("create", params)["canary"].(map[string]any)["id"].(string)
	}
	ping := func(method, path, body string) {
		req, _ := http.NewRequest(method, d.base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	backup := create("nightly database backup", url.Values{"periodicity": {"86400"}, "grace": {"600"}, "email": {"ops@example.com"}})
	for i := range 4 {
		ping(http.MethodGet, "/"+backup+"/start", "")
		ping(http.MethodPost, "/"+backup+"/0", fmt.Sprintf("pg_dump: done, %d.%d GB written\nupload: ok", 3, i))
	}
	ping(http.MethodGet, "/"+backup+"?comment=manual+run", "")
	failed := create("certificate renewal", url.Values{"cron": {"0 3 * * *"}, "tz": {"Europe/Berlin"}})
	ping(http.MethodGet, "/"+failed+"/start", "")
	ping(http.MethodPost, "/"+failed+"/2", "certbot: rate limited, try again in 1h")
	started := create("search index rebuild", url.Values{"periodicity": {"3600"}, "max_runtime": {"1800"}})
	ping(http.MethodGet, "/"+started+"/start", "")
	paused := create("weekly report", url.Values{"periodicity": {"604800"}})
	d.mustCall("pause", url.Values{"id": {paused}, "comment": {"holidays"}})
	late := create("log rotation", url.Values{"periodicity": {"1"}})
	for {
		if d.canary(late)["late"] == true {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	q := url.Values{"name": {"ops-webhook"}, "kind": {"webhook"}, "url": {"https://hooks.example.com/coal-mine"}, "default": {"true"}, "auth_key": {d.authKey}}
	if resp, err := http.Get(d.base + "/coal-mine/v1/channel/create?" + q.Encode()); err == nil {
		resp.Body.Close()
	}

	pages := []struct{ name, path string }{
		{"dashboard", "/ui/"}, {"canary", "/ui/canary/" + backup}, {"new", "/ui/new"},
		{"cluster", "/ui/cluster"}, {"channels", "/ui/channels"},
	}
	widths := []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}}
	for _, w := range widths {
		for _, p := range pages {
			b.run(t, "open "+p.name,
				chromedp.EmulateViewport(w.width, w.height),
				chromedp.Navigate(d.base+p.path),
				chromedp.WaitVisible(`footer`),
			)
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot of %s: %v", p.name, err)
			}
			file := filepath.Join(dir, p.name+"-"+w.name+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s (%d KB)", file, len(png)/1024)
		}
	}
}
