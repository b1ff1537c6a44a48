package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var t0 = time.Date(2015, 3, 19, 1, 8, 44, 885182000, time.UTC)

// apply runs one command at a time and fails the test on a commit-level error.
func apply(t testing.TB, f *FSM, at time.Time, cmd Command) Result {
	t.Helper()
	cmd.At, cmd.Version = at, CommandVersion
	data, err := EncodeBatch([]Command{cmd})
	if err != nil {
		t.Fatal(err)
	}
	resp := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data})
	results, ok := resp.([]Result)
	if !ok || len(results) != 1 {
		t.Fatalf("Apply returned %#v", resp)
	}
	return results[0]
}

func create(t testing.TB, f *FSM, at time.Time, id, name string, seconds float64, emails ...string) *Canary {
	t.Helper()
	res := apply(t, f, at, Command{Type: TypeCreate, Create: &Create{ID: id, Name: name, Periodicity: Periodicity{Seconds: seconds}, Emails: emails}})
	if res.Err != nil {
		t.Fatalf("create %s: %v", name, res.Err)
	}
	return res.Canary
}

func trigger(t testing.TB, f *FSM, at time.Time, id, comment string) Result {
	t.Helper()
	return apply(t, f, at, Command{Type: TypeTrigger, Trigger: &Trigger{ID: id, Comment: comment}})
}

func comments(c *Canary) []string {
	var out []string
	for _, h := range c.NewestFirst() {
		out = append(out, h.Comment)
	}
	return out
}

