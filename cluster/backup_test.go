package cluster

import (
	"bytes"
	"errors"
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
