package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// BenchmarkDashboard10k renders the web interface's dashboard over 10,000 canaries
// (issue 18's target: at most 300 ms): the first page, a page in the middle, and a
// search that matches one canary, which reads them all.
func BenchmarkDashboard10k(b *testing.B) {
	n := newNode(b, nil, quiet)
	var middle string
	for i := range 10000 {
		id := n.mustCreate(b, "name=job-"+strconv.Itoa(i)+"&periodicity=3600&email=ops@example.com")
		if i%50 == 0 {
			n.get(b, "/"+id+"?comment=nightly")
		}
		if i == 5000 {
			middle = id
		}
	}
	for _, bb := range []struct{ name, target string }{
		{"first-page", "/ui/"},
		{"a-middle-page", "/ui/?after=" + middle},
		{"search-one", "/ui/?q=job-9999"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				n.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bb.target, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
