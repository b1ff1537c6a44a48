package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSendWebhook(t *testing.T) {
	tests := []struct {
		name        string
		target      Target
		event       Event
		method      string
		contentType string
		header      map[string]string // further headers expected
		check       func(t *testing.T, body []byte)
	}{{
		name:        "default JSON body",
		target:      Target{Kind: KindWebhook, Headers: []string{"Authorization: Bearer " + headerSecret, "X-Team:  ops "}},
		event:       canaryEvent("late"),
		method:      "POST",
		contentType: "application/json",
		header:      map[string]string{"Authorization": "Bearer " + headerSecret, "X-Team": "ops"},
		check: func(t *testing.T, body []byte) {
			var got Event
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := canaryEvent("late")
			if got.Event != "late" || got.Seq != 7 || !got.At.Equal(at) || got.IdempotencyKey != "coal-mine-7" ||
				got.Summary != want.Summary || got.Text != want.Text || got.Canary == nil ||
				got.Canary.ID != "abcd1234" || got.Canary.URL != want.Canary.URL || !got.Canary.Deadline.Equal(want.Canary.Deadline) {
				t.Errorf("body = %s", body)
			}
			// omitzero: a canary never triggered has no last_trigger.
			if strings.Contains(string(body), "last_trigger") {
				t.Errorf("zero last_trigger sent: %s", body)
			}
		},
	}, {
		name:        "cluster event has no canary",
		target:      Target{Kind: KindWebhook},
		event:       clusterEvent("outage"),
		method:      "POST",
		contentType: "application/json",
		check: func(t *testing.T, body []byte) {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["canary"]; ok || m["event"] != "outage" || m["idempotency_key"] != "coal-mine-9" {
				t.Errorf("body = %s", body)
			}
		},
	}, {
		name:        "custom template",
		target:      Target{Kind: KindWebhook, Body: "{{.Event}} {{.Canary.Name}}"},
		event:       canaryEvent("failed"),
		method:      "POST",
		contentType: "text/plain; charset=utf-8",
		check:       wantBody("failed Backup"),
	}, {
		name:        "template with configured content type and json func",
		target:      Target{Kind: KindWebhook, Method: "put", Headers: []string{"content-type: application/json"}, Body: `{"name":{{json .Canary.Name}}}`},
		event:       func() Event { e := canaryEvent("late"); e.Canary.Name = `say "hi" <now>`; return e }(),
		method:      "PUT",
		contentType: "application/json",
		check:       wantBody(`{"name":"say \"hi\" <now>"}`),
	}, {
		name:        "GET sends no body",
		target:      Target{Kind: KindWebhook, Method: "GET", Body: "{{.Event}}"},
		event:       canaryEvent("late"),
		method:      "GET",
		contentType: "",
		check:       wantBody(""),
	}, {
		name:        "PATCH and a configured User-Agent",
		target:      Target{Kind: KindWebhook, Method: "PATCH", Headers: []string{"User-Agent: mine/1"}},
		event:       canaryEvent("resumed"),
		method:      "PATCH",
		contentType: "application/json",
		header:      map[string]string{"User-Agent": "mine/1"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sendOne(t, tc.target, tc.event)
			if r.Method != tc.method {
				t.Errorf("method = %s, want %s", r.Method, tc.method)
			}
			if got := r.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := r.Header.Values("Idempotency-Key"); len(got) != 1 || got[0] != tc.event.IdempotencyKey {
				t.Errorf("Idempotency-Key = %q, want %q", got, tc.event.IdempotencyKey)
			}
			want := map[string]string{"User-Agent": "coal-mine"}
			for k, v := range tc.header {
				want[k] = v
			}
			for k, v := range want {
				if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.check != nil {
				tc.check(t, r.Body)
			}
		})
	}
}

func TestSendSlack(t *testing.T) {
	tests := []struct {
		name  string
		event Event
		text  string
	}{
		{"canary with URL", canaryEvent("late"), "[LATE] Backup has not reported\nhttps://cm.example/canary/abcd1234"},
		{"cluster event", clusterEvent("outage"), "[OUTAGE] coal-mine could not check"},
		{"markup escaped", Event{Event: "failed", Summary: "[FAILED] <db> & co"}, "[FAILED] &lt;db&gt; &amp; co"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sendOne(t, Target{Kind: KindSlack, Method: "GET"}, tc.event) // Method ignored
			if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
			}
			var got map[string]any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got["text"] != tc.text {
				t.Errorf("body = %s, want text %q", r.Body, tc.text)
			}
		})
	}
}

