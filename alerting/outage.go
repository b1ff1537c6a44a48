package alerting

import (
	"context"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// Outage-aware deadlines. The replicated state knows the last moment the cluster
// accepted a write (fsm.FSM.Clock); an idle leader keeps that fresh with a tick. A new
// leader that finds it older than OutageAfter knows no trigger could have been
// recorded in between (quorum lost, or the whole cluster down), and moves the
// deadlines that fell in that gap before its watcher sees them.

// outageProposeTimeout bounds the outage proposal; leadership goes on without it.
const outageProposeTimeout = 10 * time.Second

// bridgeOutage proposes an outage if the cluster accepted no write for OutageAfter.
// A failure is logged, not returned: alerting late is better than not leading.
func (s *Service) bridgeOutage(ctx context.Context) {
	last, now := s.cfg.Store.Clock(), s.now().UTC()
	if last.IsZero() || now.Sub(last) < s.cfg.OutageAfter {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, outageProposeTimeout)
	defer cancel()
	res, err := s.cfg.Proposer.Propose(ctx, fsm.Command{Type: fsm.TypeOutage,
		Outage: &fsm.Outage{From: last, To: now, AdminEmails: s.cfg.AdminEmails}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		s.log.Error("outage not recorded: deadlines that fell in it will go late", "from", last, "to", now, "err", err)
		return
	}
	s.log.Warn("the cluster accepted no writes for a while: deadlines in that time moved", "from", last, "to", now,
		"gap", now.Sub(last).Round(time.Millisecond))
}

// tick records, every TickEvery while nothing else is written, that the cluster
// accepts writes.
func (s *Service) tick(ctx context.Context) {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.now().Sub(s.cfg.Store.Clock()) < s.cfg.TickEvery {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.TickEvery)
		if _, err := s.cfg.Proposer.Propose(pctx, fsm.Command{Type: fsm.TypeTick, Tick: &fsm.Tick{}}); err != nil && ctx.Err() == nil {
			s.log.Warn("tick not committed", "err", err)
		}
		cancel()
	}
}
