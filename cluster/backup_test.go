package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackupThenRestoreReplacesStateEverywhere(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	apply(t, leader.node, "kept", "from-backup")
	apply(t, leader.node, "changed", "old")
	waitValue(t, syncTimeout, "changed", "old", c.nodes...)

	// Back up from a follower: its applied state is all it needs.
	var backup bytes.Buffer
	follower := c.followers(leader)[0]
	if err := follower.node.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatalf("backup: %v", err)
	}

	apply(t, leader.node, "changed", "new")
	apply(t, leader.node, "added", "after-backup")
	waitValue(t, syncTimeout, "added", "after-backup", c.nodes...)

	if err := follower.node.Restore(ctxTimeout(t, 5*time.Second), bytes.NewReader(backup.Bytes())); !errors.Is(err, ErrNotLeader) {
		t.Errorf("restore on a follower: %v, want ErrNotLeader", err)
	}
	damaged := bytes.Clone(backup.Bytes())
	damaged[len(damaged)/2] ^= 0xff
	if err := leader.node.Restore(ctxTimeout(t, 5*time.Second), bytes.NewReader(damaged)); !errors.Is(err, ErrBadBackup) {
		t.Errorf("restore of a damaged backup: %v, want ErrBadBackup", err)
	}
	if got, _ := leader.fsm.get("added"); got != "after-backup" {
		t.Fatal("a refused restore changed the state")
	}

	if err := leader.node.Restore(ctxTimeout(t, 20*time.Second), bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatalf("restore: %v", err)
	}
	waitValue(t, syncTimeout, "changed", "old", c.nodes...)
	waitValue(t, syncTimeout, "kept", "from-backup", c.nodes...)
	for _, tn := range c.nodes {
		if _, ok := tn.fsm.get("added"); ok {
			t.Errorf("%s still has a key written after the backup", tn.id)
		}
	}
	// The cluster goes on working after a restore.
	apply(t, leader.node, "after-restore", "1")
	waitValue(t, syncTimeout, "after-restore", "1", c.nodes...)
}

func TestBackupOfEmptySingleNode(t *testing.T) {
	n, err := New(t.Context(), singleNodeConfig(t, t.TempDir()), newKV())
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
				apply(t, leader.node, fmt.Sprint("k", i), "v")
			}
			waitValue(t, syncTimeout, fmt.Sprint("k", writes-1), "v", c.nodes...)

			victim, follower := c.followers(leader)[0], c.followers(leader)[1]
			c.kill(victim)
			eventually(t, syncTimeout, func() error {
				return leader.node.RemovePeer(ctxTimeout(t, 5*time.Second), victim.id)
			})
			// The follower has been handed the configuration entry as committed.
			last := leader.node.raft.LastIndex()
			eventually(t, syncTimeout, func() error {
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
			kv := newKV()
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
				if got, _ := kv.get(fmt.Sprint("k", i)); got != "v" {
					t.Errorf("the backup has k%d=%q, want v", i, got)
				}
			}
		})
	}
}