func TestCanaryLifecycle(t *testing.T) {
	f := New()
	c := create(t, f, t0, "fbkvlsby", "My First Canary", 3600)
	if c.Slug != "my-first-canary" || c.Late || c.Paused || !c.Deadline.Equal(t0.Add(time.Hour)) {
		t.Fatalf("created canary = %+v", c)
	}

	res := trigger(t, f, t0.Add(time.Minute), "fbkvlsby", "short form trigger url")
	if res.Err != nil || res.Recovered || res.Unpaused {
		t.Fatalf("trigger = %+v", res)
	}
	res = apply(t, f, t0.Add(2*time.Minute), Command{Type: TypePause, Pause: &Pause{ID: "fbkvlsby", Comment: "maintenance"}})
	if res.Err != nil || !res.Canary.Paused || !res.Canary.Deadline.IsZero() {
		t.Fatalf("pause = %+v", res)
	}
	if res := apply(t, f, t0.Add(3*time.Minute), Command{Type: TypePause, Pause: &Pause{ID: "fbkvlsby"}}); !errors.Is(res.Err, ErrAlreadyPaused) {
		t.Fatalf("second pause err = %v", res.Err)
	}
	res = apply(t, f, t0.Add(4*time.Minute), Command{Type: TypeUnpause, Unpause: &Unpause{ID: "fbkvlsby"}})
	if res.Err != nil || res.Canary.Paused || !res.Canary.Deadline.Equal(t0.Add(64*time.Minute)) {
		t.Fatalf("unpause = %+v", res)
	}
	if res := apply(t, f, t0.Add(5*time.Minute), Command{Type: TypeUnpause, Unpause: &Unpause{ID: "fbkvlsby"}}); !errors.Is(res.Err, ErrAlreadyUnpaused) {
		t.Fatalf("second unpause err = %v", res.Err)
	}
	got, _ := f.Get("fbkvlsby")
	want := []string{"Unpaused", "Paused (maintenance)", "Triggered (short form trigger url)", "Canary created"}
	if strings.Join(comments(got), "|") != strings.Join(want, "|") {
		t.Fatalf("history = %q, want %q", comments(got), want)
	}
	if res := apply(t, f, t0.Add(6*time.Minute), Command{Type: TypeDelete, Delete: &Delete{ID: "fbkvlsby"}}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, err := f.Get("fbkvlsby"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete err = %v", err)
	}
	if _, err := f.IDBySlug("my-first-canary"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("slug survived delete: %v", err)
	}
}

func TestCreateRejects(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Taken", 60)
	tests := []struct {
		name string
		c    Create
		want error
	}{
		{"empty name", Create{ID: "bbbbbbbb", Periodicity: Periodicity{Seconds: 60}}, ErrInvalid},
		{"name without letters", Create{ID: "bbbbbbbb", Name: "!!!", Periodicity: Periodicity{Seconds: 60}}, ErrInvalid},
		{"slug taken", Create{ID: "bbbbbbbb", Name: "TAKEN", Periodicity: Periodicity{Seconds: 60}}, ErrAlreadyExists},
		{"id taken", Create{ID: "aaaaaaaa", Name: "Other", Periodicity: Periodicity{Seconds: 60}}, ErrIDTaken},
		{"bad id", Create{ID: "ABC", Name: "Other", Periodicity: Periodicity{Seconds: 60}}, ErrInvalid},
		{"zero periodicity", Create{ID: "bbbbbbbb", Name: "Other"}, ErrInvalid},
		{"negative periodicity", Create{ID: "bbbbbbbb", Name: "Other", Periodicity: Periodicity{Seconds: -1}}, ErrInvalid},
		{"bad email", Create{ID: "bbbbbbbb", Name: "Other", Periodicity: Periodicity{Seconds: 60}, Emails: []string{"not an address"}}, ErrInvalid},
		{"header injection", Create{ID: "bbbbbbbb", Name: "Other", Periodicity: Periodicity{Seconds: 60}, Emails: []string{"a@b.c\r\nBcc: x@y.z"}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := apply(t, f, t0, Command{Type: TypeCreate, Create: &tt.c})
			if !errors.Is(res.Err, tt.want) {
				t.Fatalf("err = %v, want %v", res.Err, tt.want)
			}
			if f.Len() != 1 {
				t.Fatalf("a rejected create changed the state: %d canaries", f.Len())
			}
		})
	}
}

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"My First Canary":     "my-first-canary",
		"my_first  canary":    "my-first-canary",
		"a - b":               "a-b",
		"Backup (nightly)!":   "backup-nightly",
		"Ünïcödé Jöb":         "ünïcödé-jöb",
		"--x--":               "-x-",
		"tabs\tand\nnewlines": "tabs-and-newlines",
	}
	for in, want := range tests {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkLateAndResume(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Job", 60, "ops@example.com")
	deadline := t0.Add(time.Minute)

	// A mark-late stamped before the deadline is a no-op.
	if res := apply(t, f, deadline.Add(-time.Millisecond), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa", Deadline: deadline}}); res.Changed {
		t.Fatal("mark-late before the deadline changed the canary")
	}
	res := apply(t, f, deadline, Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa", Deadline: deadline}})
	if !res.Changed || !res.Canary.Late {
		t.Fatalf("mark-late at the deadline = %+v", res)
	}
	// A second mark-late (a retry) changes nothing and adds no second LATE.
	apply(t, f, deadline.Add(time.Second), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa", Deadline: deadline}})
	// Pausing keeps late; only the trigger clears it and reports recovery.
	apply(t, f, deadline.Add(2*time.Second), Command{Type: TypePause, Pause: &Pause{ID: "aaaaaaaa"}})
	if c, _ := f.Get("aaaaaaaa"); !c.Late {
		t.Fatal("pause cleared late")
	}
	tr := trigger(t, f, deadline.Add(3*time.Second), "aaaaaaaa", "")
	if !tr.Recovered || !tr.Unpaused || tr.Canary.Late {
		t.Fatalf("trigger = %+v", tr)
	}
	out := f.Outbox()
	if len(out) != 2 || out[0].Kind != KindLate || out[1].Kind != KindResumed {
		t.Fatalf("outbox = %+v", out)
	}
	if out[0].Emails[0] != "ops@example.com" || !out[0].Deadline.Equal(deadline) || out[1].History[0].Comment != "Triggered" {
		t.Fatalf("outbox records lack message data: %+v", out)
	}
	apply(t, f, deadline.Add(4*time.Second), Command{Type: TypeNotificationSent, NotificationSent: &NotificationSent{Seqs: []uint64{out[0].Seq, out[1].Seq}}})
	if len(f.Outbox()) != 0 || f.Pending(out[0].Seq) {
		t.Fatal("acknowledged records are still pending")
	}
}

func TestTriggerWinsRaceWithMarkLate(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Job", 60)
	deadline := t0.Add(time.Minute)
	// The trigger commits first with a time just before the deadline; the watcher's
	// mark-late, proposed at the old deadline, must not make the canary late.
	trigger(t, f, deadline.Add(-time.Millisecond), "aaaaaaaa", "")
	res := apply(t, f, deadline, Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa", Deadline: deadline}})
	if res.Changed || len(f.Outbox()) != 0 {
		t.Fatalf("stale mark-late applied: %+v", res)
	}
}

func TestUpdate(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Job", 3600)
	create(t, f, t0, "bbbbbbbb", "Other", 3600)
	name := "Other"
	if res := apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Name: &name}}); !errors.Is(res.Err, ErrAlreadyExists) {
		t.Fatalf("rename onto a taken slug err = %v", res.Err)
	}
	same := "Job"
	if res := apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Name: &same}}); !errors.Is(res.Err, ErrNoUpdates) {
		t.Fatalf("no-op update err = %v", res.Err)
	}
	emails := []string{"b@x.org", "a@x.org"}
	apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Emails: &emails}})
	reordered := []string{"a@x.org", "b@x.org"}
	if res := apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Emails: &reordered}}); !errors.Is(res.Err, ErrNoUpdates) {
		t.Fatalf("same e-mails in another order err = %v", res.Err)
	}
	// Shortening the periodicity below the time since the last event makes it late at
	// once and queues a LATE; lengthening it again queues a RESUMED.
	short := Periodicity{Seconds: 60}
	res := apply(t, f, t0.Add(10*time.Minute), Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Periodicity: &short}})
	if res.Err != nil || !res.Canary.Late || !res.Canary.Deadline.Equal(t0.Add(time.Minute)) {
		t.Fatalf("shorten = %+v", res)
	}
	long := Periodicity{Seconds: 7200}
	res = apply(t, f, t0.Add(11*time.Minute), Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Periodicity: &long}})
	if res.Err != nil || res.Canary.Late {
		t.Fatalf("lengthen = %+v", res)
	}
	if out := f.Outbox(); len(out) != 2 || out[0].Kind != KindLate || out[1].Kind != KindResumed {
		t.Fatalf("outbox = %+v", out)
	}
	newName := "Renamed Job"
	res = apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Name: &newName}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if id, _ := f.IDByName("renamed job"); id != "aaaaaaaa" {
		t.Fatalf("lookup by new name = %q", id)
	}
	if _, err := f.IDBySlug("job"); !errors.Is(err, ErrNotFound) {
		t.Fatal("old slug still resolves")
	}
}

