package propose

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// sizedApplier commits into a real state machine after a delay and records how many
// commands each entry carried.
type sizedApplier struct {
	fsmApplier
	mu    sync.Mutex
	sizes []int
}

func (a *sizedApplier) Apply(ctx context.Context, entry []byte) (any, error) {
	cmds, err := fsm.DecodeBatch(entry)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.sizes = append(a.sizes, len(cmds))
	a.mu.Unlock()
	return a.fsmApplier.Apply(ctx, entry)
}

func (a *sizedApplier) entrySizes() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.sizes...)
}

// closedLoop runs clients that each propose a trigger, wait for it, and propose the
// next, rounds times. It fails the test if they have not finished when ctx ends.
func closedLoop(ctx context.Context, t *testing.T, p *Proposer, id string, clients, rounds int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				res, err := p.Propose(ctx, fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: id}})
				if err == nil {
					err = res.Err
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("closed loop of %d clients: %v", clients, err)
	}
}

func newLingerFixture(t *testing.T, linger time.Duration) (*Proposer, *sizedApplier, string) {
	t.Helper()
	a := &sizedApplier{fsmApplier: fsmApplier{fsm: fsm.New(), delay: 2 * time.Millisecond}}
	p := New(a, Options{Linger: linger})
	t.Cleanup(p.Close)
	res, err := p.Create(context.Background(), fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	return p, a, res.Canary.ID
}

// TestClientsAnsweredTogetherShareTheNextEntry: clients in a closed loop would split
// into two cohorts that alternate, each entry half full, if every entry left as soon as
// the last committed. The linger waits for the answered clients, so entries carry all
// of them. Time is a synctest bubble's, so the result does not depend on how loaded the
// machine is.
func TestClientsAnsweredTogetherShareTheNextEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, a, id := newLingerFixture(t, 200*time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		const clients, rounds = 32, 40
		closedLoop(ctx, t, p, id, clients, rounds)

		sizes := a.entrySizes()[1:] // after the create
		settled := sizes[len(sizes)/2:]
		total := 0
		for _, n := range settled {
			total += n
		}
		if mean := float64(total) / float64(len(settled)); mean < clients*0.9 {
			t.Errorf("entries carried %.1f commands on average once settled, want about %d (all clients): %v", mean, clients, sizes)
		}
	})
}

// TestLoneClientDoesNotLinger: one client in a closed loop is the whole target of each
// entry, so it never waits for the (hour-long) linger.
func TestLoneClientDoesNotLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, a, id := newLingerFixture(t, time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		closedLoop(ctx, t, p, id, 1, 20)
		if n := len(a.entrySizes()); n != 21 {
			t.Errorf("%d entries for a create and 20 triggers, want 21", n)
		}
	})
}

// TestLingerEnds: when the clients an entry answered do not come back, the waiting
// commands still go out once the linger has passed.
func TestLingerEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, a, id := newLingerFixture(t, 20*time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		closedLoop(ctx, t, p, id, 16, 1) // 16 clients that leave after one trigger each
		closedLoop(ctx, t, p, id, 1, 5)  // then one that the target of 16 would never admit
		sizes := a.entrySizes()
		if last := sizes[len(sizes)-5:]; last[0] != 1 || last[4] != 1 {
			t.Errorf("the lone client's entries carried %v, want one trigger each", last)
		}
	})
}
