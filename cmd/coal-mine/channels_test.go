package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// hookReceiver records every webhook delivery: canary id and idempotency key, and how
// many of each event.
type hookReceiver struct {
	mu     sync.Mutex
	keys   map[string]map[string]int // canary id -> idempotency key -> deliveries
	events map[string]int            // event -> deliveries
}

func newHookReceiver() *hookReceiver {
	return &hookReceiver{keys: map[string]map[string]int{}, events: map[string]int{}}
}

// count is how many deliveries of an event arrived.
func (h *hookReceiver) count(event string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.events[event]
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var e struct {
		Event  string `json:"event"`
		Canary struct {
			ID string `json:"id"`
		} `json:"canary"`
		Key string `json:"idempotency_key"`
	}
	if json.Unmarshal(body, &e) != nil || e.Key != r.Header.Get("Idempotency-Key") {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keys[e.Canary.ID] == nil {
		h.keys[e.Canary.ID] = map[string]int{}
	}
	h.keys[e.Canary.ID][e.Key]++
	h.events[e.Event]++
}

// TestWebhooksThroughALeaderKill: canaries going late while the leader is killed; the
// webhook receives every canary's late event, a duplicate only with the same key.
func TestWebhooksThroughALeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three real processes")
	}
	rc := newHookReceiver()
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sink := startSink(t)
	c := startCluster(t, buildBinary(t), sink.Addr(), 3)
	leader := c.leader(10 * time.Second)
	f := c.followers(leader)
	f[0].mustCallAPI("channel/create", url.Values{"name": {"hook"}, "kind": {"webhook"}, "url": {srv.URL + "/in"}, "default": {"true"}})
	const count = 40
	ids := make([]string, count)
	for i := range ids {
		ids[i] = f[i%2].mustCall("create", url.Values{"name": {fmt.Sprint("storm ", i)}, "periodicity": {"2"}})["canary"].(map[string]any)["id"].(string)
	}
	time.Sleep(time.Second) // kill the leader while the deadlines pass
	leader.kill()
	c.leader(15*time.Second, leader)
	testkit.Eventually(t, 30*time.Second, func() error {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, id := range ids {
			if len(rc.keys[id]) == 0 {
				return fmt.Errorf("no late event for %s yet (%d canaries heard of)", id, len(rc.keys))
			}
		}
		return nil
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	dups := 0
	for _, id := range ids {
		if len(rc.keys[id]) != 1 {
			t.Errorf("%s: %d different idempotency keys: %v", id, len(rc.keys[id]), rc.keys[id])
		}
		for _, n := range rc.keys[id] {
			dups += n - 1
		}
	}
	t.Logf("%d canaries' late events delivered through a leader kill; %d duplicates, each with its key", count, dups)
}
