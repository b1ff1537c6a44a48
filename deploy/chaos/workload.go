package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The workload: clients that each send one request at a time to a random node, and
// record it.

// Canaries the workload knows: only those whose create was acknowledged (a create with
// an unknown outcome may or may not exist, so nothing is sent to it).
type canaryRef struct {
	id, name, slug string
	pulse          bool
	triggers       int // sent so far, under registry.mu
}

type registry struct {
	mu      sync.Mutex
	all     []*canaryRef
	regular []*canaryRef // what the clients trigger: not the pulse canaries
}

func (r *registry) add(c *canaryRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, c)
	if !c.pulse {
		r.regular = append(r.regular, c)
	}
}

// Hot canaries get half the triggers, so that some histories grow long and many
// triggers of one canary are concurrent; maxTriggers keeps a history well below the
// server's pruning bound, and the consistent reads' copies of it small.
const (
	hotCanaries = 12
	maxTriggers = 300
)

// forTrigger picks a regular canary to trigger, and counts the trigger.
func (r *registry) forTrigger(rng *rand.Rand) *canaryRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.regular) == 0 {
		return nil
	}
	for range 10 {
		pool := r.regular
		if rng.IntN(2) == 0 {
			pool = pool[:min(len(pool), hotCanaries)]
		}
		c := pool[rng.IntN(len(pool))]
		if c.triggers < maxTriggers {
			c.triggers++
			return c
		}
	}
	return nil
}

// forRead picks any canary.
func (r *registry) forRead(rng *rand.Rand) *canaryRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return nil
	}
	return r.all[rng.IntN(len(r.all))]
}

// client is one workload client.
type client struct {
	name  string
	rng   *rand.Rand
	api   *api
	nodes []*node
	reg   *registry
	rec   *recorder
	n     int // requests sent, for unique tokens and names
}

// The mix of a regular client's requests, as cumulative shares.
var mix = []struct {
	upTo float64
	do   func(*client, context.Context)
}{
	{0.04, (*client).create},
	{0.34, func(c *client, ctx context.Context) {
		c.trigger(ctx, c.reg.forTrigger(c.rng), c.pickWay("id", "short"))
	}},
	{0.44, func(c *client, ctx context.Context) { c.trigger(ctx, c.reg.forTrigger(c.rng), "slug") }},
	{0.52, func(c *client, ctx context.Context) { c.trigger(ctx, c.reg.forTrigger(c.rng), "name") }},
	{0.66, func(c *client, ctx context.Context) { c.get(ctx, true) }},
	{0.90, func(c *client, ctx context.Context) { c.get(ctx, false) }},
	{0.96, func(c *client, ctx context.Context) { c.list(ctx, false) }},
	{1.00, func(c *client, ctx context.Context) { c.list(ctx, true) }},
}

// run sends requests until ctx ends, with a short random pause between them.
func (c *client) run(ctx context.Context) {
	defer crashGuard()
	for ctx.Err() == nil {
		x := c.rng.Float64()
		for _, m := range mix {
			if x < m.upTo {
				m.do(c, ctx)
				break
			}
		}
		pause(ctx, time.Duration(5+c.rng.IntN(30))*time.Millisecond)
	}
}

func (c *client) pickWay(ways ...string) string { return ways[c.rng.IntN(len(ways))] }

func (c *client) node() *node { return c.nodes[c.rng.IntN(len(c.nodes))] }

// send runs one request, fills in the op's node, times and outcome, and returns the
// answer; the caller records the op once it has read the answer.
func (c *client) send(ctx context.Context, op *Op, method, path string, params url.Values) answer {
	return c.sendTo(ctx, c.node(), op, method, path, params)
}

// sendTo is send to a given node.
func (c *client) sendTo(ctx context.Context, n *node, op *Op, method, path string, params url.Values) answer {
	op.Client, op.Node = c.name, n.name
	op.Start = time.Now()
	ans, err := c.api.call(ctx, n, method, path, params)
	op.End = time.Now()
	op.Status, op.OK = ans.status, err == nil && ans.ok()
	switch {
	case err != nil:
		op.Error = err.Error()
	case !op.OK:
		op.Error = ans.errorText()
	}
	return ans
}

const apiPrefix = "/coal-mine/v1/canary/"

func (c *client) create(ctx context.Context) {
	c.n++
	// Mixed case and punctuation: lookups by name go through the slug.
	name := fmt.Sprintf("Chaos %s-%d Backup.Job", strings.ToUpper(c.name), c.n)
	c.createCanary(ctx, name, 3600, false)
}

