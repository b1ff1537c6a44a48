package storage

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/coal-mine/coal-mine/cluster/writeback"
	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// newTestSnapshotStore opens a store that keeps retain snapshots in a new data
// directory, with its trash.
func newTestSnapshotStore(t *testing.T, retain int) (*snapshotStore, *trash, string) {
	t.Helper()
	dataDir := t.TempDir()
	logger := newTestLogger(t)
	tr, err := openTrash(dataDir, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.close)
	store, err := newSnapshotStore(dataDir, retain, tr, logger, hclogslog.New(logger, "raft"))
	if err != nil {
		t.Fatal(err)
	}
	return store, tr, dataDir
}

// TestSnapshotStoreWritesReadsAndReaps: snapshots bigger than a few writeback windows
// read back intact, only the newest retain are kept, and the old ones leave through the
// trash.
func TestSnapshotStoreWritesReadsAndReaps(t *testing.T) {
	t.Parallel()
	store, tr, dataDir := newTestSnapshotStore(t, 2)

	contents := map[string][]byte{}
	for i := range 3 {
		// Each snapshot is 2.5 writeback windows, written in odd-sized pieces.
		data := bytes.Repeat([]byte{byte('a' + i)}, 2*writeback.Window+writeback.Window/2)
		sink, err := store.Create(raft.SnapshotVersionMax, uint64(100*(i+1)), 1, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1<<20+7)
			if _, err := sink.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		contents[sink.ID()] = data
		time.Sleep(2 * time.Millisecond) // snapshot ids carry the time in milliseconds
	}

	metas, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2 || metas[0].Index != 300 || metas[1].Index != 200 {
		t.Fatalf("kept %d snapshots %v, want the two newest (300, 200)", len(metas), metas)
	}
	for _, m := range metas {
		_, rc, err := store.Open(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, contents[m.ID]) {
			t.Fatalf("snapshot %s read back %d bytes (err %v), want the %d written", m.ID, len(got), err, len(contents[m.ID]))
		}
	}
	if dirs := dirEntries(t, filepath.Join(dataDir, snapshotsDirName)); len(dirs) != 2 {
		t.Errorf("snapshots directory holds %v, want two snapshots", dirs)
	}
	testkit.Eventually(t, 10*time.Second, trashEmpty(t, tr))
}

func TestSnapshotStoreCancel(t *testing.T) {
	t.Parallel()
	store, _, dataDir := newTestSnapshotStore(t, 2)
	sink, err := store.Create(raft.SnapshotVersionMax, 10, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(bytes.Repeat([]byte{'x'}, writeback.Window+1)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatal(err)
	}
	if metas, _ := store.List(); len(metas) != 0 {
		t.Fatalf("a cancelled snapshot is listed: %v", metas)
	}
	if dirs := dirEntries(t, filepath.Join(dataDir, snapshotsDirName)); len(dirs) != 0 {
		t.Fatalf("a cancelled snapshot left %v", dirs)
	}
}

// TestSnapshotStoreKeepsWhatIsBeingRead: a snapshot open for reading (being sent to a
// follower, say) outlives the snapshots that would reap it, reads back whole, and goes
// when its reader closes it.
func TestSnapshotStoreKeepsWhatIsBeingRead(t *testing.T) {
	t.Parallel()
	store, tr, _ := newTestSnapshotStore(t, 1)
	take := func(index uint64, data []byte) string {
		t.Helper()
		sink, err := store.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // snapshot ids carry the time in milliseconds
		return sink.ID()
	}
	old := bytes.Repeat([]byte{'o'}, 3*writeback.Window)
	oldID := take(1, old)
	_, rc, err := store.Open(oldID)
	if err != nil {
		t.Fatal(err)
	}
	take(2, []byte("newer"))
	take(3, []byte("newest"))
	testkit.Eventually(t, 10*time.Second, trashEmpty(t, tr)) // whatever was reaped is gone
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("the open snapshot read back %d of %d bytes: %v", len(got), len(old), err)
	}
	rc.Close()

	metas, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 1 || metas[0].Index != 3 {
		t.Fatalf("after its reader closed, the store holds %v, want only the newest (3)", metas)
	}
}
