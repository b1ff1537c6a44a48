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
// a real HTTP server that counts the requests it gets.
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
	c.follower.proposer.alwaysNotLeader.Store(true) // a follower cannot commit
	return c
}

func TestFollowerForwardsWritesToTheLeader(t *testing.T) {
	c := newCluster2(t, withAuth("k"))
	f := c.follower

	r := f.get(t, canaryPrefix+"create?name=fwd&periodicity=3600.0&auth_key=k")
	expectStatus(t, r, http.StatusOK)
	id := r.canary()["id"].(string)
	if r.canary()["periodicity"] != 3600.0 || r.header.Get("Content-Type") != contentTypeJSON {
		t.Errorf("forwarded answer: %v %s", r.header, r.raw)
	}
	if _, err := c.leader.fsm.Get(id); err != nil {
		t.Fatalf("canary not on the leader: %v", err)
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
		before := c.leaderHits.Load()
		r := f.do(t, tt.method, tt.target, strings.NewReader(tt.body))
		expectStatus(t, r, tt.status)
		if c.leaderHits.Load() != before+1 {
			t.Errorf("%s %s: not forwarded", tt.method, tt.target)
		}
	}
	got, _ := c.leader.fsm.Get(id)
	if got.Description != "new" || got.History.Len() != 6 || got.History.Entries()[3].Comment != "Triggered (x)" {
		t.Errorf("leader state: %+v", got)
	}

	// Answered by the follower itself: bad input, auth, and plain reads.
	before := c.leaderHits.Load()
	expectStatus(t, f.get(t, canaryPrefix+"create?name=x&auth_key=k"), http.StatusBadRequest)
	expectStatus(t, f.get(t, canaryPrefix+"create?name=x&periodicity=1"), http.StatusUnauthorized)
	expectStatus(t, f.get(t, canaryPrefix+"get?auth_key=k&id="+id), http.StatusOK)
	expectStatus(t, f.get(t, canaryPrefix+"list?auth_key=k"), http.StatusOK)
	expectStatus(t, f.get(t, clusterPrefix+"status?auth_key=k"), http.StatusOK)
	if c.leaderHits.Load() != before {
		t.Error("the follower forwarded bad input or a plain read")
	}
	if n := f.proposer.calls.Load(); n != 0 {
		t.Errorf("the follower proposed %d commands", n)
	}
}

func TestConsistentReadsGoThroughTheLeader(t *testing.T) {
	c := newCluster2(t)
	id := c.leader.mustCreate(t, "name=cons&periodicity=60")
	for _, target := range []string{canaryPrefix + "get?consistent=true&id=" + id, canaryPrefix + "list?consistent=1"} {
		before := c.leaderHits.Load()
		expectStatus(t, c.follower.get(t, target), http.StatusOK)
		if c.leaderHits.Load() != before+1 {
			t.Errorf("%s: not forwarded", target)
		}
	}
	c.leader.cluster.mu.Lock()
	verified := c.leader.cluster.verifies
	c.leader.cluster.mu.Unlock()
	if verified != 2 {
		t.Errorf("leader verified leadership %d times, want 2", verified)
	}
	// A leader that cannot verify its leadership answers 503 after the wait.
	c.leader.cluster.mu.Lock()
	c.leader.cluster.verifyErr = context.DeadlineExceeded
	c.leader.cluster.mu.Unlock()
	r := c.leader.get(t, canaryPrefix+"get?consistent=yes&id="+id)
	expectStatus(t, r, http.StatusServiceUnavailable)
}

func TestForwardedRequestIsNeverForwardedAgain(t *testing.T) {
	c := newCluster2(t, withElectionWait(50*time.Millisecond))
	id := c.leader.mustCreate(t, "name=loop&periodicity=60")
	req := httptest.NewRequest(http.MethodGet, "/"+id, nil)
	req.Header.Set(forwardedHeader, "1")
	r := serve(t, c.follower.handler, req)
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "1" || !strings.HasPrefix(r.str("error"), "no leader") {
		t.Errorf("503 answer: %v %s", r.header, r.raw)
	}
	if c.leaderHits.Load() != 0 {
		t.Error("a forwarded request was forwarded again")
	}
	// The same header on the leader is just a request.
	req = httptest.NewRequest(http.MethodGet, "/"+id, nil)
	req.Header.Set(forwardedHeader, "1")
	expectStatus(t, serve(t, c.leader.handler, req), http.StatusOK)
}

func TestNoLeaderAnswers503AfterTheWait(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(n *node)
	}{
		{"no leader known", func(n *node) { n.cluster.setLeader(false, "") }},
		{"proposals keep failing with not-leader", func(n *node) { n.proposer.alwaysNotLeader.Store(true) }},
		{"leader unreachable", func(n *node) { n.cluster.setLeader(false, closedAddr(t)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, nil, withElectionWait(60*time.Millisecond))
			tt.setup(n)
			for _, target := range []string{canaryPrefix + "create?name=x&periodicity=60", "/abcdefgh"} {
				r := n.get(t, target)
				expectStatus(t, r, http.StatusServiceUnavailable)
				if r.header.Get("Retry-After") != "1" || !strings.HasPrefix(r.str("error"), "no leader") {
					t.Errorf("503 answer: %v %s", r.header, r.raw)
				}
				for _, leak := range []string{"dial", "refused", "127.0.0.1", "tcp"} {
					if strings.Contains(r.raw, leak) {
						t.Errorf("transport error shown to the client: %s", r.raw)
					}
				}
			}
		})
	}
}

func TestWritesWaitOutAnElection(t *testing.T) {
	t.Run("this node wins", func(t *testing.T) {
		n := newNode(t, nil, withElectionWait(5*time.Second))
		n.cluster.setLeader(false, "")
		n.cluster.becomeLeaderOnWait = true
		expectStatus(t, n.get(t, canaryPrefix+"create?name=x&periodicity=60"), http.StatusOK)
	})
	t.Run("leadership lost and regained", func(t *testing.T) {
		n := newNode(t, nil, withElectionWait(5*time.Second))
		n.proposer.notLeader.Store(2)
		expectStatus(t, n.get(t, canaryPrefix+"create?name=x&periodicity=60"), http.StatusOK)
		if calls := n.proposer.calls.Load(); calls != 3 {
			t.Errorf("%d proposals, want 3", calls)
		}
	})
	t.Run("another node wins", func(t *testing.T) {
		c := newCluster2(t, withElectionWait(5*time.Second))
		c.follower.cluster.setLeader(false, closedAddr(t))
		time.AfterFunc(30*time.Millisecond, func() {
			c.follower.cluster.setLeader(false, strings.TrimPrefix(c.leaderURL, "http://"))
		})
		r := c.follower.get(t, canaryPrefix+"create?name=elected&periodicity=60")
		expectStatus(t, r, http.StatusOK)
		if _, err := c.leader.fsm.IDByName("elected"); err != nil {
			t.Error("not created on the new leader")
		}
		if !strings.Contains(c.follower.logText(), "forward to leader failed") {
			t.Error("the transport error was not logged")
		}
	})
}

func TestCommitFailureIs503(t *testing.T) {
	n := newNode(t, nil)
	n.proposer.failWith = context.DeadlineExceeded
	r := n.get(t, canaryPrefix+"create?name=x&periodicity=60")
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "1" || strings.Contains(r.raw, "deadline") {
		t.Errorf("answer: %v %s", r.header, r.raw)
	}
	if !strings.Contains(n.logText(), "commit failed") {
		t.Error("commit failure not logged")
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