// createCanary creates one canary and registers it when the create is acknowledged.
// It reports whether it was.
func (c *client) createCanary(ctx context.Context, name string, periodicity int, pulse bool) bool {
	op := Op{Kind: OpCreate, Name: name}
	ans := c.send(ctx, &op, http.MethodPost, apiPrefix+"create", url.Values{
		"name":        {name},
		"periodicity": {fmt.Sprint(periodicity)},
		"email":       {fmt.Sprintf("ops-%s-%d@example.org", strings.ToLower(c.name), c.n)},
		"description": {"created by the chaos campaign"},
	})
	if op.OK {
		var body struct {
			Canary canaryJSON `json:"canary"`
		}
		if err := json.Unmarshal(ans.body, &body); err != nil || body.Canary.ID == "" {
			op.OK, op.Error = false, fmt.Sprintf("create answer without a canary: %.200s", ans.body)
		} else {
			op.CanaryID = body.Canary.ID
			c.reg.add(&canaryRef{id: body.Canary.ID, name: name, slug: body.Canary.Slug, pulse: pulse})
		}
	}
	c.rec.add(op)
	return op.Outcome() == Acked
}

// trigger sends one trigger with a unique comment, naming the canary the given way.
func (c *client) trigger(ctx context.Context, target *canaryRef, by string) {
	if target == nil {
		return
	}
	c.sendTrigger(ctx, c.node(), c.prepareTrigger(target, by))
}

// triggerRequest is a trigger ready to send: the op to record, where, with what.
type triggerRequest struct {
	op     Op
	path   string
	params url.Values
}

// prepareTrigger makes a trigger with a unique comment that names the canary the given
// way. It draws from the client's random source, so it runs on the client's goroutine.
func (c *client) prepareTrigger(target *canaryRef, by string) triggerRequest {
	c.n++
	r := triggerRequest{path: apiPrefix + "trigger"}
	r.op = Op{Kind: OpTrigger, CanaryID: target.id, Name: target.name, By: by, Comment: fmt.Sprintf("%s-w%d", c.name, c.n)}
	r.params = url.Values{"comment": {r.op.Comment}}
	switch by {
	case "short":
		r.path = "/" + target.id
	case "id":
		r.params.Set("id", target.id)
	case "slug":
		r.params.Set("slug", target.slug)
	case "name":
		r.params.Set("name", c.spell(target.name))
	}
	return r
}

// sendTrigger sends a prepared trigger to n and records it. It may run on any goroutine.
func (c *client) sendTrigger(ctx context.Context, n *node, r triggerRequest) {
	ans := c.sendTo(ctx, n, &r.op, http.MethodPost, r.path, r.params)
	if r.op.OK {
		var body struct {
			Recovered bool `json:"recovered"`
		}
		_ = json.Unmarshal(ans.body, &body)
		r.op.Recovered = body.Recovered
	}
	c.rec.add(r.op)
}

// spell writes a name as given or in another case: the lookup must not care.
func (c *client) spell(name string) string {
	switch c.rng.IntN(3) {
	case 0:
		return strings.ToUpper(name)
	case 1:
		return strings.ToLower(name)
	}
	return name
}

func (c *client) get(ctx context.Context, consistent bool) {
	target := c.reg.forRead(c.rng)
	if target == nil {
		return
	}
	op := Op{Kind: OpGet, CanaryID: target.id, Name: target.name, Consistent: consistent, By: c.pickWay("id", "slug", "name")}
	params := url.Values{}
	switch op.By {
	case "id":
		params.Set("id", target.id)
	case "slug":
		params.Set("slug", target.slug)
	case "name":
		params.Set("name", c.spell(target.name))
	}
	if consistent {
		params.Set("consistent", "true")
	}
	ans := c.send(ctx, &op, http.MethodGet, apiPrefix+"get", params)
	if op.OK {
		var body struct {
			Canary canaryJSON `json:"canary"`
		}
		var canary *Canary
		err := json.Unmarshal(ans.body, &body)
		if err == nil {
			canary, err = body.Canary.toCanary()
		}
		if err != nil || canary.ID != target.id {
			op.OK, op.Error = false, fmt.Sprintf("get answered another canary or no canary: %v %.200s", err, ans.body)
		} else {
			op.HistoryLen = len(canary.History)
			if len(canary.History) > 0 {
				op.Oldest = canary.History[0].At
			}
			for _, e := range canary.History {
				if tok := e.Token(); tok != "" {
					op.Seen = append(op.Seen, tok)
				}
			}
		}
	}
	c.rec.add(op)
}

func (c *client) list(ctx context.Context, consistent bool) {
	op := Op{Kind: OpList, Consistent: consistent}
	params := url.Values{}
	if consistent {
		params.Set("consistent", "true")
	}
	ans := c.send(ctx, &op, http.MethodGet, apiPrefix+"list", params)
	if op.OK {
		var body struct {
			Canaries []struct {
				ID string `json:"id"`
			} `json:"canaries"`
		}
		if err := json.Unmarshal(ans.body, &body); err != nil {
			op.OK, op.Error = false, "list answer: "+err.Error()
		}
		for _, c := range body.Canaries {
			op.Seen = append(op.Seen, c.ID)
		}
	}
	c.rec.add(op)
}

// pause waits d or until ctx ends: pacing of the workload, not a wait for a condition.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
