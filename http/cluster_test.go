package http

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClusterStatus(t *testing.T) {
	n := newNode(t, nil)
	r := n.get(t, clusterPrefix+"status")
	expectStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.raw, "{\n    \"status\": \"ok\",") {
		t.Errorf("status not first:\n%s", r.raw)
	}
	if r.body["node_id"] != "n1" || r.body["state"] != "leader" || r.body["term"] != 3.0 {
		t.Errorf("status %v", r.body)
	}
	expectError(t, n.get(t, clusterPrefix+"status?verbose=1"), http.StatusBadRequest, `Unexpected argument "verbose"`)
}

func TestRemovePeerAndTransferLeader(t *testing.T) {
	c := newCluster2(t)
	for _, h := range []*node{c.leader, c.follower} {
		expectStatus(t, h.get(t, clusterPrefix+"remove-peer?id=n3"), http.StatusOK)
		expectStatus(t, h.do(t, http.MethodPost, clusterPrefix+"remove-peer?id=n4", nil), http.StatusOK)
	}
	// The cluster brings each to the leader, wherever it is asked.
	for _, h := range []*node{c.leader, c.follower} {
		if got := strings.Join(h.cluster.removed, ","); got != "n3,n4" {
			t.Errorf("asked the cluster to remove %q", got)
		}
	}
	expectError(t, c.leader.get(t, clusterPrefix+"remove-peer"), http.StatusBadRequest, `Missing argument "id"`)
	expectError(t, c.leader.get(t, clusterPrefix+"remove-peer?id=n3&x=1"), http.StatusBadRequest, `Unexpected argument "x"`)

	r := c.follower.get(t, clusterPrefix+"transfer-leader?id=n2")
	expectStatus(t, r, http.StatusOK)
	if r.body["leader_id"] != "n2" || r.str("status") != "ok" {
		t.Errorf("transfer answer %s", r.raw)
	}
	expectStatus(t, c.leader.do(t, http.MethodPost, clusterPrefix+"transfer-leader", nil), http.StatusOK)
	if got := strings.Join(c.leader.cluster.transferredTo, ",") + "/" + strings.Join(c.follower.cluster.transferredTo, ","); got != "/n2" {
		t.Errorf("transfers %q", got)
	}
	if c.leaderHits.Load() != 0 {
		t.Error("an operator request was proxied to the leader")
	}

	c.leader.cluster.opErr = errors.New("unknown peer")
	expectError(t, c.leader.get(t, clusterPrefix+"remove-peer?id=n9"), http.StatusBadRequest, "remove peer: unknown peer")
	expectError(t, c.leader.get(t, clusterPrefix+"transfer-leader"), http.StatusBadRequest, "transfer leadership: unknown peer")
}

func TestSnapshotDownloadStreamsTheBackup(t *testing.T) {
	n := newNode(t, nil)
	n.cluster.backup = bytes.Repeat([]byte("backup\x00"), 100000)
	rec := httptest.NewRecorder()
	n.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, clusterPrefix+"snapshot", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("snapshot: %d %v", rec.Code, rec.Header())
	}
	if !bytes.Equal(rec.Body.Bytes(), n.cluster.backup) {
		t.Error("the download is not the backup")
	}

	n.cluster.backupErr = errors.New("disk on fire")
	r := n.get(t, clusterPrefix+"snapshot")
	expectError(t, r, http.StatusInternalServerError, "backup failed")
	if strings.Contains(r.raw, "fire") {
		t.Error("internal error shown")
	}

	// A node that cannot take a backup yet says so, and when to come back.
	n.cluster.backupErr = fmt.Errorf("wrapped: %w", errBackupNotReady)
	r = n.get(t, clusterPrefix+"snapshot")
	expectError(t, r, http.StatusServiceUnavailable, "backup: this node has not caught up with the cluster yet; retry, or ask another node")
	if got := r.header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}

	// Failing after part of it was sent, the download breaks instead of ending cleanly.
	n.cluster.backupErr = errors.New("disk on fire")
	n.cluster.backupErrAfter = true
	srv := httptest.NewServer(n.handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + clusterPrefix + "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("a failed backup downloaded as if complete")
	}
}

