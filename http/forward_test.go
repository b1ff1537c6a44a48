package http

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// cluster2 is a leader and a follower over one replicated state, the leader served by
// a real HTTP server that counts the requests it gets. The follower's write path commits
// into the shared state, as the real one does through the leader.
type cluster2 struct {
	leader, follower *node
	leaderURL        string
	leaderHits       atomic.Int32
}

func newCluster2(t *testing.T, opts ...nodeOption) *cluster2 {
	t.Helper()
	state := fsm.New()
	c := &cluster2{leader: newNode(t, state, opts...), follower: newNode(t, state, opts...)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.leaderHits.Add(1)
		c.leader.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.leaderURL = srv.URL
	c.follower.cluster.setLeader(false, srv.Listener.Addr().String())
	c.follower.cluster.leaderID = "n1"
	return c
}

// TestFollowerWritesThroughItsWritePath: every write a follower gets goes to its write
// path (which brings it to the leader): no HTTP request is proxied, and the answer is
// rendered as the leader's state has it.
func TestFollowerWritesThroughItsWritePath(t *testing.T) {
	c := newCluster2(t, withAuth("k"))
	f := c.follower

	r := f.get(t, canaryPrefix+"create?name=fwd&periodicity=3600.0&auth_key=k")
	expectStatus(t, r, http.StatusOK)
	id := r.canary()["id"].(string)
	if r.canary()["periodicity"] != 3600.0 || r.header.Get("Content-Type") != contentTypeJSON {
		t.Errorf("answer: %v %s", r.header, r.raw)
	}
	for _, tt := range []struct {
		method, target, body string
		status               int
	}{
		{http.MethodGet, "/" + id, "", http.StatusOK},
		{http.MethodPost, "/" + id + "?m=posted", "body", http.StatusOK},
		{http.MethodPost, canaryPrefix + "trigger?slug=fwd&comment=x", "", http.StatusOK},
		{http.MethodGet, canaryPrefix + "pause?auth_key=k&id=" + id, "", http.StatusOK},
		{http.MethodGet, canaryPrefix + "pause?auth_key=k&id=" + id, "", http.StatusBadRequest},
		{http.MethodGet, canaryPrefix + "unpause?auth_key=k&name=fwd", "", http.StatusOK},
		{http.MethodGet, canaryPrefix + "update?auth_key=k&id=" + id + "&description=new", "", http.StatusOK},
		{http.MethodGet, canaryPrefix + "trigger?id=zzzzzzzz", "", http.StatusNotFound},
	} {
		expectStatus(t, f.do(t, tt.method, tt.target, strings.NewReader(tt.body)), tt.status)
	}
	got, _ := c.leader.fsm.Get(id)
	if got.Description != "new" || got.History.Len() != 6 || got.History.Entries()[3].Comment != "Triggered (x)" {
		t.Errorf("leader state: %+v", got)
	}
	if n := f.proposer.calls.Load(); n != 9 {
		t.Errorf("the write path got %d commands, want 9", n)
	}
	// Answered by the follower itself: bad input and auth.
	expectStatus(t, f.get(t, canaryPrefix+"create?name=x&auth_key=k"), http.StatusBadRequest)
	expectStatus(t, f.get(t, canaryPrefix+"create?name=x&periodicity=1"), http.StatusUnauthorized)
	if n := f.proposer.calls.Load(); n != 9 {
		t.Errorf("bad input reached the write path (%d commands)", n)
	}
	if c.leaderHits.Load() != 0 {
		t.Errorf("%d requests were proxied to the leader", c.leaderHits.Load())
	}
}

// TestConsistentReadsAskTheCluster: a consistent read waits for the cluster to confirm
// this node's state is current, through a leader election, then reads locally.
func TestConsistentReadsAskTheCluster(t *testing.T) {
	c := newCluster2(t)
	id := c.leader.mustCreate(t, "name=cons&periodicity=60")
	c.follower.cluster.notLeaderReads = 2 // an election is under way
	for _, target := range []string{canaryPrefix + "get?consistent=true&id=" + id, canaryPrefix + "list?consistent=1"} {
		expectStatus(t, c.follower.get(t, target), http.StatusOK)
	}
	c.follower.cluster.mu.Lock()
	reads := c.follower.cluster.reads
	c.follower.cluster.mu.Unlock()
	if reads != 4 {
		t.Errorf("%d consistent reads asked, want 4 (two retried through the election)", reads)
	}
	if c.leaderHits.Load() != 0 {
		t.Error("a read was proxied to the leader")
	}
	// A node that cannot confirm its state answers 503.
	c.follower.cluster.mu.Lock()
	c.follower.cluster.readErr = context.DeadlineExceeded
	c.follower.cluster.mu.Unlock()
	r := c.follower.get(t, canaryPrefix+"get?consistent=yes&id="+id)
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("503 without Retry-After: %v", r.header)
	}
}

// TestNoLeaderAnswers503: a write that found no leader, and a consistent read that
// found none within the election wait, answer 503 with Retry-After and say so, without
// a transport error's details.
func TestNoLeaderAnswers503(t *testing.T) {
	n := newNode(t, nil, withElectionWait(60*time.Millisecond))
	n.proposer.alwaysNotLeader.Store(true)
	n.cluster.notLeaderReads = 1 << 20
	for _, target := range []string{canaryPrefix + "create?name=x&periodicity=60", "/abcdefgh", canaryPrefix + "get?id=abcdefgh&consistent=1"} {
		r := n.get(t, target)
		expectStatus(t, r, http.StatusServiceUnavailable)
		if r.header.Get("Retry-After") != "1" || !strings.HasPrefix(r.str("error"), "no leader") {
			t.Errorf("%s: 503 answer: %v %s", target, r.header, r.raw)
		}
	}
}

// TestCommitFailureIs503: a write that may or may not have been committed answers 503
// saying so, and is logged.
func TestCommitFailureIs503(t *testing.T) {
	n := newNode(t, nil)
	n.proposer.failWith = context.DeadlineExceeded
	r := n.get(t, canaryPrefix+"create?name=x&periodicity=60")
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "1" || strings.Contains(r.raw, "deadline") || !strings.Contains(r.str("error"), "may still be applied") {
		t.Errorf("answer: %v %s", r.header, r.raw)
	}
	if !strings.Contains(n.logText(), "commit failed") {
		t.Error("commit failure not logged")
	}
}

// TestForwardedRestoreIsNeverForwardedAgain: a restore upload that a follower streamed
// on is not streamed on again by a node that is not the leader either.
func TestForwardedRestoreIsNeverForwardedAgain(t *testing.T) {
	c := newCluster2(t, withElectionWait(50*time.Millisecond))
	req := httptest.NewRequest(http.MethodPost, clusterPrefix+"snapshot", strings.NewReader("backup"))
	req.Header.Set(forwardedHeader, "1")
	r := serve(t, c.follower.handler, req)
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "1" || !strings.HasPrefix(r.str("error"), "no leader") {
		t.Errorf("503 answer: %v %s", r.header, r.raw)
	}
	if c.leaderHits.Load() != 0 {
		t.Error("a forwarded request was forwarded again")
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
