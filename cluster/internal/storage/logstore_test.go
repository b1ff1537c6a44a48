package storage

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func entries(first, last uint64) []*raft.Log {
	var logs []*raft.Log
	for i := first; i <= last; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1 + i/1000, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry %d", i))})
	}
	return logs
}

func indexRange(t *testing.T, s raft.LogStore) (uint64, uint64) {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}

func TestMigrateBoltLogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		bolt, wal          [2]uint64 // first and last index already stored; 0,0 for none
		wantFirst, wantEnd uint64
		wantErr            bool
	}{
		{name: "nothing to move"},
		{name: "whole log", bolt: [2]uint64{1, 2500}, wantFirst: 1, wantEnd: 2500},
		{name: "compacted log", bolt: [2]uint64{4000, 4100}, wantFirst: 4000, wantEnd: 4100},
		{name: "crash after part was copied", bolt: [2]uint64{1, 2500}, wal: [2]uint64{1, 1500}, wantFirst: 1, wantEnd: 2500},
		{name: "crash after all was copied", bolt: [2]uint64{1, 2500}, wal: [2]uint64{1, 2500}, wantFirst: 1, wantEnd: 2500},
		{name: "wal already ahead, nothing in bolt", wal: [2]uint64{1, 10}, wantFirst: 1, wantEnd: 10},
		{name: "logs that do not join", bolt: [2]uint64{100, 200}, wal: [2]uint64{1, 50}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer bolt.Close()
			w, err := openWAL(filepath.Join(dir, walDirName), nil, hclogslog.New(newTestLogger(t), "wal"), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if tt.bolt[1] > 0 {
				if err := bolt.StoreLogs(entries(tt.bolt[0], tt.bolt[1])); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wal[1] > 0 {
				if err := w.StoreLogs(entries(tt.wal[0], tt.wal[1])); err != nil {
					t.Fatal(err)
				}
			}

			err = migrateBoltLogs(bolt, w)
			if tt.wantErr {
				if err == nil {
					t.Fatal("migration of logs that do not join succeeded")
				}
				if _, last := indexRange(t, bolt); last != tt.bolt[1] {
					t.Errorf("a failed migration deleted from raft.db: last index %d", last)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if first, last := indexRange(t, w); first != tt.wantFirst || last != tt.wantEnd {
				t.Errorf("WAL holds %d-%d, want %d-%d", first, last, tt.wantFirst, tt.wantEnd)
			}
			if _, last := indexRange(t, bolt); last != 0 {
				t.Errorf("raft.db still holds entries up to %d", last)
			}
			for i := tt.wantFirst; i <= tt.wantEnd && i > 0; i++ {
				var l raft.Log
				if err := w.GetLog(i, &l); err != nil {
					t.Fatalf("entry %d: %v", i, err)
				}
				if want := fmt.Sprintf("entry %d", i); string(l.Data) != want || l.Index != i || l.Term != 1+i/1000 {
					t.Fatalf("entry %d is %d/%d %q", i, l.Index, l.Term, l.Data)
				}
			}
			if err := migrateBoltLogs(bolt, w); err != nil {
				t.Errorf("second run: %v", err)
			}
		})
	}
}