func TestHistoryPruning(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Job", 60)
	at := t0
	for i := 0; i < 1005; i++ {
		at = at.Add(time.Second)
		trigger(t, f, at, "aaaaaaaa", fmt.Sprint(i))
	}
	c, _ := f.Get("aaaaaaaa")
	if c.History.Len() != 1000 || c.NewestFirst()[0].Comment != "Triggered (1004)" {
		t.Fatalf("history has %d entries, newest %q", c.History.Len(), c.NewestFirst()[0].Comment)
	}
	// More than 100 entries with the oldest older than a week: pruned to 100 entries
	// newer than a week plus nothing older.
	trigger(t, f, at.Add(8*24*time.Hour), "aaaaaaaa", "much later")
	c, _ = f.Get("aaaaaaaa")
	if c.History.Len() != 100 {
		t.Fatalf("after a week history has %d entries, want 100", c.History.Len())
	}
}

func TestClockNeverRunsBackwards(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Job", 60)
	trigger(t, f, t0.Add(time.Hour), "aaaaaaaa", "new leader ahead")
	// A later command stamped by a node whose clock lags is applied at the newest time.
	res := trigger(t, f, t0.Add(30*time.Minute), "aaaaaaaa", "old clock")
	h := res.Canary.NewestFirst()
	if !h[0].Time().Equal(t0.Add(time.Hour)) {
		t.Fatalf("history went back in time: %v", h[0].Time())
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	f := New()
	create(t, f, t0, "cccccccc", "Gamma", 60, "dba@example.org")
	create(t, f, t0, "aaaaaaaa", "Alpha", 60)
	create(t, f, t0, "bbbbbbbb", "Beta", 60)
	apply(t, f, t0, Command{Type: TypePause, Pause: &Pause{ID: "bbbbbbbb"}})
	yes, no := true, false
	ids := func(cs []*Canary) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.ID)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name string
		flt  Filter
		want string
		more bool
	}{
		{"all in id order", Filter{}, "aaaaaaaa,bbbbbbbb,cccccccc", false},
		{"paused", Filter{Paused: &yes}, "bbbbbbbb", false},
		{"unpaused", Filter{Paused: &no}, "aaaaaaaa,cccccccc", false},
		{"late", Filter{Late: &yes}, "", false},
		{"search name", Filter{Search: regexp.MustCompile("^Alp")}, "aaaaaaaa", false},
		{"search email", Filter{Search: regexp.MustCompile("dba@")}, "cccccccc", false},
		{"search id", Filter{Search: regexp.MustCompile("bbbb")}, "bbbbbbbb", false},
		{"first page", Filter{Limit: 2}, "aaaaaaaa,bbbbbbbb", true},
		{"next page", Filter{Limit: 2, After: "bbbbbbbb"}, "cccccccc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more := f.List(tt.flt)
			if ids(got) != tt.want || more != tt.more {
				t.Fatalf("List = %s (more %v), want %s (more %v)", ids(got), more, tt.want, tt.more)
			}
		})
	}
}

