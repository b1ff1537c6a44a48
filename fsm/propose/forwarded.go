package propose

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// relayable are the commands a follower may relay: those a client asks for. The
// leader's own commands (mark-late, notification-sent, notification-failed) are never
// relayed, and a relayed one is refused.
var relayable = map[fsm.Type]bool{
	fsm.TypeCreate: true, fsm.TypeUpdate: true, fsm.TypeDelete: true, fsm.TypeTrigger: true,
	fsm.TypePause: true, fsm.TypeUnpause: true, fsm.TypeImport: true,
}

// maxRelayed bounds the commands of one relayed batch: a follower's proposer sends at
// most MaxBatch.
const maxRelayed = 4096

// ServeForwarded is the leader's side of the relay (cluster.Node.HandleForwarded): it
// decodes a follower's batch completely, refuses it whole if any command is not one a
// client may send, and hands the commands to this proposer, where they share entries with
// the commands that arrived here. It answers their results in order.
func (p *Proposer) ServeForwarded(ctx context.Context, payload []byte) ([]byte, error) {
	cmds, err := decodeCommands(payload)
	if err != nil {
		return nil, err
	}
	if len(cmds) == 0 || len(cmds) > maxRelayed {
		return nil, fmt.Errorf("%w: %d commands", errBadWire, len(cmds))
	}
	for _, cmd := range cmds {
		if !relayable[cmd.Type] {
			return nil, fmt.Errorf("%w: command %q cannot be relayed", errBadWire, cmd.Type)
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultApplyTimeout)
	}
	outs := make([]outcome, len(cmds))
	var wg sync.WaitGroup
	for i := range cmds {
		// The leader stamps: whatever time or version a follower set is not trusted.
		cmds[i].At, cmds[i].Version = time.Time{}, 0
		wg.Go(func() {
			res, err := p.propose(ctx, cmds[i], deadline)
			if cmds[i].Type == fsm.TypeTrigger {
				// A trigger's answer is only recovered and unpaused. Its canary, with a
				// history of up to 1,000 entries, was most of each relayed answer and
				// of the follower's work decoding it.
				res.Canary = nil
			}
			outs[i] = outcome{res: res, err: err}
		})
	}
	wg.Wait()
	return encodeResults(outs)
}
