package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func TestBackupThenRestoreReplacesStateEverywhere(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	c.write("kept", "from-backup")
	c.write("changed", "old")
	waitValue(t, syncTimeout, "changed", "old", c.nodes...)

	// Back up from a follower: its applied state is all it needs.
	var backup bytes.Buffer
	follower := c.followers(leader)[0]
	if err := follower.node.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatalf("backup: %v", err)
	}

	c.write("changed", "new")
	c.write("added", "after-backup")
	waitValue(t, syncTimeout, "added", "after-backup", c.nodes...)

	if err := follower.node.Restore(ctxTimeout(t, 5*time.Second), bytes.NewReader(backup.Bytes())); !errors.Is(err, ErrNotLeader) {
		t.Errorf("restore on a follower: %v, want ErrNotLeader", err)
	}
	// Backups that once panicked the leader or wedged the cluster: each is refused,
	// and the cluster goes on taking writes on every node.
	damaged := bytes.Clone(backup.Bytes())
	damaged[len(damaged)/2] ^= 0xff
	payload := backupPayload(t, backup.Bytes())
	refused := map[string][]byte{
		"a flipped byte":                damaged,
		"an empty payload":              frameBackup(backupFormatV1, 1, 5, 2, nil),
		"a payload that is no snapshot": frameBackup(backupFormatV2, 1, 5, 2, []byte("hello")),
		"index 2^64-1, format 1":        frameBackup(backupFormatV1, 1, math.MaxUint64, 2, payload),
		"index 2^64-1, format 2":        frameBackup(backupFormatV2, 1, math.MaxUint64, 2, payload),
	}
	for name, bad := range refused {
		if err := leader.node.Restore(ctxTimeout(t, 5*time.Second), bytes.NewReader(bad)); !errors.Is(err, ErrBadBackup) {
			t.Errorf("restore of %s: %v, want ErrBadBackup", name, err)
		}
		c.write("after-refusal", name)
		waitValue(t, syncTimeout, "after-refusal", name, c.nodes...)
	}
	if got, _ := leader.fsm.Get("added"); got != "after-backup" || !leader.node.IsLeader() {
		t.Fatal("a refused restore changed the state or the leader")
	}

	if err := leader.node.Restore(ctxTimeout(t, 20*time.Second), bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatalf("restore: %v", err)
	}
	waitValue(t, syncTimeout, "changed", "old", c.nodes...)
	waitValue(t, syncTimeout, "kept", "from-backup", c.nodes...)
	for _, tn := range c.nodes {
		if _, ok := tn.fsm.Get("added"); ok {
			t.Errorf("%s still has a key written after the backup", tn.id)
		}
	}
	// The cluster goes on working after a restore.
	c.write("after-restore", "1")
	waitValue(t, syncTimeout, "after-restore", "1", c.nodes...)
}

func TestBackupOfEmptySingleNode(t *testing.T) {
	t.Parallel()
	n, err := New(t.Context(), singleNodeConfig(t, t.TempDir()), testkit.NewKV())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if err := n.WaitLeader(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The leader's barrier gives raft something to snapshot even before the
	// first command: an empty state is a valid backup.
	var backup bytes.Buffer
	if err := n.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatalf("backup of an empty state: %v", err)
	}
	if err := n.Restore(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatalf("restore of an empty state: %v", err)
	}
}

// TestBackupFromFollowerAfterMembershipChange: raft refuses to snapshot while the newest
// committed configuration entry lies beyond what the state machine has applied, and a
// configuration entry is not a command, so a follower whose last entries were a
// membership change had nothing newer to apply: its backup failed ("cannot take
// snapshot now") until the next write, and the API answered 500. A backup asked of it
// must succeed and hold every write acknowledged before the change, also when the
// follower has just restarted and its state machine is still replaying the log.
func TestBackupFromFollowerAfterMembershipChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		restart bool // restart the follower, slowed down, just before the backup
	}{
		{name: "idle follower"},
		{name: "restarted follower replaying", restart: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t, 3, nil)
			leader := c.waitLeader(formTimeout)
			const writes = 10
			for i := range writes {
				c.write(fmt.Sprint("k", i), "v")
			}
			waitValue(t, syncTimeout, fmt.Sprint("k", writes-1), "v", c.nodes...)

			victim, follower := c.followers(leader)[0], c.followers(leader)[1]
			c.kill(victim)
			testkit.Eventually(t, syncTimeout, func() error {
				return leader.node.RemovePeer(ctxTimeout(t, 5*time.Second), victim.id)
			})
			// The follower has been handed the configuration entry as committed.
			last := leader.node.raft.LastIndex()
			testkit.Eventually(t, syncTimeout, func() error {
				if got := follower.node.raft.AppliedIndex(); got < last {
					return fmt.Errorf("%s has applied up to %d, the leader's log ends at %d", follower.id, got, last)
				}
				return nil
			})
			if tc.restart {
				c.kill(follower)
				c.applyDelay = 50 * time.Millisecond // the replay takes a while
				c.start(follower)
			}

			var backup bytes.Buffer
			if err := follower.node.Backup(ctxTimeout(t, 20*time.Second), &backup); err != nil {
				t.Fatalf("backup from %s after a membership change: %v", follower.id, err)
			}
			// The backup holds every write: restored, it brings them all back.
			kv := testkit.NewKV()
			meta, file, err := leader.node.receiveBackup(&backup)
			if err != nil {
				t.Fatalf("the backup does not read back: %v", err)
			}
			defer file.Close()
			if meta.Index < last {
				t.Errorf("backup at index %d, before the membership change at %d", meta.Index, last)
			}
			if err := kv.Restore(file); err != nil {
				t.Fatal(err)
			}
			for i := range writes {
				if got, _ := kv.Get(fmt.Sprint("k", i)); got != "v" {
					t.Errorf("the backup has k%d=%q, want v", i, got)
				}
			}
		})
	}
}