func TestImportIsIdempotent(t *testing.T) {
	f := New()
	imported := Canary{
		ID: "fbkvlsby", Name: "Legacy Job", Periodicity: Periodicity{Seconds: 3600}, Emails: []string{"a@b.org"},
		Late: true, Deadline: t0.Add(time.Hour),
		History: NewHistory(NewHistoryEntry(t0.Add(time.Minute), "Triggered"), NewHistoryEntry(t0, "Canary created")),
	}
	imp := &Import{Canaries: []Canary{imported}}
	res := apply(t, f, t0, Command{Type: TypeImport, Import: imp})
	if len(res.Import.Created) != 1 {
		t.Fatalf("first import = %+v", res.Import)
	}
	c, _ := f.Get("fbkvlsby")
	if c.Slug != "legacy-job" || !c.Late || c.NewestFirst()[0].Comment != "Triggered" {
		t.Fatalf("imported canary = %+v", c)
	}
	res = apply(t, f, t0, Command{Type: TypeImport, Import: imp})
	if len(res.Import.Unchanged) != 1 || res.Changed {
		t.Fatalf("second import = %+v", res.Import)
	}
	changed := imported
	changed.Description = "changed"
	res = apply(t, f, t0, Command{Type: TypeImport, Import: &Import{Canaries: []Canary{changed}}})
	if len(res.Import.Conflicts) != 1 {
		t.Fatalf("conflicting import = %+v", res.Import)
	}
	res = apply(t, f, t0, Command{Type: TypeImport, Import: &Import{Canaries: []Canary{changed}, Overwrite: true}})
	if len(res.Import.Updated) != 1 {
		t.Fatalf("overwrite import = %+v", res.Import)
	}
}

// TestDeterminism applies the same random log to two state machines and requires
// byte-identical snapshots, and the same again after a snapshot round trip.
func TestDeterminism(t *testing.T) {
	log := randomLog(rand.New(rand.NewPCG(1, 2)), 3000)
	a, b := New(), New()
	for _, entry := range log {
		a.Apply(&raft.Log{Type: raft.LogCommand, Data: entry})
		b.Apply(&raft.Log{Type: raft.LogCommand, Data: entry})
	}
	snapA, snapB := snapshotBytes(t, a), snapshotBytes(t, b)
	if !bytes.Equal(snapA, snapB) {
		t.Fatal("two replicas of the same log have different snapshots")
	}
	c := New()
	if err := c.Restore(nopCloser{bytes.NewReader(snapA)}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, c), snapA) {
		t.Fatal("snapshot does not survive a restore")
	}
	if a.Len() == 0 || len(a.Outbox()) == 0 {
		t.Fatalf("random log exercised too little: %d canaries, %d outbox", a.Len(), len(a.Outbox()))
	}
}

