package propose

import (
	"context"
	"fmt"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// relayable are the commands a follower may relay: those a client asks for. The
// leader's own commands (mark-late, notification-sent, notification-failed) are never
// relayed, and a relayed one is refused.
var relayable = map[fsm.Type]bool{
	fsm.TypeCreate: true, fsm.TypeUpdate: true, fsm.TypeDelete: true, fsm.TypeTrigger: true,
	fsm.TypePause: true, fsm.TypeUnpause: true, fsm.TypeImport: true, fsm.TypeSignal: true,
	fsm.TypeChannelPut: true, fsm.TypeChannelDelete: true,
}

// maxRelayed bounds the commands of one relayed batch: a follower's proposer sends at
// most MaxBatch.
const maxRelayed = 4096

// ServeForwarded is the leader's side of the relay (cluster.Node.HandleForwarded): it
// decodes a follower's batch completely, refuses it whole if any command is not one a
// client may send, and commits the rest as one entry, stamped here. It answers their
// results in order.
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
	for i := range cmds {
		// The leader stamps: whatever time or version a follower set is not trusted.
		cmds[i].At, cmds[i].Version = time.Time{}, 0
	}
	// The batch is committed as an entry of its own, at once: the follower has already
	// gathered it, and holding it in this proposer's queue for its linger would make
	// every relayed write wait for two lingers in a row (measured: a follower took 0.36
	// of the leader's writes per second that way, against 1.0 as an entry of its own).
	outs, err := p.applyEntry(ctx, cmds)
	if err != nil {
		return nil, err
	}
	for i := range cmds {
		if cmds[i].Type == fsm.TypeTrigger || cmds[i].Type == fsm.TypeSignal {
			// A trigger's answer is only recovered and unpaused. Its canary, with a
			// history of up to 1,000 entries, was most of each relayed answer and of the
			// follower's work decoding it.
			outs[i].res.Canary = nil
		}
	}
	return encodeResults(outs)
}
