package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// smallFileSystem mounts a tmpfs of size bytes for the test, or skips it.
func smallFileSystem(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is tested on a small tmpfs, which only root can mount: run the tests as root to cover it")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v): a full disk is not covered", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillFileSystem writes a file in dir until the file system is full, then gives back
// 256 KiB of it: a disk as full as disks get, where a log segment can still be sealed
// but no new one made. It returns a function that removes the file.
func fillFileSystem(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 16, 1 << 12, 1 << 9} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	if info, err := f.Stat(); err != nil || f.Truncate(info.Size()-256<<10) != nil {
		t.Fatalf("give back some space: %v", err)
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// applyUntilRefused applies 2 KB writes through node until it reports that it cannot
// write its log, and returns the last write's error. Before each write, lead (if given)
// makes node the leader again should an election have moved leadership.
func applyUntilRefused(t *testing.T, node *Node, lead func()) error {
	t.Helper()
	value := strings.Repeat("x", 2000)
	var last error
	testkit.Eventually(t, 20*time.Second, func() error {
		for i := 0; i < 200 && node.StorageError() == nil; i++ {
			if lead != nil {
				lead()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, last = node.Apply(ctx, testkit.SetCmd(fmt.Sprintf("fill-%d", i), value))
			cancel()
		}
		if node.StorageError() == nil {
			return errors.New("the node still writes its log")
		}
		return nil
	})
	return last
}

// TestFullDiskSingleNode: a single node whose disk fills up refuses writes with an
// error that says the disk is full and names the data directory, goes on serving
// reads, and takes writes again by itself once space is freed. (raft-wal refused every
// append until restarted when it could not make its next segment.)
func TestFullDiskSingleNode(t *testing.T) {
	mount := smallFileSystem(t, 8<<20)
	fsm := testkit.NewKV()
	cfg := singleNodeConfig(t, filepath.Join(mount, "data"))
	cfg.logSegmentSize = 1 << 20
	n := startLeader(t, cfg, fsm)
	defer n.Shutdown()
	apply(t, n, "before", "v")

	free := fillFileSystem(t, mount)
	err := applyUntilRefused(t, n, nil)
	storageErr := n.StorageError()
	for _, e := range []error{err, storageErr} {
		if !errors.Is(e, ErrDiskFull) || !strings.Contains(e.Error(), cfg.DataDir) || !strings.Contains(e.Error(), "ENOSPC") {
			t.Errorf("error %v: want ErrDiskFull naming %s and ENOSPC", e, cfg.DataDir)
		}
	}
	if got, _ := fsm.Get("before"); got != "v" {
		t.Error("the state was lost")
	}

	free()
	testkit.Eventually(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := n.Apply(ctx, testkit.SetCmd("after", "v")); err != nil {
			return err
		}
		if err := n.StorageError(); err != nil {
			return fmt.Errorf("writes resumed but StorageError still says %v", err)
		}
		return nil
	})
}

// TestFullDiskOnTheLeader: in a three-node cluster, the leader's disk fills up. The
// cluster goes on taking writes (another node leads), the full node says why it does
// not, and once space is freed it catches up by itself.
//
// Writes go through the full node only while it leads: a follower that starts to
// refuse appends while the leader streams entries to it at full speed can meet
// hashicorp/raft's pipeline deadlock (the leader's replication to it, and its Shutdown,
// block in netPipeline.AppendEntries for good), which is not this test's subject.
func TestFullDiskOnTheLeader(t *testing.T) {
	mount := smallFileSystem(t, 8<<20)
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.logSegmentSize = 1 << 20
		if cfg.NodeID == "n1" {
			cfg.DataDir = filepath.Join(mount, "n1")
		}
	})
	full := c.nodes[0]
	lead := func() {
		leader := c.waitLeader(formTimeout)
		if leader == full {
			return
		}
		if err := leader.node.TransferLeadership(ctxTimeout(t, 10*time.Second), full.id); err != nil {
			t.Logf("transfer leadership to %s: %v", full.id, err)
		}
	}
	lead()

	free := fillFileSystem(t, mount)
	applyUntilRefused(t, full.node, lead)
	if err := full.node.StorageError(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("StorageError %v, want ErrDiskFull", err)
	}
	others := c.nodes[1:]
	testkit.Eventually(t, 20*time.Second, func() error {
		var leader *Node
		for _, tn := range others {
			if tn.node.IsLeader() {
				leader = tn.node
			}
		}
		if leader == nil {
			return errors.New("no other node leads")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := leader.Apply(ctx, testkit.SetCmd("while-full", "v"))
		return err
	})
	waitValue(t, syncTimeout, "while-full", "v", others...)

	free()
	waitValue(t, time.Minute, "while-full", "v", full)
	testkit.Eventually(t, 10*time.Second, func() error { return full.node.StorageError() })
}