func randomLog(r *rand.Rand, n int) [][]byte {
	ids := []string{"aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd", "eeeeeeee"}
	at := t0
	var log [][]byte
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(r.IntN(120)) * time.Second)
		id := ids[r.IntN(len(ids))]
		var cmd Command
		switch r.IntN(15) {
		case 13:
			cmd = Command{Type: TypeChannelPut, ChannelPut: &ChannelPut{Create: r.IntN(2) == 0, Channel: Channel{Name: "c" + fmt.Sprint(r.IntN(3)), Kind: ChannelWebhook, URL: "http://x", Default: r.IntN(2) == 0}}}
		case 14:
			chans := []string{"c" + fmt.Sprint(r.IntN(3))}
			cmd = Command{Type: TypeUpdate, Update: &Update{ID: id, Settings: Settings{Channels: &chans}}}
		case 8:
			kinds := []SignalKind{SignalStart, SignalSuccess, SignalFail, SignalLog}
			cmd = Command{Type: TypeSignal, Signal: &Signal{ID: id, Kind: kinds[r.IntN(4)], RID: fmt.Sprint(r.IntN(2)), ExitStatus: -1, Output: strings.Repeat("o", r.IntN(3000))}}
		case 9:
			g, m := time.Duration(r.IntN(60))*time.Second, time.Duration(r.IntN(60))*time.Second
			cmd = Command{Type: TypeUpdate, Update: &Update{ID: id, Settings: Settings{Grace: &g, MaxRuntime: &m}}}
		case 10:
			cmd = Command{Type: TypePause, Pause: &Pause{ID: id, Until: at.Add(time.Duration(1+r.IntN(300)) * time.Second)}}
		case 11:
			cmd = Command{Type: TypeExpirePause, ExpirePause: &ExpirePause{ID: id, Until: at.Add(-time.Duration(r.IntN(300)) * time.Second)}}
		case 0:
			cmd = Command{Type: TypeCreate, Create: &Create{ID: id, Name: "job " + id, Periodicity: Periodicity{Seconds: float64(30 + r.IntN(300))}, Emails: []string{"x@y.org"}}}
		case 1:
			p := Periodicity{Seconds: float64(1 + r.IntN(600))}
			cmd = Command{Type: TypeUpdate, Update: &Update{ID: id, Periodicity: &p}}
		case 2:
			cmd = Command{Type: TypePause, Pause: &Pause{ID: id}}
		case 3:
			cmd = Command{Type: TypeUnpause, Unpause: &Unpause{ID: id}}
		case 4:
			cmd = Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: id}}
		case 5:
			cmd = Command{Type: TypeDelete, Delete: &Delete{ID: id}}
		default:
			cmd = Command{Type: TypeTrigger, Trigger: &Trigger{ID: id, Comment: fmt.Sprint(i)}}
		}
		cmd.At, cmd.Version = at, CommandVersion
		data, _ := EncodeBatch([]Command{cmd})
		log = append(log, data)
	}
	return log
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

func TestApplyRejectsBadEntries(t *testing.T) {
	f := New()
	for _, data := range [][]byte{nil, {9, '{'}, {logFormatJSON, '{'}} {
		if _, ok := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data}).(error); !ok {
			t.Errorf("entry %q was not rejected", data)
		}
	}
	res := apply(t, f, t0, Command{Type: "explode"})
	if !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("unknown command err = %v", res.Err)
	}
	future := Command{Type: TypeDelete, Delete: &Delete{ID: "aaaaaaaa"}, Version: CommandVersion + 1, At: t0}
	if res := f.ApplyCommands([]Command{future})[0]; !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("future version err = %v", res.Err)
	}
}

