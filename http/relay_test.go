package http

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coal-mine/coal-mine/fsm"
)

// withRelay gives the node a relay that authenticates with key.
func withRelay(t *testing.T, key string) nodeOption {
	return func(c *Config) {
		r := NewRelay(RelayConfig{Cluster: c.Cluster, AuthKey: key})
		t.Cleanup(r.Close)
		c.Relay = r
	}
}

func TestFollowerRelaysTriggersInBatches(t *testing.T) {
	c := newCluster2(t, withAuth("k"), withRelay(t, "k"))
	id := c.leader.get(t, canaryPrefix+"create?name=relayed&periodicity=3600&auth_key=k").canary()["id"].(string)
	c.leaderHits.Store(0)

	const n = 64
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- c.follower.get(t, fmt.Sprintf("/%s?m=t%d", id, i)).status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("relayed trigger answered %d", s)
		}
	}
	canary, err := c.leader.fsm.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if triggers := canary.History.Len() - 1; triggers != n {
		t.Errorf("%d triggers in the leader's history, want %d", triggers, n)
	}
	if hits := c.leaderHits.Load(); hits >= n {
		t.Errorf("the leader got %d requests for %d triggers: not batched", hits, n)
	}

	// Answers render from the leader's results, errors included.
	r := c.follower.get(t, canaryPrefix+"pause?id="+id+"&comment=relayed%20pause&auth_key=k")
	expectStatus(t, r, http.StatusOK)
	if r.canary()["paused"] != true || r.canary()["id"] != id {
		t.Errorf("relayed pause answered %s", r.raw)
	}
	r = c.follower.get(t, canaryPrefix+"pause?id="+id+"&auth_key=k")
	expectStatus(t, r, http.StatusBadRequest)
	if r.str("error") != "Canary is already paused" {
		t.Errorf("relayed second pause answered %s", r.raw)
	}
	r = c.follower.get(t, canaryPrefix+"trigger?id=zzzzzzzz")
	expectStatus(t, r, http.StatusNotFound)
	r = c.follower.get(t, "/"+id)
	expectStatus(t, r, http.StatusOK)
	if r.body["recovered"] != false || r.body["unpaused"] != true {
		t.Errorf("relayed trigger of a paused canary answered %s", r.raw)
	}
	if !strings.Contains(c.follower.get(t, "/metrics").raw, `coal_mine_http_forwards_total{outcome="relayed"}`) {
		t.Error("relayed requests are not counted in /metrics")
	}
}

func TestRefusedRelayFallsBackToForwarding(t *testing.T) {
	c := newCluster2(t, withAuth("k"), withRelay(t, "not-the-leaders-key"))
	id := c.leader.get(t, canaryPrefix+"create?name=fallback&periodicity=3600&auth_key=k").canary()["id"].(string)
	c.leaderHits.Store(0)
	for range 3 {
		expectStatus(t, c.follower.get(t, "/"+id), http.StatusOK)
	}
	canary, _ := c.leader.fsm.Get(id)
	if triggers := canary.History.Len() - 1; triggers != 3 {
		t.Errorf("%d triggers reached the leader, want 3", triggers)
	}
	// One refused batch, then the follower stops trying for a while: three forwards.
	if hits := c.leaderHits.Load(); hits != 4 {
		t.Errorf("the leader got %d requests, want 1 refused relay and 3 forwards", hits)
	}
}

func TestRelayEndpointRefusesBadBatches(t *testing.T) {
	leader := newNode(t, nil, withAuth("k"))
	create, _ := fsm.EncodeBatch([]fsm.Command{{Type: fsm.TypeCreate, Create: &fsm.Create{ID: "abcdefgh", Name: "x", Periodicity: fsm.Periodicity{Seconds: 60}}}})
	trigger, _ := fsm.EncodeBatch([]fsm.Command{{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: "abcdefgh"}}})
	tests := []struct {
		name   string
		target string
		body   []byte
		leader bool
		status int
	}{
		{"no auth key", relayPath, trigger, true, http.StatusUnauthorized},
		{"not a batch", relayPath + "?auth_key=k", []byte("{}"), true, http.StatusBadRequest},
		{"a create", relayPath + "?auth_key=k", create, true, http.StatusBadRequest},
		{"not the leader", relayPath + "?auth_key=k", trigger, false, http.StatusMisdirectedRequest},
		{"a trigger", relayPath + "?auth_key=k", trigger, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leader.cluster.setLeader(tt.leader, "")
			r := serve(t, leader.handler, httptest.NewRequest(http.MethodPost, tt.target, bytes.NewReader(tt.body)))
			expectStatus(t, r, tt.status)
			if tt.status != http.StatusOK {
				return
			}
			results, err := fsm.DecodeResults([]byte(r.raw))
			if err != nil || len(results) != 1 || results[0].Err == nil {
				t.Errorf("trigger of a missing canary: %v, %+v", err, results)
			}
		})
	}
	if _, err := leader.fsm.Get("abcdefgh"); err == nil {
		t.Error("a relayed create was applied")
	}
}

// A relayed answer carries what the follower renders: a trigger's answer is only
// recovered and unpaused, while pause answers with the canary.
func TestRelayAnswersCarryWhatTheReplyNeeds(t *testing.T) {
	leader := newNode(t, nil, withAuth("k"))
	id := leader.mustCreate(t, "name=answers&periodicity=3600&auth_key=k")
	batch, _ := fsm.EncodeBatch([]fsm.Command{
		{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: id}},
		{Type: fsm.TypePause, Pause: &fsm.Pause{ID: id}},
		{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: id}},
	})
	r := serve(t, leader.handler, httptest.NewRequest(http.MethodPost, relayPath+"?auth_key=k", bytes.NewReader(batch)))
	expectStatus(t, r, http.StatusOK)
	results, err := fsm.DecodeResults([]byte(r.raw))
	if err != nil || len(results) != 3 {
		t.Fatalf("results: %v, %+v", err, results)
	}
	if results[0].Canary != nil || results[0].Err != nil || results[0].Recovered || results[0].Unpaused {
		t.Errorf("first trigger answered %+v", results[0])
	}
	if c := results[1].Canary; c == nil || c.ID != id || !c.Paused {
		t.Errorf("pause answered %+v", results[1])
	}
	if results[2].Canary != nil || !results[2].Unpaused {
		t.Errorf("a trigger of the paused canary answered %+v, want unpaused and no canary", results[2])
	}
}
