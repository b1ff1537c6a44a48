package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// testStart is the fake clock's start: a Monday, with microseconds, so timestamps
// show their fraction.
var testStart = time.Date(2024, 1, 1, 12, 0, 0, 123456000, time.UTC)

// clock is a settable clock shared by a node's proposer and handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeProposer applies commands to a real state machine, as a single-node leader would.
type fakeProposer struct {
	fsm   *fsm.FSM
	now   func() time.Time
	calls atomic.Int32
	// notLeader makes the next n proposals fail with the cluster's not-leader error.
	notLeader atomic.Int32
	// alwaysNotLeader makes every proposal fail with the cluster's not-leader error.
	alwaysNotLeader atomic.Bool
	// failWith makes every proposal fail with this error (not committed).
	failWith error
}

func (p *fakeProposer) Propose(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	p.calls.Add(1)
	if p.alwaysNotLeader.Load() || p.notLeader.Add(-1) >= 0 {
		return fsm.Result{}, fmt.Errorf("apply: %w", errNotLeader)
	}
	if p.failWith != nil {
		return fsm.Result{}, p.failWith
	}
	cmd.Version = fsm.CommandVersion
	cmd.StampRules() // as the real proposer
	cmd.At = p.now().UTC().Truncate(time.Microsecond)
	return p.fsm.ApplyCommands([]fsm.Command{cmd})[0], nil
}

func (p *fakeProposer) ProposeWithin(ctx context.Context, cmd fsm.Command, timeout time.Duration) (fsm.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.Propose(ctx, cmd)
}

// randomID draws eight lower-case letters, as the real write path does.
func randomID() string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

func (p *fakeProposer) Create(ctx context.Context, c fsm.Create, taken func(string) bool) (fsm.Result, error) {
	for {
		c.ID = randomID()
		if !taken(c.ID) {
			return p.Propose(ctx, fsm.Command{Type: fsm.TypeCreate, Create: &c})
		}
	}
}

// fakeCluster is a settable leadership signal and a recorder of operator calls.
type fakeCluster struct {
	mu         sync.Mutex
	leader     bool
	leaderAddr string
	leaderID   string
	ready      bool
	caughtUp   chan struct{} // nil: caught up
	// becomeLeaderOnWait makes WaitLeader turn this node into the leader.
	becomeLeaderOnWait bool
	// readErr fails ConsistentRead; notLeaderReads fails the next n with not-leader.
	readErr error
	// catchUp runs at the start of each ConsistentRead: what this node applies once it
	// has caught up with the leader.
	catchUp func()
	// ownWritesErr fails AwaitOwnWrites: this node has not applied its own writes yet.
	ownWritesErr   error
	notLeaderReads int
	reads          int
	removed        []string
	transferredTo  []string
	opErr          error
	backup         []byte
	backupErr      error
	backupErrAfter bool // write the backup, then fail
	restored       []byte
	storageErr     error // what StorageError says
}

func (c *fakeCluster) StorageError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.storageErr
}

func (c *fakeCluster) IsLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

func (c *fakeCluster) LeaderHTTPAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaderAddr
}

func (c *fakeCluster) setLeader(leader bool, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader, c.leaderAddr = leader, addr
}

func (c *fakeCluster) WaitLeader(ctx context.Context) error {
	c.mu.Lock()
	if c.becomeLeaderOnWait {
		c.leader = true
	}
	known := c.leader || c.leaderAddr != ""
	c.mu.Unlock()
	if known {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (c *fakeCluster) ConsistentRead(ctx context.Context) error {
	c.mu.Lock()
	catchUp := c.catchUp
	c.mu.Unlock()
	if catchUp != nil {
		catchUp()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if c.notLeaderReads > 0 {
		c.notLeaderReads--
		return fmt.Errorf("read index: %w", errNotLeader)
	}
	return c.readErr
}

func (c *fakeCluster) AwaitOwnWrites(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownWritesErr
}

func (c *fakeCluster) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

func (c *fakeCluster) CaughtUp() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caughtUp == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return c.caughtUp
}

func (c *fakeCluster) Status() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	state := "follower"
	if c.leader {
		state = "leader"
	}
	return map[string]any{"node_id": "n1", "state": state, "leader_id": c.leaderID, "term": 3}
}

func (c *fakeCluster) RemovePeer(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opErr != nil {
		return c.opErr
	}
	c.removed = append(c.removed, id)
	return nil
}

func (c *fakeCluster) TransferLeadership(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opErr != nil {
		return c.opErr
	}
	c.transferredTo = append(c.transferredTo, id)
	c.leaderID = "n2"
	return nil
}

func (c *fakeCluster) LeaderID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaderID
}