// frameBackup frames payload as Backup does in the given format, with any header
// values, and a checksum that matches them.
func frameBackup(format, version uint16, index, term uint64, payload []byte) []byte {
	var buf bytes.Buffer
	header := backupHeader{Magic: backupMagic, Format: format, SnapshotVersion: version, Index: index, Term: term, Size: uint64(len(payload))}
	binary.Write(&buf, binary.BigEndian, &header)
	buf.Write(payload)
	sum := sha256.Sum256(payload)
	if format >= backupFormatV2 {
		sum = sha256.Sum256(buf.Bytes())
	}
	buf.Write(sum[:])
	return buf.Bytes()
}

// backupPayload is the snapshot inside a backup.
func backupPayload(t *testing.T, backup []byte) []byte {
	t.Helper()
	if len(backup) < backupHeaderLen+sha256.Size {
		t.Fatalf("a backup of %d bytes", len(backup))
	}
	return backup[backupHeaderLen : len(backup)-sha256.Size]
}

// TestReceiveBackupChecksEverything: receiveBackup accepts what Backup writes (format 2)
// and what earlier versions wrote (format 1), and refuses anything else with
// ErrBadBackup and a message that says what is wrong, leaving no file behind.
func TestReceiveBackupChecksEverything(t *testing.T) {
	t.Parallel()
	snapshot := []byte(`{"a":"1"}`)
	var written bytes.Buffer
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: 7, Term: 2, Size: int64(len(snapshot))}
	if err := writeBackup(&written, meta, bytes.NewReader(snapshot)); err != nil {
		t.Fatal(err)
	}
	valid := func() []byte { return bytes.Clone(written.Bytes()) }
	v1 := frameBackup(backupFormatV1, 1, 7, 2, snapshot)
	tests := []struct {
		name   string
		backup []byte
		want   string // "" for a valid backup; else part of the error
	}{
		{"as Backup writes it", valid(), ""},
		{"format 1", v1, ""},
		{"empty", nil, "reading the header: 0 of 36 bytes"},
		{"header only", valid()[:backupHeaderLen], "snapshot truncated after 0 of 9 bytes"},
		{"wrong magic", append([]byte("X"), valid()[1:]...), "wrong magic"},
		{"future format", frameBackup(3, 1, 7, 2, snapshot), "format 3 not understood"},
		{"unknown raft snapshot version", frameBackup(backupFormatV2, 9, 7, 2, snapshot), "raft snapshot version 9"},
		{"index 0", frameBackup(backupFormatV2, 1, 0, 2, snapshot), "header index 0"},
		{"index 2^64-1", frameBackup(backupFormatV2, 1, math.MaxUint64, 2, snapshot), "header index 18446744073709551615"},
		{"index 2^64-1, format 1", frameBackup(backupFormatV1, 1, math.MaxUint64, 2, snapshot), "header index 18446744073709551615"},
		{"index past 2^62", frameBackup(backupFormatV2, 1, 1<<62+1, 2, snapshot), "not between 1 and 2^62"},
		{"term 0", frameBackup(backupFormatV2, 1, 7, 0, snapshot), "header term 0"},
		{"term 2^64-1", frameBackup(backupFormatV2, 1, 7, math.MaxUint64, snapshot), "header term 18446744073709551615"},
		{"a header field changed", func() []byte { b := valid(); b[19] ^= 1; return b }(), "checksum mismatch (format 2)"},
		{"format 1, size changed", func() []byte { b := bytes.Clone(v1); b[35]--; return b }(), "checksum mismatch (format 1)"},
		{"truncated snapshot", valid()[:backupHeaderLen+3], "snapshot truncated after 3 of 9 bytes"},
		{"no checksum", valid()[:written.Len()-sha256.Size], "missing checksum"},
		{"flipped bit", func() []byte { b := valid(); b[backupHeaderLen+1] ^= 1; return b }(), "checksum mismatch"},
		{"trailing data", append(valid(), 0), "data after the checksum"},
		{"an empty payload", frameBackup(backupFormatV2, 1, 7, 2, nil), "kv snapshot: EOF"},
		{"a payload that is no snapshot", frameBackup(backupFormatV2, 1, 7, 2, []byte("not json!")), "kv snapshot: invalid character"},
		{"a payload with more after it", frameBackup(backupFormatV2, 1, 7, 2, []byte(`{"a":"1"} {}`)), "data after the object"},
	}
	n := &Node{cfg: Config{DataDir: t.TempDir()}, fsm: testkit.NewKV()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta, file, err := n.receiveBackup(bytes.NewReader(tt.backup))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				got, _ := os.ReadFile(file.Name())
				file.Close()
				os.Remove(file.Name())
				if !bytes.Equal(got, snapshot) || meta.Index != 7 || meta.Term != 2 || meta.Size != int64(len(snapshot)) {
					t.Errorf("spooled %q with %+v", got, meta)
				}
				return
			}
			if !errors.Is(err, ErrBadBackup) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrBadBackup saying %q", err, tt.want)
			}
		})
	}
	if leftovers, _ := filepath.Glob(filepath.Join(n.cfg.DataDir, "restore-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}
