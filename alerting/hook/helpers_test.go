package hook

// Helpers for hook_test.go.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secrets the tests plant in targets; no error may contain them.
const (
	pathSecret   = "T0SECRET/B0SECRET/xoxSECRETpath"
	querySecret  = "tokenSECRETquery"
	routingKey   = "R0UTINGKEYsecret0123456789abcdef"
	headerSecret = "hdrSECRET12345"
)

// recorded is one request as the test server saw it.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// recorder is a test server that records requests and answers status with body.
func recorder(t *testing.T, status int, body string) (*httptest.Server, func() []recorded) {
	t.Helper()
	var (
		mu   sync.Mutex
		reqs []recorded
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: b})
		mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// hanging is a server that answers nothing until released; release closes it too.
// (A handler waiting on its request's context would wait for ever: the server does not
// notice the client going away while the request body is unread.)
func hanging(t *testing.T) (*httptest.Server, func()) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	return srv, func() { close(hang); srv.Close() }
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var at = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func canaryEvent(kind string) Event {
	return Event{
		Event: kind,
		Canary: &Canary{
			ID: "abcd1234", Name: "Backup", Slug: "backup", State: "late",
			Deadline: at.Add(-time.Minute), URL: "https://cm.example/canary/abcd1234",
		},
		At: at, Seq: 7, IdempotencyKey: "coal-mine-7",
		Summary: "[LATE] Backup has not reported", Text: "Backup has not reported since yesterday.",
	}
}

func clusterEvent(kind string) Event {
	return Event{Event: kind, At: at, Seq: 9, IdempotencyKey: "coal-mine-9", Summary: "[OUTAGE] coal-mine could not check"}
}

// sendOne sends e to a fresh recorder and returns the one request it saw.
func sendOne(t *testing.T, tg Target, e Event) recorded {
	t.Helper()
	srv, reqs := recorder(t, http.StatusOK, "ok")
	tg.URL = srv.URL + "/" + pathSecret + "?token=" + querySecret
	resp, err := Send(ctxT(t), srv.Client(), tg, e)
	if err != nil || resp.Status != http.StatusOK || resp.Body != "ok" {
		t.Fatalf("Send = %+v, %v", resp, err)
	}
	got := reqs()
	if len(got) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(got))
	}
	if got[0].Path != "/"+pathSecret {
		t.Errorf("path = %q", got[0].Path)
	}
	return got[0]
}

func wantBody(want string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		if string(body) != want {
			t.Errorf("body = %q, want %q", body, want)
		}
	}
}

// roundTripFunc lets a test see a request without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// permanence is how an outcome is classified.
type permanence int

const (
	ok permanence = iota
	transient
	permanent
)

func classify(err error) permanence {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, ErrPermanent):
		return permanent
	}
	return transient
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{pathSecret, "SECRET", "secret", querySecret, routingKey, headerSecret} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}