func TestSnapshotRestore(t *testing.T) {
	c := newCluster2(t)
	upload := bytes.Repeat([]byte("state"), 50000)
	r := send(t, http.MethodPost, c.leaderURL+clusterPrefix+"snapshot", bytes.NewReader(upload), nil)
	expectStatus(t, r, http.StatusOK)
	if !bytes.Equal(c.leader.cluster.restored, upload) {
		t.Error("leader did not restore the upload")
	}

	// Through the follower: streamed to the leader.
	c.leader.cluster.restored = nil
	follower := httptest.NewServer(c.follower.handler)
	defer follower.Close()
	r = send(t, http.MethodPost, follower.URL+clusterPrefix+"snapshot", bytes.NewReader(upload), nil)
	expectStatus(t, r, http.StatusOK)
	if !bytes.Equal(c.leader.cluster.restored, upload) || c.follower.cluster.restored != nil {
		t.Error("the follower did not hand the restore to the leader")
	}

	small := newNode(t, nil, func(cfg *Config) { cfg.MaxRestoreBytes = 10 })
	expectStatus(t, small.do(t, http.MethodPost, clusterPrefix+"snapshot", bytes.NewReader(upload)), http.StatusRequestEntityTooLarge)
	srv := httptest.NewServer(small.handler)
	defer srv.Close()
	// Unknown length (chunked): the limit cuts the stream.
	r = send(t, http.MethodPost, srv.URL+clusterPrefix+"snapshot", struct{ *bytes.Reader }{bytes.NewReader(upload)}, nil)
	expectStatus(t, r, http.StatusRequestEntityTooLarge)

	// Through a follower too.
	small.cluster.setLeader(false, strings.TrimPrefix(c.leaderURL, "http://"))
	r = send(t, http.MethodPost, srv.URL+clusterPrefix+"snapshot", struct{ *bytes.Reader }{bytes.NewReader(upload)}, nil)
	expectStatus(t, r, http.StatusRequestEntityTooLarge)

	c.leader.cluster.opErr = errors.New("not a backup")
	expectError(t, c.leader.do(t, http.MethodPost, clusterPrefix+"snapshot", strings.NewReader("junk")), http.StatusBadRequest, "restore: not a backup")
}

// pacedUpload sends chunks of size bytes, pause apart, then ends (or, with hang, stays
// open without sending more).
func pacedUpload(chunks, size int, pause time.Duration, hang bool) io.Reader {
	r, w := io.Pipe()
	go func() {
		for range chunks {
			if _, err := w.Write(bytes.Repeat([]byte("s"), size)); err != nil {
				return
			}
			time.Sleep(pause)
		}
		if !hang {
			w.Close()
		}
	}()
	return r
}

// TestSnapshotRestoreStalledUpload: a restore upload that stops moving is abandoned
// after one window with 408 and a JSON error saying so, on the leader and through a
// follower; a slow one that keeps moving is restored however long it takes.
func TestSnapshotRestoreStalledUpload(t *testing.T) {
	// A window wide enough that the slow upload's pauses (a tenth of it) keep it moving
	// on a machine whose CPUs are busy with other work.
	const window = time.Second
	c := newCluster2(t, func(cfg *Config) { cfg.RestoreStall = window })
	follower := httptest.NewServer(c.follower.handler)
	defer follower.Close()
	tests := []struct {
		name       string
		url        string
		upload     io.Reader
		wantStatus int
	}{
		{"stalled, on the leader", c.leaderURL, pacedUpload(1, 10, 0, true), http.StatusRequestTimeout},
		{"stalled, through a follower", follower.URL, pacedUpload(1, 10, 0, true), http.StatusRequestTimeout},
		{"dribbled", c.leaderURL, pacedUpload(100, 1, window/3, true), http.StatusRequestTimeout},
		{"slow but moving", c.leaderURL, pacedUpload(16, restoreProgressBytes, window/10, false), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := send(t, http.MethodPost, tt.url+clusterPrefix+"snapshot", tt.upload, nil)
			if tt.wantStatus != http.StatusOK {
				expectError(t, r, tt.wantStatus, "restore: the upload stalled: less than 64 KiB arrived in 1s")
				if took := time.Since(start); took > 5*window {
					t.Errorf("abandoned after %v, want about %v", took, window)
				}
				return
			}
			expectStatus(t, r, tt.wantStatus)
			if took := time.Since(start); took < window {
				t.Fatalf("the slow upload took %v: not slower than the window", took)
			}
		})
	}
}

// TestWritesOnAFullDiskSayWhy: a node that cannot write its Raft log answers writes 503
// with why (the disk, named, is full), not "no leader", and goes on answering reads.
func TestWritesOnAFullDiskSayWhy(t *testing.T) {
	full := errors.New("disk full: the raft log in /var/lib/coal-mine/raft-wal cannot be written: no space left on device (ENOSPC)")
	tests := []struct {
		name    string
		setup   func(n *node)
		diskErr error
		want    string
	}{
		{"no leader, disk full", func(n *node) { n.proposer.alwaysNotLeader.Store(true) }, full, full.Error()},
		{"commits fail, disk full", func(n *node) { n.proposer.failWith = errors.New("store raft log entries: ENOSPC") }, full, full.Error()},
		{"no leader, disk fine", func(n *node) { n.proposer.alwaysNotLeader.Store(true) }, nil, "no leader: the cluster is electing one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, nil, withElectionWait(60*time.Millisecond))
			id := n.mustCreate(t, "name=kept&periodicity=60")
			tt.setup(n)
			n.cluster.storageErr = tt.diskErr
			r := n.get(t, canaryPrefix+"trigger?id="+id)
			expectStatus(t, r, http.StatusServiceUnavailable)
			if !strings.HasPrefix(r.str("error"), tt.want) || r.header.Get("Retry-After") == "" {
				t.Errorf("503 answer: %v %s, want an error starting %q", r.header, r.raw, tt.want)
			}
			expectStatus(t, n.get(t, canaryPrefix+"get?id="+id), http.StatusOK)
		})
	}
}