func TestSendPagerDuty(t *testing.T) {
	long := canaryEvent("repeat")
	long.Summary = strings.Repeat("é", 600) // 1200 bytes: the cut falls inside a rune
	tests := []struct {
		name     string
		event    Event
		action   string
		dedup    string
		severity string
		link     bool
	}{
		{"late", canaryEvent("late"), "trigger", "coal-mine-abcd1234", "critical", true},
		{"failed", canaryEvent("failed"), "trigger", "coal-mine-abcd1234", "critical", true},
		{"overran", canaryEvent("overran"), "trigger", "coal-mine-abcd1234", "critical", true},
		{"repeat, long summary", long, "trigger", "coal-mine-abcd1234", "critical", true},
		{"outage", clusterEvent("outage"), "trigger", "coal-mine-cluster", "critical", false},
		{"test", clusterEvent("test"), "trigger", "coal-mine-test-coal-mine-9", "info", false},
		{"resumed", canaryEvent("resumed"), "resolve", "coal-mine-abcd1234", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sendOne(t, Target{Kind: KindPagerDuty, RoutingKey: routingKey}, tc.event)
			if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
			}
			var got struct {
				RoutingKey  string `json:"routing_key"`
				EventAction string `json:"event_action"`
				DedupKey    string `json:"dedup_key"`
				Payload     *struct {
					Summary       string
					Source        string
					Severity      string
					Timestamp     string
					CustomDetails struct {
						Canary *Canary
						Event  string
					} `json:"custom_details"`
				}
				Links []struct{ Href, Text string }
			}
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			if got.RoutingKey != routingKey || got.EventAction != tc.action || got.DedupKey != tc.dedup {
				t.Errorf("body = %s", r.Body)
			}
			if tc.action == "resolve" {
				var keys map[string]any
				json.Unmarshal(r.Body, &keys)
				if len(keys) != 3 {
					t.Errorf("resolve carries more than routing_key, event_action, dedup_key: %s", r.Body)
				}
				return
			}
			p := got.Payload
			if p == nil {
				t.Fatalf("no payload: %s", r.Body)
			}
			wantSummary := tc.event.Summary
			if len(wantSummary) > 1024 {
				wantSummary = strings.Repeat("é", 512)
			}
			if p.Summary != wantSummary || p.Source != "coal-mine" || p.Severity != tc.severity ||
				p.Timestamp != "2026-03-04T05:06:07Z" || p.CustomDetails.Event != tc.event.Event {
				t.Errorf("payload = %+v", p)
			}
			if (p.CustomDetails.Canary != nil) != (tc.event.Canary != nil) ||
				(tc.event.Canary != nil && p.CustomDetails.Canary.ID != tc.event.Canary.ID) {
				t.Errorf("custom_details.canary = %+v", p.CustomDetails.Canary)
			}
			if tc.link != (len(got.Links) == 1) || (tc.link && (got.Links[0].Href != tc.event.Canary.URL || got.Links[0].Text != "canary")) {
				t.Errorf("links = %+v", got.Links)
			}
		})
	}
}

func TestSendPagerDutyDefaultURL(t *testing.T) {
	var got string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return &http.Response{StatusCode: http.StatusAccepted, Body: io.NopCloser(strings.NewReader(`{"status":"success"}`)), Header: http.Header{}}, nil
	})}
	resp, err := Send(ctxT(t), client, Target{Kind: KindPagerDuty, RoutingKey: routingKey}, canaryEvent("late"))
	if err != nil || resp.Status != http.StatusAccepted || got != DefaultPagerDutyURL {
		t.Fatalf("Send = %+v, %v; sent to %q", resp, err, got)
	}
}

func TestSendClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   permanence
	}{
		{200, ok}, {201, ok}, {202, ok}, {204, ok},
		{301, permanent}, {400, permanent}, {401, permanent}, {404, permanent}, {410, permanent},
		{408, transient}, {429, transient}, {500, transient}, {502, transient}, {503, transient},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv, _ := recorder(t, tc.status, "because")
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := Send(ctxT(t), noRedirect, Target{Kind: KindWebhook, URL: srv.URL}, canaryEvent("late"))
			if got := classify(err); got != tc.want {
				t.Errorf("err = %v: class %d, want %d", err, got, tc.want)
			}
			if resp.Status != tc.status {
				t.Errorf("Status = %d", resp.Status)
			}
			if tc.status != 204 && resp.Body != "because" {
				t.Errorf("Body = %q", resp.Body)
			}
		})
	}

	t.Run("closed server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		resp, err := Send(ctxT(t), nil, Target{Kind: KindWebhook, URL: srv.URL}, canaryEvent("late"))
		if classify(err) != transient || resp.Status != 0 {
			t.Errorf("Send = %+v, %v; want a transient error", resp, err)
		}
	})

	t.Run("ctx timeout", func(t *testing.T) {
		srv, release := hanging(t)
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := Send(ctx, srv.Client(), Target{Kind: KindWebhook, URL: srv.URL}, canaryEvent("late"))
		if classify(err) != transient || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want a transient deadline error", err)
		}
	})

	t.Run("template fails on a cluster event", func(t *testing.T) {
		srv, reqs := recorder(t, 200, "")
		tg := Target{Kind: KindWebhook, URL: srv.URL, Body: "{{.Canary.Name}}"}
		if err := Validate(tg); err != nil {
			t.Fatal(err)
		}
		_, err := Send(ctxT(t), nil, tg, clusterEvent("outage"))
		if classify(err) != permanent || len(reqs()) != 0 {
			t.Errorf("err = %v, %d requests; want a permanent error and none", err, len(reqs()))
		}
	})

	t.Run("invalid target", func(t *testing.T) {
		_, err := Send(ctxT(t), nil, Target{Kind: KindPagerDuty}, canaryEvent("late"))
		if classify(err) != permanent {
			t.Errorf("err = %v; want permanent", err)
		}
	})
}

func TestSendResponseBodyBound(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"large", strings.Repeat("x", 1<<20), 4096},
		{"rune cut at the bound", "x" + strings.Repeat("é", 4096), 4095},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := recorder(t, http.StatusInternalServerError, tc.body)
			resp, err := Send(ctxT(t), srv.Client(), Target{Kind: KindWebhook, URL: srv.URL}, canaryEvent("late"))
			if classify(err) != transient || len(resp.Body) != tc.want || !utf8.ValidString(resp.Body) || !strings.HasPrefix(tc.body, resp.Body) {
				t.Errorf("err %v, body of %d bytes; want %d", err, len(resp.Body), tc.want)
			}
		})
	}
}

// TestSendReusesConnection checks that answers longer than what is kept are drained,
// so that a busy channel does not open a connection per notification.
func TestSendReusesConnection(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 20<<10))
	}))
	var mu sync.Mutex
	conns := 0
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for range 3 {
		if _, err := Send(ctxT(t), client, Target{Kind: KindWebhook, URL: srv.URL}, canaryEvent("late")); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections for 3 sends, want 1", conns)
	}
}

func TestSendRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	resp, err := Send(ctxT(t), srv.Client(), Target{Kind: KindSlack, URL: srv.URL}, canaryEvent("late"))
	if classify(err) != transient || resp.Status != 429 || resp.RetryAfter != 30*time.Second {
		t.Errorf("Send = %+v, %v", resp, err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := retryAfter(now.Add(time.Minute).Format(http.TimeFormat), now); got != time.Minute {
		t.Errorf("retryAfter(date) = %v", got)
	}
	if got := retryAfter("soon", now); got != 0 {
		t.Errorf("retryAfter(soon) = %v", got)
	}
}

func TestValidate(t *testing.T) {
	const u = "https://hooks.example.com/" + pathSecret
	tests := []struct {
		name   string
		target Target
		want   string // "" for valid; else a substring of the error
	}{
		{"webhook minimal", Target{Kind: KindWebhook, URL: u}, ""},
		{"webhook full", Target{Kind: KindWebhook, URL: "http://10.0.0.1:8080/x", Method: "get", Headers: []string{"Authorization: Bearer x", "X-A:b"}, Body: "{{with .Canary}}{{.Name}}{{end}} {{.Summary}}"}, ""},
		{"webhook ignores pagerduty fields", Target{Kind: KindWebhook, URL: u, RoutingKey: "has space"}, ""},
		{"slack", Target{Kind: KindSlack, URL: u}, ""},
		{"pagerduty default url", Target{Kind: KindPagerDuty, RoutingKey: routingKey}, ""},
		{"pagerduty url override", Target{Kind: KindPagerDuty, RoutingKey: routingKey, URL: "http://127.0.0.1:9/v2/enqueue"}, ""},

		{"no kind", Target{URL: u}, "kind is missing"},
		{"unknown kind", Target{Kind: "email", URL: u}, `unknown channel kind "email"`},
		{"webhook without url", Target{Kind: KindWebhook}, "url is required"},
		{"bad scheme", Target{Kind: KindWebhook, URL: "ftp://hooks.example.com/" + pathSecret}, "scheme must be http or https"},
		{"no scheme", Target{Kind: KindWebhook, URL: "hooks.example.com/" + pathSecret}, "no scheme"},
		{"no host", Target{Kind: KindWebhook, URL: "https:///" + pathSecret}, "no host"},
		{"url does not parse", Target{Kind: KindWebhook, URL: "https://hooks.example.com/%zz" + pathSecret}, "does not parse"},
		{"method", Target{Kind: KindWebhook, URL: u, Method: "DELETE"}, "method must be GET, POST, PUT or PATCH"},
		{"header without colon", Target{Kind: KindWebhook, URL: u, Headers: []string{"Bearer " + headerSecret}}, `header 1 is not of the form`},
		{"header name not a token", Target{Kind: KindWebhook, URL: u, Headers: []string{"X-A: b", "Bearer " + headerSecret + ": x"}}, "header 2 name is not a valid HTTP token"},
		{"header CRLF", Target{Kind: KindWebhook, URL: u, Headers: []string{"X-Token: " + headerSecret + "\r\nX-Evil: 1"}}, "header 1 contains a line break"},
		{"header control character", Target{Kind: KindWebhook, URL: u, Headers: []string{"X-Token: a\x00" + headerSecret}}, "header 1 (X-Token) value contains a control character"},
		{"Host header", Target{Kind: KindWebhook, URL: u, Headers: []string{"host: evil.example"}}, "header 1: Host is taken from the url"},
		{"Content-Length header", Target{Kind: KindWebhook, URL: u, Headers: []string{"Content-Length: 5"}}, "Content-Length is computed"},
		{"Idempotency-Key header", Target{Kind: KindWebhook, URL: u, Headers: []string{"Idempotency-Key: 5"}}, "Idempotency-Key is always"},
		{"template does not parse", Target{Kind: KindWebhook, URL: u, Body: "{{.Event"}, "body template does not parse"},
		{"template fails to execute", Target{Kind: KindWebhook, URL: u, Body: "{{.Nope}}"}, "body template fails on a sample event"},
		{"template too large", Target{Kind: KindWebhook, URL: u, Body: strings.Repeat("x", 16<<10+1)}, "longer than 16384 bytes"},
		{"template output too large", Target{Kind: KindWebhook, URL: u, Body: `{{printf "%9000s" "x"}}{{printf "%9000s" "x"}}` + strings.Repeat(`{{printf "%9000s" "x"}}`, 150)}, "larger than"},
		{"slack without url", Target{Kind: KindSlack}, "url is required"},
		{"slack bad scheme", Target{Kind: KindSlack, URL: "javascript://hooks.slack.com/" + pathSecret}, "scheme must be http or https"},
		{"pagerduty without routing key", Target{Kind: KindPagerDuty}, "routing key is required"},
		{"pagerduty routing key too long", Target{Kind: KindPagerDuty, RoutingKey: strings.Repeat(routingKey, 3)}, "longer than 64"},
		{"pagerduty routing key not printable", Target{Kind: KindPagerDuty, RoutingKey: routingKey + " \n"}, "printable ASCII"},
		{"pagerduty bad url override", Target{Kind: KindPagerDuty, RoutingKey: routingKey, URL: "mailto:" + pathSecret}, "scheme must be http or https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.target)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrPermanent) {
				t.Errorf("%v does not wrap ErrPermanent", err)
			}
			assertNoSecret(t, err)
		})
	}
}

