package fsm

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func BenchmarkEncodeTrigger(b *testing.B) {
	cmd := []Command{{Type: TypeTrigger, Version: CommandVersion, At: t0, Trigger: &Trigger{ID: "fbkvlsby", Comment: "nightly run"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeBatch(cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyTrigger is the cost of one trigger inside Apply, decoding included.
func BenchmarkApplyTrigger(b *testing.B) {
	f := New()
	create(b, f, t0, "fbkvlsby", "Job", 3600)
	data, _ := EncodeBatch([]Command{{Type: TypeTrigger, Version: CommandVersion, At: t0.Add(time.Second), Trigger: &Trigger{ID: "fbkvlsby"}}})
	log := &raft.Log{Type: raft.LogCommand, Data: data}
	b.ReportAllocs()
	for b.Loop() {
		f.Apply(log)
	}
}

// BenchmarkApplyTriggerBatch64 is one log entry carrying 64 triggers, as group commit
// builds them under load; ns/op is per entry.
func BenchmarkApplyTriggerBatch64(b *testing.B) {
	f := New()
	cmds := make([]Command, 64)
	for i := range cmds {
		id := idFromNumber(i)
		create(b, f, t0, id, "job "+id, 3600)
		cmds[i] = Command{Type: TypeTrigger, Version: CommandVersion, At: t0.Add(time.Second), Trigger: &Trigger{ID: id}}
	}
	data, _ := EncodeBatch(cmds)
	log := &raft.Log{Type: raft.LogCommand, Data: data}
	b.ReportAllocs()
	for b.Loop() {
		f.Apply(log)
	}
}

// idFromNumber spells n as an eight-letter id (base 26).
func idFromNumber(n int) string {
	b := []byte("aaaaaaaa")
	for i := 7; i >= 0 && n > 0; i-- {
		b[i] = byte('a' + n%26)
		n /= 26
	}
	return string(b)
}

// populated builds n canaries with ten history entries each, straight into the tree.
func populated(b *testing.B, n int) *FSM {
	b.Helper()
	f := New()
	for i := 0; i < n; i++ {
		id := idFromNumber(i)
		c := &Canary{ID: id, Name: "canary " + id, Slug: "canary-" + id, Periodicity: Periodicity{Seconds: 3600}, Emails: []string{"ops@example.org"}, Deadline: t0.Add(time.Hour)}
		for j := 0; j < 10; j++ {
			c.History = c.History.add(t0.Add(time.Duration(j)*time.Minute), "Triggered")
		}
		f.canaries.ReplaceOrInsert(c)
		f.slugs[c.Slug] = id
	}
	return f
}

// BenchmarkSnapshot1M takes and persists a snapshot of a million canaries.
func BenchmarkSnapshot1M(b *testing.B) {
	f := populated(b, 1_000_000)
	b.ResetTimer()
	for b.Loop() {
		snap, err := f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		var sink countingSink
		if err := snap.Persist(&sink); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sink.n)/1e6, "MB")
	}
}

type countingSink struct{ n int64 }

func (s *countingSink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
func (s *countingSink) ID() string                  { return "count" }
func (s *countingSink) Cancel() error               { return nil }
func (s *countingSink) Close() error                { return nil }

var _ io.Writer = (*countingSink)(nil)

// BenchmarkRestore1M restores a snapshot of a million canaries, as a restarted node
// does before it serves; it reports the live heap the restored state takes.
func BenchmarkRestore1M(b *testing.B) {
	var buf bytes.Buffer
	snap, err := populated(b, 1_000_000).Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	if err := snap.(*snapshot).encode(&buf); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ResetTimer()
	for b.Loop() {
		f := New()
		if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.ReportMetric(float64(m.HeapAlloc-uint64(len(data)))/1e6, "MB-heap")
		runtime.KeepAlive(f)
		b.StartTimer()
	}
}

// BenchmarkApplyMarkLateBatch64 is one log entry carrying 64 mark-lates, as the watcher's
// proposals are grouped in an alert storm, each canary with an e-mail address and a
// default webhook channel: two outbox records each. ns/op is per entry; the triggers
// that make the canaries due again are not timed.
func BenchmarkApplyMarkLateBatch64(b *testing.B) {
	f := New()
	apply(b, f, t0, Command{Type: TypeChannelPut, ChannelPut: &ChannelPut{Create: true,
		Channel: Channel{Name: "hook", Kind: ChannelWebhook, URL: "http://receiver.invalid/", Default: true}}})
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = idFromNumber(i)
		create(b, f, t0, ids[i], "job "+ids[i], 60, "ops@example.org")
	}
	at := t0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		at = at.Add(time.Hour)
		triggers := make([]Command, len(ids))
		lates := make([]Command, len(ids))
		for i, id := range ids {
			triggers[i] = Command{Type: TypeTrigger, Version: CommandVersion, At: at, Trigger: &Trigger{ID: id}}
			lates[i] = Command{Type: TypeMarkLate, Version: CommandVersion, At: at.Add(2 * time.Minute),
				MarkLate: &MarkLate{ID: id, Deadline: at.Add(time.Minute)}}
		}
		data, _ := EncodeBatch(triggers)
		f.Apply(&raft.Log{Type: raft.LogCommand, Data: data})
		data, _ = EncodeBatch(lates)
		log := &raft.Log{Type: raft.LogCommand, Data: data}
		b.StartTimer()
		for _, r := range f.Apply(log).([]Result) {
			if !r.Changed {
				b.Fatal("a mark-late changed nothing")
			}
		}
	}
}
