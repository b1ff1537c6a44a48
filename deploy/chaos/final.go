package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"syscall"
	"time"
)

// After the workload: heal everything, bring every node back, stop the pulse canaries
// from going late again, wait for the nodes to converge and the mail to settle, and
// collect what the checks read.

const (
	convergeTimeout = 60 * time.Second
	mailTimeout     = 30 * time.Second
	mailQuiet       = 3 * time.Second
)

// heal removes every partition, continues every paused node and starts every node that
// is down, then waits until the cluster is healthy.
func (cp *campaign) heal(ctx context.Context) error {
	if err := cp.fw.heal(ctx); err != nil {
		cp.log.printf("heal partitions: %v", err)
	}
	for _, n := range cp.c.nodes {
		if n.running() {
			_ = n.signal(syscall.SIGCONT)
			continue
		}
		cp.log.printf("final heal: %s is down, starting it", n.name)
		cp.c.start(ctx, n)
	}
	return cp.c.waitHealthy(ctx, 2*healthyTimeout)
}

// pausePulses pauses the pulse canaries, so that no transition happens after the run.
// A pause keeps the late flag, so each ends late or not as its mails say.
func (cp *campaign) pausePulses(ctx context.Context, fin *client) error {
	for _, p := range cp.pulses {
		err := waitFor(ctx, 30*time.Second, 200*time.Millisecond, func() error {
			op := Op{Kind: OpPause, CanaryID: p.id, Name: p.name, By: "id"}
			fin.send(ctx, &op, http.MethodPost, apiPrefix+"pause", url.Values{"id": {p.id}, "comment": {"end of the campaign"}})
			fin.rec.add(op)
			if op.Outcome() == Acked || (op.Status == 400 && op.Error == "Canary is already paused") {
				return nil
			}
			return fmt.Errorf("pause %s: HTTP %d %s", p.id, op.Status, op.Error)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// converge waits until every node lists the same canaries, verbose, and returns them:
// when they do not converge in time, the last lists of the nodes that answered.
func (cp *campaign) converge(ctx context.Context) (states []NodeState, converged bool, divergence string) {
	err := waitFor(ctx, convergeTimeout, 500*time.Millisecond, func() error {
		states = states[:0]
		var canon [][]byte
		var names []string
		var errs []error
		for _, n := range cp.c.nodes {
			st, raw, err := cp.listVerbose(ctx, n)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			states = append(states, st)
			canon = append(canon, raw)
			names = append(names, n.name)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for i := 1; i < len(canon); i++ {
			if !bytes.Equal(canon[0], canon[i]) {
				return fmt.Errorf("%s and %s list different canaries", names[0], names[i])
			}
		}
		return nil
	})
	if err != nil {
		return states, false, err.Error()
	}
	return states, true, ""
}

// listVerbose reads a node's list?verbose=true: as NodeState, and as canonical JSON
// (canaries by id, keys sorted) for comparing nodes byte for byte.
func (cp *campaign) listVerbose(ctx context.Context, n *node) (NodeState, []byte, error) {
	st := NodeState{Node: n.name, Canaries: make(map[string]*Canary)}
	ans, err := cp.api.call(ctx, n, http.MethodGet, apiPrefix+"list", url.Values{"verbose": {"true"}})
	if err != nil {
		return st, nil, err
	}
	if !ans.ok() {
		return st, nil, fmt.Errorf("list on %s: HTTP %d %s", n.name, ans.status, ans.errorText())
	}
	var typed struct {
		Canaries []canaryJSON `json:"canaries"`
	}
	var generic struct {
		Canaries []map[string]any `json:"canaries"`
	}
	if err := json.Unmarshal(ans.body, &typed); err != nil {
		return st, nil, fmt.Errorf("list on %s: %w", n.name, err)
	}
	if err := json.Unmarshal(ans.body, &generic); err != nil {
		return st, nil, fmt.Errorf("list on %s: %w", n.name, err)
	}
	for i := range typed.Canaries {
		c, err := typed.Canaries[i].toCanary()
		if err != nil {
			return st, nil, fmt.Errorf("list on %s: %w", n.name, err)
		}
		st.Canaries[c.ID] = c
	}
	sort.Slice(generic.Canaries, func(i, j int) bool {
		return fmt.Sprint(generic.Canaries[i]["id"]) < fmt.Sprint(generic.Canaries[j]["id"])
	})
	canon, err := json.Marshal(generic.Canaries)
	return st, canon, err
}

// settleMail waits until the mails agree with the final state (the leader may still be
// sending), then until none has arrived for mailQuiet, and returns them.
func (cp *campaign) settleMail(ctx context.Context, run *Run) error {
	ix := newOpIndex(run.Ops)
	err := waitFor(ctx, mailTimeout, 250*time.Millisecond, func() error {
		if err := cp.readMail(run); err != nil {
			return err
		}
		if r := checkMail(run, ix); !r.Passed() {
			return fmt.Errorf("mail does not agree with the final state yet: %s", r.Violations[0].Evidence)
		}
		return nil
	})
	if err != nil {
		cp.log.printf("mail: %v", err) // the check will report it
	}
	last := len(cp.sink.Messages())
	quietSince := time.Now()
	_ = waitFor(ctx, 4*mailQuiet, 250*time.Millisecond, func() error {
		if n := len(cp.sink.Messages()); n != last {
			last, quietSince = n, time.Now()
		}
		if time.Since(quietSince) < mailQuiet {
			return fmt.Errorf("mail still arriving")
		}
		return nil
	})
	return cp.readMail(run)
}

func (cp *campaign) readMail(run *Run) error {
	mails, dup, err := parseMails(cp.sink.Messages())
	if err != nil {
		return err
	}
	run.Mails, run.Duplicates = mails, dup
	return nil
}
