package http

import (
	"context"
	"net/http"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// The v1 canary commands. Each checks its parameters in the original's order (missing,
// bad boolean, unexpected, identifier), answers bad input here, and runs what touches
// state on the leader (writes) or on this node (reads).

func (s *server) create(c *gin.Context, p *params) {
	required := []string{"name", "periodicity"}
	if p.has("cron") {
		required = required[:1] // a cron replaces the periodicity
	}
	if err := p.require(required...); err != nil {
		s.fail(c, err)
		return
	}
	paused, _, err := p.boolean("paused")
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := p.allow(append([]string{"name", "periodicity", "description", "email", "paused"}, settingNames...)...); err != nil {
		s.fail(c, err)
		return
	}
	settings, err := settingsOf(p)
	if err != nil {
		s.fail(c, err)
		return
	}
	create := fsm.Create{Emails: p.all("email"), Paused: paused, Settings: settings}
	if p.has("periodicity") {
		if p.has("cron") {
			s.fail(c, badRequest("give a periodicity or a cron, not both"))
			return
		}
		periodicity, err := parsePeriodicity(p)
		if err != nil {
			s.fail(c, err)
			return
		}
		create.Periodicity = *periodicity
	}
	create.Name, _ = p.last("name")
	create.Description, _ = p.last("description")
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.commitTimeout)
	defer cancel()
	res, err := s.writer.Create(ctx, create, s.taken)
	s.answer(c, res, err, s.canaryResult)
}

// taken tells the writer which fresh ids are in use, as far as this node knows: a
// draw that another canary took meanwhile is refused by Apply and drawn again.
func (s *server) taken(id string) bool {
	_, err := s.store.Get(id)
	return err == nil
}

func (s *server) delete(c *gin.Context, p *params) {
	if err := p.allow("id", "name", "slug"); err != nil {
		s.fail(c, err)
		return
	}
	t, err := identify(p, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.command(c, t, func(t target) fsm.Command {
		return fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: t.id, Slug: t.slug}}
	}, func(fsm.Result) reply { return okReply(okBody) })
}

