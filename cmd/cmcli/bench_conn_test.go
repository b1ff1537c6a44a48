package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchConnExchanges drives one benchConn through the answers a server may give:
// each must be read to its end so that the next request on the same connection gets
// its own answer, and an answer that closes the connection makes the next one redial.
func TestBenchConnExchanges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, `{"status": "ok"}`)
		case "/chunked": // no Content-Length: the body comes in chunks
			w.(http.Flusher).Flush()
			fmt.Fprint(w, strings.Repeat("x", 10000))
		case "/error":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status": "error", "error": "no leader"}`)
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, `{"status": "ok"}`)
		case "/idle-close": // answers, then drops the connection without saying so
			w.Header().Set("Content-Length", "16")
			fmt.Fprint(w, `{"status": "ok"}`)
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case "/post":
			if r.Method != http.MethodPost || r.ContentLength != 5 {
				w.WriteHeader(http.StatusBadRequest)
			}
		}
	}))
	defer srv.Close()

	var dials atomic.Int64
	wire := func(method, path, body string) []byte {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		w, err := serializeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		return w.bytes
	}
	conn := &benchConn{addr: srv.Listener.Addr().String(), timeout: 5 * time.Second, dials: &dials}
	defer conn.close()
	steps := []struct {
		method, path, body string
		status             int
		errBody            string
		dials              int64 // connections opened so far
	}{
		{"GET", "/ok", "", 200, "", 1},
		{"GET", "/chunked", "", 200, "", 1},
		{"GET", "/error", "", 503, `{"status": "error", "error": "no leader"}`, 1},
		{"POST", "/post", "hello", 200, "", 1},
		{"GET", "/close", "", 200, "", 1},
		{"GET", "/ok", "", 200, "", 2}, // the server closed the last one
		{"GET", "/idle-close", "", 200, "", 2},
		{"GET", "/ok", "", 200, "", 3}, // closed while idle: sent again on a new one
	}
	for i, s := range steps {
		status, body, err := conn.do(wire(s.method, s.path, s.body))
		if err != nil {
			t.Fatalf("step %d %s: %v", i, s.path, err)
		}
		if status != s.status || string(body) != s.errBody || dials.Load() != s.dials {
			t.Errorf("step %d %s: status %d body %q dials %d; want %d %q %d", i, s.path, status, body, dials.Load(), s.status, s.errBody, s.dials)
		}
	}
}

func TestSerializeRequestRefusesURLCredentials(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://ops:secret@10.0.0.5:8080/abcdefgh", nil)
	if _, err := serializeRequest(req); !errors.Is(err, errURLCredentials) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want errURLCredentials without the password", err)
	}
}

func TestSerializeRequestAddress(t *testing.T) {
	tests := []struct {
		url, addr string
		tls       bool
	}{
		{"http://10.0.0.5:8080/abcdefgh", "10.0.0.5:8080", false},
		{"http://coal-mine.example.com/abcdefgh", "coal-mine.example.com:80", false},
		{"https://coal-mine.example.com/abcdefgh", "coal-mine.example.com:443", true},
		{"http://[::1]:8080/x", "[::1]:8080", false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
		w, err := serializeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if w.addr != tt.addr || (w.tls != nil) != tt.tls {
			t.Errorf("%s: addr %s tls %v, want %s %v", tt.url, w.addr, w.tls != nil, tt.addr, tt.tls)
		}
		if !strings.HasPrefix(string(w.bytes), "GET /") || !strings.HasSuffix(string(w.bytes), "\r\n\r\n") {
			t.Errorf("%s: wire form %q", tt.url, w.bytes)
		}
	}
}