func TestRestoreRejectsDamagedSnapshots(t *testing.T) {
	log := randomLog(rand.New(rand.NewPCG(3, 4)), 500)
	f := New()
	for _, entry := range log {
		f.Apply(&raft.Log{Type: raft.LogCommand, Data: entry})
	}
	good := snapshotBytes(t, f)
	for _, cut := range []int{0, 5, len(snapshotMagic) + 3, len(good) / 2, len(good) - 1} {
		g := New()
		if err := g.Restore(nopCloser{bytes.NewReader(good[:cut])}); err == nil {
			t.Errorf("snapshot cut at %d of %d bytes was accepted", cut, len(good))
		}
	}
	if err := New().Restore(nopCloser{bytes.NewReader([]byte(`{"format":1}`))}); err == nil {
		t.Error("a JSON document was accepted as a snapshot")
	}
}

// TestCommandsBySlug: a command that names its canary by slug is resolved as it is
// applied, against the state as it stands at that point of the log.
func TestCommandsBySlug(t *testing.T) {
	f := New()
	c := create(t, f, t0, "fbkvlsby", "My First Canary", 3600)
	at := t0.Add(time.Minute)
	desc := "new"
	tests := []struct {
		name    string
		cmd     Command
		wantErr error
		check   func(*Canary) bool
	}{
		{"trigger", Command{Type: TypeTrigger, Trigger: &Trigger{Slug: c.Slug, Comment: "by slug"}}, nil,
			func(c *Canary) bool { return comments(c)[0] == "Triggered (by slug)" }},
		{"pause", Command{Type: TypePause, Pause: &Pause{Slug: c.Slug}}, nil, func(c *Canary) bool { return c.Paused }},
		{"unpause", Command{Type: TypeUnpause, Unpause: &Unpause{Slug: c.Slug}}, nil, func(c *Canary) bool { return !c.Paused }},
		{"update", Command{Type: TypeUpdate, Update: &Update{Slug: c.Slug, Description: &desc}}, nil,
			func(c *Canary) bool { return c.Description == desc }},
		{"unknown slug", Command{Type: TypeTrigger, Trigger: &Trigger{Slug: "no-such-canary"}}, ErrNotFound, nil},
		{"id wins over slug", Command{Type: TypeTrigger, Trigger: &Trigger{ID: "aaaaaaaa", Slug: c.Slug}}, ErrNotFound, nil},
		{"delete", Command{Type: TypeDelete, Delete: &Delete{Slug: c.Slug}}, nil, nil},
		{"gone after delete", Command{Type: TypeTrigger, Trigger: &Trigger{Slug: c.Slug}}, ErrNotFound, nil},
	}
	for _, tt := range tests {
		at = at.Add(time.Second)
		if got := tt.cmd.Needs(); got != 2 {
			t.Errorf("%s: Needs() = %d, want 2", tt.name, got)
		}
		res := apply(t, f, at, tt.cmd)
		if !errors.Is(res.Err, tt.wantErr) {
			t.Fatalf("%s: error %v, want %v", tt.name, res.Err, tt.wantErr)
		}
		if tt.check != nil && !tt.check(res.Canary) {
			t.Errorf("%s: canary after it: %+v", tt.name, res.Canary)
		}
	}
}

// TestSlugTargetNeedsVersion2: version 1 had no slug targets; such an entry is refused,
// never applied to some other canary.
func TestSlugTargetNeedsVersion2(t *testing.T) {
	f := New()
	create(t, f, t0, "fbkvlsby", "My First Canary", 3600)
	cmd := Command{Type: TypeTrigger, Version: 1, At: t0.Add(time.Second), Trigger: &Trigger{Slug: "my-first-canary"}}
	data, err := EncodeBatch([]Command{cmd})
	if err != nil {
		t.Fatal(err)
	}
	res := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data}).([]Result)[0]
	if !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("a version-1 command by slug: %v, want ErrBadCommand", res.Err)
	}
	byID := Command{Type: TypeTrigger, Trigger: &Trigger{ID: "fbkvlsby"}}
	if got := byID.Needs(); got != 1 {
		t.Errorf("a command by id needs version %d, want 1", got)
	}
}