func (s *server) update(c *gin.Context, p *params) {
	if err := p.allow(append([]string{"id", "name", "slug", "periodicity", "description", "email"}, settingNames...)...); err != nil {
		s.fail(c, err)
		return
	}
	t, err := identify(p, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	var u fsm.Update
	if u.Settings, err = settingsOf(p); err != nil {
		s.fail(c, err)
		return
	}
	if p.has("periodicity") {
		if u.Periodicity, err = parsePeriodicity(p); err != nil {
			s.fail(c, err)
			return
		}
	}
	if v, ok := p.last("name"); ok {
		u.Name = &v // in update, name is always the new name
	}
	if v, ok := p.last("description"); ok {
		u.Description = &v
	}
	if emails := p.all("email"); len(emails) > 0 {
		// email=- alone clears the addresses.
		if len(emails) == 1 && emails[0] == "-" {
			emails = []string{}
		}
		u.Emails = &emails
	}
	s.command(c, t, func(t target) fsm.Command {
		u.ID, u.Slug = t.id, t.slug
		return fsm.Command{Type: fsm.TypeUpdate, Update: &u}
	}, s.canaryResult)
}

func (s *server) get(c *gin.Context, p *params) {
	s.readCanary(c, p, s.canaryReply)
}

// readCanary answers a read of one canary (get, runs): id, slug or name, and
// consistent, as get has always taken them.
func (s *server) readCanary(c *gin.Context, p *params, render func(*fsm.Canary) reply) {
	if err := p.allow("id", "name", "slug", "consistent"); err != nil {
		s.fail(c, err)
		return
	}
	consistent, _, err := p.boolean("consistent")
	if err != nil {
		s.fail(c, err)
		return
	}
	t, err := identify(p, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.read(c, consistent, func() reply {
		id, err := s.resolve(t)
		if err != nil {
			return errorToReply(err)
		}
		canary, err := s.store.Get(id)
		if err != nil {
			return errorToReply(err)
		}
		return render(canary)
	})
}

// listReply is the list answer; Next is the cursor for the next page, when one remains.
type listReply struct {
	Status   string `json:"status"`
	Canaries any    `json:"canaries"`
	Next     string `json:"next,omitempty"`
}

// listEntry is a canary in a list that is not verbose.
type listEntry struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

func (s *server) list(c *gin.Context, p *params) {
	var flt fsm.Filter
	verbose, _, err := p.boolean("verbose")
	if err != nil {
		s.fail(c, err)
		return
	}
	if flt.Paused, err = p.optionalBool("paused"); err != nil {
		s.fail(c, err)
		return
	}
	if flt.Late, err = p.optionalBool("late"); err != nil {
		s.fail(c, err)
		return
	}
	consistent, _, err := p.boolean("consistent")
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := p.allow("verbose", "paused", "late", "search", "limit", "after", "consistent"); err != nil {
		s.fail(c, err)
		return
	}
	if search, ok := p.last("search"); ok {
		if flt.Search, err = compileSearch(search); err != nil {
			s.fail(c, err)
			return
		}
	}
	if flt.Limit, err = p.positiveInt("limit"); err != nil {
		s.fail(c, err)
		return
	}
	flt.After, _ = p.last("after")
	s.read(c, consistent, func() reply {
		canaries, more := s.store.List(flt)
		out := listReply{Status: "ok"}
		if more && len(canaries) > 0 {
			out.Next = canaries[len(canaries)-1].ID
		}
		if verbose {
			full := make([]*canaryJSON, len(canaries))
			for i, canary := range canaries {
				full[i] = s.renderCanary(canary, false)
			}
			out.Canaries = full
		} else {
			brief := make([]listEntry, len(canaries))
			for i, canary := range canaries {
				brief[i] = listEntry{Name: canary.Name, ID: canary.ID}
			}
			out.Canaries = brief
		}
		return okReply(out)
	})
}

type triggerReply struct {
	Status    string `json:"status"`
	Recovered bool   `json:"recovered"`
	Unpaused  bool   `json:"unpaused"`
}

func (s *server) trigger(c *gin.Context, p *params) { s.ping(c, p, pingForm{}) }

// triggerBodies are the four answers a trigger can get, indexed by recovered and
// unpaused, encoded once: encoding the same few bytes anew for every trigger took 4% of
// a loaded leader's CPU.
var triggerBodies = func() (bodies [2][2][]byte) {
	for _, recovered := range []bool{false, true} {
		for _, unpaused := range []bool{false, true} {
			body, err := encodeBody(triggerReply{Status: "ok", Recovered: recovered, Unpaused: unpaused})
			if err != nil {
				panic(err)
			}
			bodies[b2i(recovered)][b2i(unpaused)] = body
		}
	}
	return bodies
}()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *server) pause(c *gin.Context, p *params) {
	t, comment, err := pauseParams(p, "until", "for")
	if err != nil {
		s.fail(c, err)
		return
	}
	until, err := s.pauseUntil(p)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.command(c, t, func(t target) fsm.Command {
		return fsm.Command{Type: fsm.TypePause, Pause: &fsm.Pause{ID: t.id, Slug: t.slug, Comment: comment, Until: until}}
	}, s.canaryResult)
}

func (s *server) unpause(c *gin.Context, p *params) {
	t, comment, err := pauseParams(p)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.command(c, t, func(t target) fsm.Command {
		return fsm.Command{Type: fsm.TypeUnpause, Unpause: &fsm.Unpause{ID: t.id, Slug: t.slug, Comment: comment}}
	}, s.canaryResult)
}

func pauseParams(p *params, extra ...string) (target, string, error) {
	if err := p.allow(append([]string{"id", "name", "slug", "comment"}, extra...)...); err != nil {
		return target{}, "", err
	}
	t, err := identify(p, true)
	if err != nil {
		return target{}, "", err
	}
	comment, _ := p.last("comment")
	return t, comment, nil
}

// target names a canary the way the request did: by id, or by slug. A name is looked up
// through its slug, as the original does, so case and punctuation do not matter.
type target struct{ id, slug string }

// identify is the original's find_identifier: id wins over slug, slug over name (name
// only where it does not mean the new name, i.e. not in update).
func identify(p *params, nameOK bool) (target, error) {
	if v, ok := p.last("id"); ok {
		return target{id: v}, nil
	}
	if v, ok := p.last("slug"); ok {
		return target{slug: v}, nil
	}
	if v, ok := p.last("name"); ok && nameOK {
		return target{slug: fsm.Slug(v)}, nil
	}
	if nameOK {
		return target{}, badRequest("Must specify id, slug, or name")
	}
	return target{}, badRequest("Must specify id or slug")
}

// resolve finds the id of a target in this node's state, for a read. An id is taken as
// given: the read reports a canary that does not exist.
func (s *server) resolve(t target) (string, error) {
	if t.id != "" {
		return t.id, nil
	}
	return s.store.IDBySlug(t.slug)
}

func parsePeriodicity(p *params) (*fsm.Periodicity, error) {
	v, _ := p.last("periodicity")
	per, err := fsm.ParsePeriodicity(v)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	return &per, nil
}

// command commits a command on one canary through the write path; the leader resolves
// the target as it applies the command (fsm.Command.Needs), so a slug or name never
// resolves against a state older than the command. ProposeWithin bounds it without a
// timer per request.
func (s *server) command(c *gin.Context, t target, build func(target) fsm.Command, render func(fsm.Result) reply) {
	res, err := s.writer.ProposeWithin(c.Request.Context(), build(t), s.commitTimeout)
	s.answer(c, res, err, render)
}

// answer writes a write's outcome: not committed (503), rejected by Apply (the client's
// error), or rendered.
func (s *server) answer(c *gin.Context, res fsm.Result, err error, render func(fsm.Result) reply) {
	switch {
	case err != nil:
		s.uncommitted(c, err)
	case res.Err != nil:
		s.write(c, errorToReply(res.Err))
	default:
		s.write(c, render(res))
	}
}

func (s *server) canaryResult(res fsm.Result) reply {
	return s.canaryReply(res.Canary)
}

// read answers from this node's state. For consistent=true it first makes sure that
// state reflects every write acknowledged before the read began (the leader confirms
// its leadership and how far to apply). A node that has not caught up with the cluster
// since it started has only what it restored and replayed so far: its reads wait for
// that, up to the election wait, then get a 503. So does a node cut off from the leader
// (partitioned, or in an election), or one that is behind what the leader told it is
// committed: what it holds may be older than what clients have already been told. Every
// read waits until this node has
// applied the writes it acknowledged itself (read your own writes through one node).
// A local read that finds no such canary is confirmed as a consistent read before the
// 404 goes out: a canary created through another node a moment ago is found, not denied.
func (s *server) read(c *gin.Context, consistent bool, op func() reply) {
	if !consistent {
		if !s.awaitCaughtUp(c.Request.Context()) {
			s.unavailable(c, "this node has not caught up with the cluster since it started: retry shortly")
			return
		}
		if !s.awaitReady(c.Request.Context()) {
			s.unavailable(c, "this node knows no leader, or is behind it: retry shortly, or ask another node")
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.electionWait)
		defer cancel()
		if err := s.reads.AwaitOwnWrites(ctx); err != nil {
			s.unavailable(c, "this node has not yet applied writes it acknowledged: retry shortly")
			return
		}
		r := op()
		if r.status != http.StatusNotFound {
			s.write(c, r)
			return
		}
	}
	if err := s.untilLeader(c.Request.Context(), s.reads.ConsistentRead); err != nil {
		s.noLeader(c, "consistent read", err)
		return
	}
	s.write(c, op())
}

// awaitCaughtUp waits until this node has caught up once since it started, up to the
// election wait; it reports whether it has.
func (s *server) awaitCaughtUp(ctx context.Context) bool {
	caughtUp := s.reads.CaughtUp()
	select {
	case <-caughtUp:
		return true
	default:
	}
	timer := time.NewTimer(s.electionWait)
	defer timer.Stop()
	select {
	case <-caughtUp:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// awaitReady waits until this node knows a leader and has applied what that leader said
// is committed (cluster.Node.Ready), up to the election wait; it reports whether it has.
func (s *server) awaitReady(ctx context.Context) bool {
	if s.reads.Ready() {
		return true
	}
	giveUp := time.NewTimer(s.electionWait)
	defer giveUp.Stop()
	poll := time.NewTicker(readyPoll)
	defer poll.Stop()
	for {
		select {
		case <-poll.C:
			if s.reads.Ready() {
				return true
			}
		case <-giveUp.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// readyPoll is how often a read waiting for its node to be ready looks again: a tenth
// of the node's own readiness sampling.
const readyPoll = 10 * time.Millisecond

func (s *server) fail(c *gin.Context, err error) {
	s.write(c, errorToReply(err))
}
