package propose

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// commentApplier commits into a real state machine after a delay and records the
// comments of the triggers each entry carried, in order.
type commentApplier struct {
	fsmApplier
	mu      sync.Mutex
	entries [][]string
}

func (a *commentApplier) Apply(ctx context.Context, entry []byte) (any, error) {
	cmds, err := fsm.DecodeBatch(entry)
	if err != nil {
		return nil, err
	}
	var comments []string
	for _, c := range cmds {
		if c.Trigger != nil {
			comments = append(comments, c.Trigger.Comment)
		}
	}
	a.mu.Lock()
	a.entries = append(a.entries, comments)
	a.mu.Unlock()
	return a.fsmApplier.Apply(ctx, entry)
}

func (a *commentApplier) sent() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.entries)
}

// TestClientsGoAheadOfBackground: with a backlog of background commands (a storm of
// mark-lates) and one background entry in flight, the clients' commands go out at once,
// first in their entry, and no entry carries more than MaxBackground background ones.
func TestClientsGoAheadOfBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &commentApplier{fsmApplier: fsmApplier{fsm: fsm.New(), delay: 10 * time.Millisecond}}
		p := New(a, Options{MaxBatch: 8, MaxBackground: 2, MaxInFlight: 2})
		defer p.Close()
		ctx := context.Background()
		res, err := p.Create(ctx, fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
		if err != nil || res.Err != nil {
			t.Fatalf("create: %v %v", err, res.Err)
		}
		trigger := func(comment string) fsm.Command {
			return fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: res.Canary.ID, Comment: comment}}
		}
		const backlog, clients = 20, 5
		var wg sync.WaitGroup
		propose := func(n int, do func() (fsm.Result, error)) {
			for range n {
				wg.Go(func() {
					if res, err := do(); err != nil || res.Err != nil {
						t.Errorf("propose: %v %v", err, res.Err)
					}
				})
			}
		}
		propose(backlog, func() (fsm.Result, error) { return p.Background().Propose(ctx, trigger("background")) })
		synctest.Wait()
		if got := len(a.sent()); got != 2 { // the create, and one background entry
			t.Fatalf("%d entries sent with a background backlog, want 2: the last place in flight is the clients'", got)
		}
		propose(clients, func() (fsm.Result, error) { return p.Propose(ctx, trigger("client")) })
		synctest.Wait()
		if sent := a.sent(); len(sent) != 3 || sent[2][0] != "client" {
			t.Fatalf("entries sent once the clients queued: %q; want a third, led by a client's command", sent)
		}
		wg.Wait()
		total, lastClient := 0, 0
		for i, entry := range a.sent() {
			n := 0
			for _, c := range entry {
				switch {
				case c == "background":
					n++
				case n > 0:
					t.Errorf("a client's command came after a background one: %q", entry)
				default:
					lastClient = i
				}
			}
			if n > 2 {
				t.Errorf("an entry carried %d background commands, more than MaxBackground 2: %q", n, entry)
			}
			total += n
		}
		// The create, the background entry in flight, the first client's entry, and the
		// one with the clients that queued behind it: not behind ten background entries.
		if lastClient > 3 {
			t.Errorf("the last client's command went out in entry %d of %d, want by the fourth", lastClient+1, len(a.sent()))
		}
		if total != backlog {
			t.Errorf("%d background commands committed, want %d", total, backlog)
		}
	})
}
