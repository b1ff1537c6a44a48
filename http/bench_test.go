package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkTrigger is the HTTP layer's cost of a trigger by the short URL, over a real
// state machine applied in process (no Raft).
func BenchmarkTrigger(b *testing.B) {
	n := newNode(b, nil, quiet)
	id := n.mustCreate(b, "name=bench&periodicity=60")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			n.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+id+"?comment=ok", nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkGet is a local read of a canary with some history.
func BenchmarkGet(b *testing.B) {
	n := newNode(b, nil, quiet)
	id := n.mustCreate(b, "name=bench&periodicity=60")
	for range 100 {
		n.get(b, "/"+id)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		n.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, canaryPrefix+"get?id="+id, nil))
	}
}

// quiet turns the access log off, as in production (it is at debug level).
func quiet(c *Config) { c.Logger = slog.New(slog.DiscardHandler) }