func (c *fakeCluster) Backup(ctx context.Context, w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.backupErr != nil && !c.backupErrAfter {
		return c.backupErr
	}
	if _, err := w.Write(c.backup); err != nil {
		return err
	}
	return c.backupErr
}

func (c *fakeCluster) Restore(ctx context.Context, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opErr != nil {
		return c.opErr
	}
	c.restored = data
	return nil
}

// node is one coal-mine HTTP layer over a real state machine and fakes.
type node struct {
	fsm      *fsm.FSM
	proposer *fakeProposer
	cluster  *fakeCluster
	clock    *clock
	handler  http.Handler
	logs     *testkit.Buffer
}

type nodeOption func(*Config)

func withAuth(key string) nodeOption { return func(c *Config) { c.AuthKey = key } }

func withElectionWait(d time.Duration) nodeOption {
	return func(c *Config) { c.ElectionWait = d }
}

// newNode makes a leader (unless changed through n.cluster) with its own state, or
// over state shared with another node (replication in a cluster), when state is set.
func newNode(t testing.TB, state *fsm.FSM, opts ...nodeOption) *node {
	t.Helper()
	if state == nil {
		state = fsm.New()
	}
	n := &node{
		fsm:     state,
		cluster: &fakeCluster{leader: true, ready: true, leaderID: "n1"},
		clock:   &clock{t: testStart},
		logs:    &testkit.Buffer{},
	}
	n.proposer = &fakeProposer{fsm: state, now: n.clock.Now}
	cfg := Config{
		Store:        state,
		Writer:       n.proposer,
		Cluster:      n.cluster,
		Logger:       slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          n.clock.Now,
		ElectionWait: 200 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	n.handler = NewHandler(cfg)
	return n
}

func (n *node) logText() string {
	return n.logs.String()
}

// response is a recorded answer with its JSON body decoded.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r response) canary() map[string]any {
	c, _ := r.body["canary"].(map[string]any)
	return c
}

// do sends one request to the handler; body may be nil.
func (n *node) do(t testing.TB, method, target string, body io.Reader) response {
	t.Helper()
	return serve(t, n.handler, httptest.NewRequest(method, target, body))
}

func (n *node) get(t testing.TB, target string) response {
	t.Helper()
	return n.do(t, http.MethodGet, target, nil)
}

func serve(t testing.TB, h http.Handler, req *http.Request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return decode(t, rec.Code, rec.Header(), rec.Body.Bytes())
}

func decode(t testing.TB, status int, header http.Header, raw []byte) response {
	t.Helper()
	r := response{status: status, header: header, raw: string(raw)}
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("answer is not a JSON object: %v\n%s", err, raw)
		}
	}
	return r
}

// send makes a real HTTP request (for tests through httptest servers).
func send(t testing.TB, method, url string, body io.Reader, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp.StatusCode, resp.Header, raw)
}

// mustCreate creates a canary and returns its id.
func (n *node) mustCreate(t testing.TB, query string) string {
	t.Helper()
	r := n.get(t, canaryPrefix+"create?"+query)
	if r.status != http.StatusOK {
		t.Fatalf("create %s: %d %s", query, r.status, r.raw)
	}
	return r.canary()["id"].(string)
}

func expectStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
}

func expectError(t testing.TB, r response, status int, msg string) {
	t.Helper()
	expectStatus(t, r, status)
	if r.str("status") != "error" || r.str("error") != msg {
		t.Fatalf("error body %s, want error %q", r.raw, msg)
	}
}
