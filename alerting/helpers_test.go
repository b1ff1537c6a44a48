package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// applyProposer stamps commands like propose.Proposer and applies them to a real FSM
// directly, one command per entry. hook, if set, runs first and may block or fail.
type applyProposer struct {
	f        *fsm.FSM
	hook     atomic.Pointer[func(context.Context, *fsm.Command) error]
	inflight atomic.Int32

	mu   sync.Mutex
	cmds []fsm.Command // committed, in order
}

func (p *applyProposer) setHook(h func(context.Context, *fsm.Command) error) { p.hook.Store(&h) }

func (p *applyProposer) Propose(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	if h := p.hook.Load(); h != nil && *h != nil {
		if err := (*h)(ctx, &cmd); err != nil {
			return fsm.Result{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return fsm.Result{}, err
	}
	cmd.Version = fsm.CommandVersion
	if cmd.At.IsZero() {
		cmd.At = time.Now().UTC().Truncate(time.Microsecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cmds = append(p.cmds, cmd)
	return p.f.ApplyCommands([]fsm.Command{cmd})[0], nil
}

// committed returns the committed commands of one type.
func (p *applyProposer) committed(typ fsm.Type) []fsm.Command {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fsm.Command
	for _, c := range p.cmds {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// recorder is a Notifier that keeps what it is given and can be made to fail.
type recorder struct {
	mu       sync.Mutex
	msgs     []Message
	attempts int
	fail     func(Message) error
}

func (r *recorder) Notify(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) setFail(f func(Message) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

func (r *recorder) attemptCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// node is one alerting service on its own state machine.
type node struct {
	f      *fsm.FSM
	svc    *Service
	prop   *applyProposer
	notify *recorder
	log    *testkit.Buffer
}

type nodeOption func(*Config)

func startNode(t *testing.T, opts ...nodeOption) *node {
	t.Helper()
	n := &node{f: fsm.New(), notify: &recorder{}, log: &testkit.Buffer{}}
	n.prop = &applyProposer{f: n.f}
	cfg := Config{
		Store:    n.f,
		Proposer: n.prop,
		Notifier: n.notify,
		Sender:   "coal-mine@example.com",
		Logger:   slog.New(slog.NewTextHandler(n.log, nil)),
		RetryMin: 10 * time.Millisecond,
		RetryMax: 40 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	n.svc = New(cfg)
	t.Cleanup(func() {
		n.svc.Revoke()
		if n.svc.Active() {
			t.Error("still active after Revoke")
		}
	})
	return n
}

// lead establishes the service, as the cluster's leader loop does once the node leads.
func lead(t *testing.T, n *node) {
	t.Helper()
	if err := n.svc.Establish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !n.svc.Active() {
		t.Fatal("not active once established")
	}
}

var idCounter atomic.Int64

// create makes a canary due after period, with a fresh id.
func (n *node) create(t *testing.T, name string, period time.Duration, emails ...string) string {
	t.Helper()
	i := idCounter.Add(1)
	id := fmt.Sprintf("%c%c%c%caaaa", 'a'+i/17576%26, 'a'+i/676%26, 'a'+i/26%26, 'a'+i%26)
	res := n.f.ApplyCommands([]fsm.Command{{
		Type: fsm.TypeCreate, Version: fsm.CommandVersion, At: time.Now().UTC().Truncate(time.Microsecond),
		Create: &fsm.Create{ID: id, Name: name, Periodicity: fsm.Periodicity{Seconds: period.Seconds()}, Emails: emails},
	}})
	if res[0].Err != nil {
		t.Fatalf("create %s: %v", name, res[0].Err)
	}
	return id
}

func (n *node) trigger(t *testing.T, id string) {
	t.Helper()
	res := n.f.ApplyCommands([]fsm.Command{{
		Type: fsm.TypeTrigger, Version: fsm.CommandVersion, At: time.Now().UTC().Truncate(time.Microsecond),
		Trigger: &fsm.Trigger{ID: id},
	}})
	if res[0].Err != nil {
		t.Fatalf("trigger %s: %v", id, res[0].Err)
	}
}

func (n *node) canary(t *testing.T, id string) *fsm.Canary {
	t.Helper()
	c, err := n.f.Get(id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return c
}

// lateDelays returns how long after its deadline each committed mark-late was stamped.
func lateDelays(p *applyProposer) []time.Duration {
	var out []time.Duration
	for _, c := range p.committed(fsm.TypeMarkLate) {
		out = append(out, c.At.Sub(c.MarkLate.Deadline))
	}
	return out
}

func kinds(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Headers["X-Coal-Mine-Event"] + " " + m.Headers["X-Coal-Mine-Canary"]
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