// TestStatsFollowEveryChange: the counts behind the operator's metrics stay equal to a
// count of the canaries through every kind of change, a restore included.
func TestStatsFollowEveryChange(t *testing.T) {
	f := New()
	count := func(f *FSM) Stats {
		var st Stats
		canaries, _ := f.List(Filter{})
		for _, c := range canaries {
			st.Canaries++
			if c.Late {
				st.Late++
			}
			if c.Paused {
				st.Paused++
			}
		}
		return st
	}
	check := func(step string) {
		t.Helper()
		got, want := f.Stats(), count(f)
		if got.Canaries != want.Canaries || got.Late != want.Late || got.Paused != want.Paused {
			t.Fatalf("after %s: stats %+v, counted %+v", step, got, want)
		}
	}
	create(t, f, t0, "aaaaaaaa", "one", 60)
	create(t, f, t0, "bbbbbbbb", "two", 60)
	check("creates")
	apply(t, f, t0.Add(2*time.Minute), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa", Deadline: t0.Add(time.Minute)}})
	check("mark late")
	if st := f.Stats(); st.Outbox != 1 || !st.OldestUnsent.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("outbox stats %+v, want one record from the mark-late", st)
	}
	apply(t, f, t0.Add(3*time.Minute), Command{Type: TypePause, Pause: &Pause{ID: "aaaaaaaa"}})
	check("pause of a late canary")
	trigger(t, f, t0.Add(4*time.Minute), "aaaaaaaa", "")
	check("trigger")
	apply(t, f, t0.Add(5*time.Minute), Command{Type: TypePause, Pause: &Pause{ID: "bbbbbbbb"}})
	apply(t, f, t0.Add(6*time.Minute), Command{Type: TypeDelete, Delete: &Delete{ID: "bbbbbbbb"}})
	check("delete of a paused canary")

	restored := New()
	if err := restored.Restore(nopCloser{bytes.NewReader(snapshotBytes(t, f))}); err != nil {
		t.Fatal(err)
	}
	if got, want := restored.Stats(), f.Stats(); got != want {
		t.Errorf("restored stats %+v, want %+v", got, want)
	}
}

// TestOutboxPagesInOrder: the dispatcher reads the outbox a page at a time in sequence
// order, whatever order records were acknowledged in, and a restored state reads alike.
func TestOutboxPagesInOrder(t *testing.T) {
	f := New()
	at := t0
	var seqs []uint64
	for i := range 10 {
		id := fmt.Sprintf("aaaaaaa%c", 'a'+i)
		create(t, f, at, id, "job "+id, 60)
		at = at.Add(2 * time.Minute)
		apply(t, f, at, Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: id, Deadline: at.Add(-time.Minute)}})
	}
	for _, n := range f.Outbox() {
		seqs = append(seqs, n.Seq)
	}
	if len(seqs) != 10 || !slices.IsSorted(seqs) {
		t.Fatalf("outbox seqs %v", seqs)
	}
	// Acknowledge out of order: the first record stays, holes open behind it.
	apply(t, f, at, Command{Type: TypeNotificationSent, NotificationSent: &NotificationSent{Seqs: []uint64{seqs[3], seqs[1], seqs[7]}}})
	want := []uint64{seqs[0], seqs[2], seqs[4], seqs[5], seqs[6], seqs[8], seqs[9]}
	for _, g := range []*FSM{f, restoredCopy(t, f)} {
		var got []uint64
		for after := uint64(0); ; {
			page := g.OutboxPage(after, 3)
			for _, n := range page {
				got = append(got, n.Seq)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].Seq
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged %v, want %v", got, want)
		}
	}
}

