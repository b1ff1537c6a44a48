package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func members(t *testing.T, status map[string]any) []map[string]any {
	t.Helper()
	list, _ := status["members"].([]any)
	var out []map[string]any
	for _, m := range list {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestIntegrationClusterSingleNode(t *testing.T) {
	srv := startSingleNode(t, "k")
	cli := newCLIRunner(t)
	run := func(args ...string) map[string]any {
		return cli.ok(serverArgs(srv, append([]string{"--auth-key", "k"}, args...)...)...)
	}

	status := run("cluster", "status")
	ms := members(t, status)
	if status["state"] != "leader" || len(ms) != 1 || ms[0]["leader"] != true || status["node_id"] != ms[0]["id"] {
		t.Fatalf("cluster status %v", status)
	}
	human := cli.run(serverArgs(srv, "--auth-key", "k", "--human", "cluster", "status")...)
	nodeID := fmt.Sprint(status["node_id"])
	if human.code != 0 || !strings.Contains(human.stdout, "Leader: "+nodeID) || !strings.Contains(human.stdout, "leader") ||
		!strings.Contains(human.stdout, "NODE") || strings.Contains(human.stdout, "Unreachable") {
		t.Fatalf("human cluster status: %s", human)
	}
	cli.fails(1, "401 Unauthorized", serverArgs(srv, "cluster", "status")...)
	// One node cannot hand its leadership to anyone.
	cli.fails(1, "", serverArgs(srv, "--auth-key", "k", "cluster", "transfer-leader")...)

	// Backup, change the state, restore: the state is the backup's again.
	kept := canaryOf(t, run("create", "--name", "Kept", "--periodicity", "3600"))["id"].(string)
	backup := filepath.Join(t.TempDir(), "backup.snap")
	saved := run("snapshot", "save", backup)
	info, err := os.Stat(backup)
	if err != nil || info.Size() == 0 || info.Mode().Perm() != 0o600 || saved["bytes"] != float64(info.Size()) {
		t.Fatalf("snapshot save: %v %v %v", saved, info, err)
	}
	run("delete", "--id", kept)
	later := canaryOf(t, run("create", "--name", "Later", "--periodicity", "3600"))["id"].(string)
	if out := run("snapshot", "restore", backup); out["status"] != "ok" {
		t.Fatalf("snapshot restore: %v", out)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if res := cli.run(serverArgs(srv, "--auth-key", "k", "get", "--id", kept)...); res.code != 0 {
			return fmt.Errorf("the deleted canary is not back: %s", res)
		}
		if res := cli.run(serverArgs(srv, "--auth-key", "k", "get", "--id", later)...); res.code != 1 {
			return fmt.Errorf("the canary created after the backup survived the restore: %s", res)
		}
		return nil
	})
	// Backups through stdout and stdin.
	piped := cli.run(serverArgs(srv, "--auth-key", "k", "snapshot", "save", "-")...)
	if piped.code != 0 || len(piped.stdout) == 0 {
		t.Fatalf("snapshot save -: exit %d, %d bytes, %s", piped.code, len(piped.stdout), piped.stderr)
	}
	if res := cli.runWithInput(piped.stdout, serverArgs(srv, "--auth-key", "k", "snapshot", "restore", "-")...); res.code != 0 {
		t.Fatalf("snapshot restore -: %s", res)
	}
	cli.fails(1, "opening the backup", serverArgs(srv, "--auth-key", "k", "snapshot", "restore", filepath.Join(t.TempDir(), "none"))...)
	garbage := filepath.Join(t.TempDir(), "garbage.snap")
	os.WriteFile(garbage, []byte("not a backup"), 0o600)
	cli.fails(1, "400 Bad Request", serverArgs(srv, "--auth-key", "k", "snapshot", "restore", garbage)...)

	// Well-framed backups that panicked the leader or wedged the cluster are refused
	// with a reason, and the node goes on serving writes.
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	payload := raw[36 : len(raw)-32]
	for _, tt := range []struct {
		name, want string
		backup     []byte
	}{
		{"empty payload", "restore snapshot: not a coal-mine snapshot", frameBackup(1, 5, 2, nil)},
		{"foreign payload", "restore snapshot: not a coal-mine snapshot", frameBackup(2, 5, 2, []byte("hello"))},
		{"index 2^64-1", "header index 18446744073709551615 is not between 1 and 2^62", frameBackup(1, math.MaxUint64, 2, payload)},
	} {
		file := filepath.Join(t.TempDir(), "bad.snap")
		os.WriteFile(file, tt.backup, 0o600)
		res := cli.fails(1, "400 Bad Request", serverArgs(srv, "--auth-key", "k", "snapshot", "restore", file)...)
		if !strings.Contains(res.stderr, tt.want) {
			t.Errorf("restore of a backup with %s: %s, want %q", tt.name, res.stderr, tt.want)
		}
		run("create", "--name", "After "+tt.name, "--periodicity", "3600")
	}
}

// frameBackup frames payload as a coal-mine backup of the given format (2 checksums the
// header too), with any index.
func frameBackup(format uint16, index, term uint64, payload []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString("CMRAFTBK")
	for _, field := range []any{format, uint16(1), index, term, uint64(len(payload))} {
		binary.Write(&buf, binary.BigEndian, field)
	}
	buf.Write(payload)
	sum := sha256.Sum256(payload)
	if format == 2 {
		sum = sha256.Sum256(buf.Bytes())
	}
	buf.Write(sum[:])
	return buf.Bytes()
}

func TestIntegrationThreeNodeCluster(t *testing.T) {
	daemonBinary(t)
	ids := []string{"n1", "n2", "n3"}
	gossip := []int{testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)}
	var nodes []*testServer
	for i, id := range ids {
		var join []string
		for j, p := range gossip {
			if j != i {
				join = append(join, fmt.Sprintf("127.0.0.1:%d", p))
			}
		}
		nodes = append(nodes, startServer(t, serverOptions{nodeID: id, gossipPort: gossip[i], join: join, bootstrapExpect: 3}))
	}
	for _, n := range nodes {
		n.waitReady()
	}
	cli := newCLIRunner(t)
	status := func(n *testServer) map[string]any { return cli.ok(serverArgs(n, "cluster", "status")...) }

	var leader string
	testkit.Eventually(t, 30*time.Second, func() error {
		s := status(nodes[0])
		ms := members(t, s)
		leaders := 0
		for _, m := range ms {
			if m["leader"] == true {
				leaders++
			}
		}
		if len(ms) != 3 || leaders != 1 || s["leader_id"] == "" || s["leader_id"] == nil {
			return fmt.Errorf("cluster not formed: %v", s)
		}
		leader = fmt.Sprint(s["leader_id"])
		return nil
	})
	human := cli.run(serverArgs(nodes[0], "--human", "cluster", "status")...)
	for _, id := range ids {
		if !strings.Contains(human.stdout, id) {
			t.Errorf("human status lacks %s:\n%s", id, human)
		}
	}
	if strings.Contains(human.stdout, "Unreachable") || strings.Count(human.stdout, "alive") != 3 {
		t.Errorf("human status: every member should be reachable and alive:\n%s", human)
	}

	// Writes through any node; reads from any other.
	var follower, other *testServer
	for i, n := range nodes {
		if ids[i] != leader {
			if follower == nil {
				follower = n
			} else {
				other = n
			}
		}
	}
	id := canaryOf(t, cli.ok(serverArgs(follower, "create", "--name", "Through a follower", "--periodicity", "3600")...))["id"].(string)
	testkit.Eventually(t, 10*time.Second, func() error {
		if res := cli.run(serverArgs(other, "get", "--id", id)...); res.code != 0 {
			return fmt.Errorf("not replicated: %s", res)
		}
		return nil
	})

	// Leadership to a named node.
	target := follower.nodeID
	out := cli.ok(serverArgs(nodes[0], "cluster", "transfer-leader", "--id", target)...)
	if out["status"] != "ok" {
		t.Fatalf("transfer-leader: %v", out)
	}
	testkit.Eventually(t, 15*time.Second, func() error {
		if s := status(follower); s["leader_id"] != target || s["state"] != "leader" {
			return fmt.Errorf("leadership not transferred to %s: %v", target, s)
		}
		return nil
	})

	// Remove a follower (stopped first, as an operator would for a dead node).
	victim := other
	victim.stop()
	// The server refuses while gossip still sees the node alive.
	testkit.Eventually(t, 30*time.Second, func() error {
		if res := cli.run(serverArgs(follower, "cluster", "remove-peer", "--id", victim.nodeID)...); res.code != 0 {
			return fmt.Errorf("remove-peer: %s", res)
		}
		return nil
	})
	testkit.Eventually(t, 15*time.Second, func() error {
		for _, m := range members(t, status(follower)) {
			if m["id"] == victim.nodeID && m["voter"] == true {
				return fmt.Errorf("%s is still a voter", victim.nodeID)
			}
		}
		return nil
	})
	cli.ok(serverArgs(follower, "create", "--name", "After removal", "--periodicity", "60")...)
}