// TestErrorsDoNotLeakSecrets drives every kind of Send failure at a target whose URL
// path and query, routing key and header value are secrets, with servers that echo
// them back in their answers.
func TestErrorsDoNotLeakSecrets(t *testing.T) {
	hang := make(chan struct{})
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Query().Get("do") {
		case "redirect":
			http.Redirect(w, r, "/elsewhere/"+pathSecret, http.StatusTemporaryRedirect)
		case "hang":
			<-hang
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "Cannot %s %s %s %s", r.Method, r.URL, r.Header.Get("Authorization"), b)
		}
	}))
	defer echo.Close()
	defer close(hang) // before echo.Close, which waits for the handlers
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	webhook := func(base, do string) Target {
		return Target{Kind: KindWebhook, URL: base + "/" + pathSecret + "?token=" + querySecret + "&do=" + do,
			Headers: []string{"Authorization: Bearer " + headerSecret}}
	}
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirects refused") }}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	tests := []struct {
		name   string
		ctx    context.Context
		client *http.Client
		target Target
	}{
		{"404 echoing the request", ctxT(t), nil, webhook(echo.URL, "")},
		{"pagerduty 404 echoing the key", ctxT(t), nil, Target{Kind: KindPagerDuty, URL: echo.URL + "/" + pathSecret, RoutingKey: routingKey}},
		{"slack 404", ctxT(t), nil, Target{Kind: KindSlack, URL: echo.URL + "/" + pathSecret}},
		{"connection refused", ctxT(t), nil, webhook(closed.URL, "")},
		{"pagerduty connection refused", ctxT(t), nil, Target{Kind: KindPagerDuty, URL: closed.URL + "/" + pathSecret, RoutingKey: routingKey}},
		{"timeout", short(), nil, webhook(echo.URL, "hang")},
		{"redirect refused", ctxT(t), noRedirects, webhook(echo.URL, "redirect")},
		{"invalid target", ctxT(t), nil, Target{Kind: KindWebhook, URL: "gopher://x/" + pathSecret}},
		{"invalid routing key", ctxT(t), nil, Target{Kind: KindPagerDuty, RoutingKey: routingKey + "\x01"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Send(tc.ctx, tc.client, tc.target, canaryEvent("late"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			assertNoSecret(t, err)
		})
	}
}

// TestRedact checks the last line of defence on an error that does quote the URL.
func TestRedact(t *testing.T) {
	tg := Target{Kind: KindWebhook, URL: "https://h.example/" + pathSecret, RoutingKey: routingKey}
	inner := fmt.Errorf("Post %q with %s: %w", tg.URL, routingKey, context.DeadlineExceeded)
	err := redact(&permanentError{inner}, tg)
	assertNoSecret(t, err)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrPermanent) {
		t.Errorf("redacted error %v lost its identity", err)
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("redacted error unwraps to the original text")
	}
	plain := errors.New("nothing to hide")
	if redact(plain, tg) != plain {
		t.Errorf("an error without secrets was rewritten")
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},
		{"a€b", 3, "a"},
		{"a€b", 4, "a€"},
		{"a😀", 4, "a"},
	} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// TestValidateRefusesLoops: a range over an integer is a loop no deadline stops, even
// one that behaves on the sample event; events hold nothing to range over.
func TestValidateRefusesLoops(t *testing.T) {
	for _, body := range []string{
		`{{range 100000000000}}{{end}}`,
		`{{if ne .Seq 42}}{{range 100000000000}}{{end}}{{end}}x`,
		`{{define "t"}}{{range 5}}.{{end}}{{end}}{{template "t"}}`,
		`{{with .Canary}}{{range 3}}{{end}}{{end}}`,
	} {
		err := Validate(Target{Kind: KindWebhook, URL: "http://example.org/", Body: body})
		if err == nil || !strings.Contains(err.Error(), "may not use range") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// TestPrintfWidthsAreBounded: a huge width is refused before fmt allocates it.
func TestPrintfWidthsAreBounded(t *testing.T) {
	for _, body := range []string{`{{printf "%999999999s" "x"}}`, `{{printf "%.999999999f" 1.0}}`} {
		if err := Validate(Target{Kind: KindWebhook, URL: "http://example.org/", Body: body}); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("%s: %v", body, err)
		}
	}
	if err := Validate(Target{Kind: KindWebhook, URL: "http://example.org/", Body: `{{printf "%-12s %5.2f" .Event 1.5}}`}); err != nil {
		t.Errorf("an ordinary printf: %v", err)
	}
}