func restoredCopy(t *testing.T, f *FSM) *FSM {
	t.Helper()
	g := New()
	if err := g.Restore(nopCloser{bytes.NewReader(snapshotBytes(t, f))}); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestNotificationFailed: a record given up on leaves the outbox and says so in its
// canary's history; one already gone is a no-op.
func TestNotificationFailed(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "Job", 60, "nobody@example.org")
	apply(t, f, t0.Add(2*time.Minute), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa", Deadline: t0.Add(time.Minute)}})
	seq := f.Outbox()[0].Seq
	long := strings.Repeat("x", 5000)
	res := apply(t, f, t0.Add(3*time.Minute), Command{Type: TypeNotificationFailed, NotificationFailed: &NotificationFailed{Seq: seq, Reason: "550 no such user " + long}})
	if res.Err != nil || !res.Changed || f.Pending(seq) {
		t.Fatalf("notification-failed: %+v, pending %v", res, f.Pending(seq))
	}
	c, _ := f.Get("aaaaaaaa")
	got := c.NewestFirst()[0]
	if !strings.HasPrefix(got.Comment, "Notification to email failed (late): 550 no such user xxx") || len(got.Comment) > 4096 || !got.Time().Equal(t0.Add(3*time.Minute)) {
		t.Errorf("history entry %q at %v", got.Comment[:60], got.Time())
	}
	res = apply(t, f, t0.Add(4*time.Minute), Command{Type: TypeNotificationFailed, NotificationFailed: &NotificationFailed{Seq: seq, Reason: "again"}})
	if res.Err != nil || res.Changed {
		t.Errorf("a second notification-failed for the same record: %+v", res)
	}
}

// TestOutboxOrderStaysSmall: a record stuck at the front while thousands behind it are
// acknowledged does not keep their sequence numbers around.
func TestOutboxOrderStaysSmall(t *testing.T) {
	outbox := map[uint64]Notification{}
	var o outboxOrder
	for seq := uint64(1); seq <= 5000; seq++ {
		outbox[seq] = Notification{Seq: seq}
		o.push(seq)
	}
	for seq := uint64(2); seq <= 5000; seq++ {
		delete(outbox, seq)
		o.trim(outbox)
	}
	if len(o.seqs) > 2*len(outbox)+64 {
		t.Errorf("%d sequence numbers kept for %d records", len(o.seqs), len(outbox))
	}
	if page := o.page(outbox, 0, 10); len(page) != 1 || page[0].Seq != 1 {
		t.Errorf("page %v", page)
	}
}

// TestPeriodicityFloorInApply: Apply holds a create, update or import to the floor that
// the command carries (the proposer stamps MinPeriodicitySeconds), and applies one
// written before the floor existed as it was applied then, so an old log replays to
// the state it had.
func TestPeriodicityFloorInApply(t *testing.T) {
	short := Periodicity{Seconds: 1e-7}
	shortSchedule := Periodicity{Schedule: "* * * * * 0.001"}
	for _, tt := range []struct {
		name    string
		floor   float64 // what the command carries
		wantErr bool
	}{
		{name: "old log entry, no floor", floor: 0},
		{name: "new entry", floor: MinPeriodicitySeconds, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
					t.Errorf("%s: err = %v, want an error: %v", what, err, tt.wantErr)
				}
			}
			f := New()
			for i, p := range []Periodicity{short, shortSchedule} {
				res := apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaa" + string(rune('a'+i)),
					Name: fmt.Sprint("short ", i), Periodicity: p, MinPeriodicity: tt.floor}})
				check(fmt.Sprintf("create with %v", p), res.Err)
			}
			create(t, f, t0, "bbbbbbbb", "long", 3600)
			for _, p := range []Periodicity{short, shortSchedule} {
				res := apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "bbbbbbbb", Periodicity: &p, MinPeriodicity: tt.floor}})
				check(fmt.Sprintf("update to %v", p), res.Err)
			}
			res := apply(t, f, t0, Command{Type: TypeImport, Import: &Import{MinPeriodicity: tt.floor, Canaries: []Canary{
				{ID: "cccccccc", Name: "imported", Periodicity: short, History: NewHistory(NewHistoryEntry(t0, createdComment))},
			}}})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if got := len(res.Import.Conflicts) > 0; got != tt.wantErr {
				t.Errorf("import of a canary with %v: %+v", short, res.Import)
			}
		})
	}
	// The proposer's stamp: a create, update or import carries this binary's floor.
	for _, cmd := range []Command{
		{Type: TypeCreate, Create: &Create{}}, {Type: TypeUpdate, Update: &Update{}}, {Type: TypeImport, Import: &Import{}},
	} {
		cmd.StampRules()
		if cmd.Create != nil && cmd.Create.MinPeriodicity != MinPeriodicitySeconds ||
			cmd.Update != nil && cmd.Update.MinPeriodicity != MinPeriodicitySeconds ||
			cmd.Import != nil && cmd.Import.MinPeriodicity != MinPeriodicitySeconds {
			t.Errorf("StampRules left %s without the floor", cmd.Type)
		}
	}
}
