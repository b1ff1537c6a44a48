//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// suite is one running compose project and what the steps learnt about it.
type suite struct {
	*apiClient
	project    *composeProject
	nodes      []string          // the coal-mine services; each node's id is its service name
	containers map[string]string // service -> container id, refreshed by up
	suffix     string            // makes canary names unique to this run
	knownID    string            // a canary every node has had since the first step
	probeNet   string            // network the partition step creates, "" until then
}

// startSuite starts the compose project and waits until it is a healthy cluster. The
// project is removed with its volumes when the test ends (unless COAL_MINE_E2E_KEEP=1).
func startSuite(t *testing.T) *suite {
	t.Helper()
	name := os.Getenv("COAL_MINE_E2E_PROJECT")
	if name == "" {
		name = fmt.Sprintf("coalmine-e2e-%d", os.Getpid())
	}
	key := randomHex(12)
	project, err := newComposeProject(name, key)
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{
		apiClient: &apiClient{http: &http.Client{Timeout: 30 * time.Second}, authKey: key, ports: project.ports},
		project:   project,
		nodes:     []string{"node1", "node2", "node3"},
		suffix:    randomHex(3),
	}
	t.Cleanup(func() { s.teardown(t) })
	t.Logf("compose project %s (%s), ports %v", name, strings.Join(project.command, " "), project.ports)
	s.up(t)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// up runs `compose up -d` and waits for a healthy cluster.
func (s *suite) up(t *testing.T) {
	t.Helper()
	started := time.Now()
	if _, err := s.project.run("up", "-d"); err != nil {
		t.Fatal(err)
	}
	s.containers = map[string]string{}
	for _, service := range append(slices.Clone(s.nodes), "mailsink", "secrets") {
		id, err := s.project.container(service)
		if err != nil {
			t.Fatal(err)
		}
		s.containers[service] = id
	}
	// The secrets step has run once a node is up: the nodes cannot start without it.
	testkit.EventuallyEvery(t, 60*time.Second, time.Second, func() error {
		dir := t.TempDir()
		if _, err := docker("cp", s.containers["secrets"]+":/secrets/ca.pem", dir); err != nil {
			return err
		}
		pemData, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err != nil {
			return err
		}
		return s.trustCA(pemData)
	})
	leader, _ := s.waitHealthy(t, 120*time.Second)
	t.Logf("cluster up and healthy after %s, leader %s", since(started), leader)
}

// teardown saves the logs of a failed run and removes the project with its volumes.
func (s *suite) teardown(t *testing.T) {
	if t.Failed() {
		s.saveLogs(t)
	}
	if os.Getenv("COAL_MINE_E2E_KEEP") == "1" {
		t.Logf("COAL_MINE_E2E_KEEP=1: leaving compose project %s running", s.project.name)
		return
	}
	if out, err := s.project.run("down", "--volumes", "--remove-orphans", "--timeout", "10"); err != nil {
		t.Errorf("compose down: %v\n%s", err, out)
	}
	if s.probeNet != "" {
		docker("network", "rm", s.probeNet) // already gone unless the partition step failed
	}
}

// saveLogs writes every container's log to deploy/e2e/.work/ and shows only its last
// lines, so that the failure above them stays in view of a CI summary.
func (s *suite) saveLogs(t *testing.T) {
	logs, err := s.project.run("logs", "--no-color", "--timestamps")
	if err != nil {
		t.Logf("compose logs: %v", err)
		return
	}
	lines := strings.Split(logs, "\n")
	t.Logf("last lines of the containers' logs:\n%s", strings.Join(lines[max(0, len(lines)-20):], "\n"))
	dir := filepath.Join(filepath.Dir(s.project.file), "deploy", "e2e", ".work")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		file := filepath.Join(dir, s.project.name+".log")
		if os.WriteFile(file, []byte(logs), 0o644) == nil {
			t.Logf("full logs in %s", file)
		}
	}
}

// waitHealthy waits until every node is ready, all name the same leader, and the
// leader counts every node as a voter. It returns the leader and its status.
func (s *suite) waitHealthy(t *testing.T, timeout time.Duration) (string, clusterStatus) {
	t.Helper()
	var leader string
	var status clusterStatus
	testkit.EventuallyEvery(t, timeout, 200*time.Millisecond, func() error { // a healthy three-node cluster
		for _, node := range s.nodes {
			if code, err := s.probe(node, "/readyz"); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s /readyz: %d %v", node, code, err)
			}
		}
		var err error
		if leader, status, err = s.agreedLeader(s.nodes...); err != nil {
			return err
		}
		var voters []string
		for _, m := range status.Members {
			if m.Voter {
				voters = append(voters, m.ID)
			}
		}
		sort.Strings(voters)
		if !slices.Equal(voters, s.nodes) {
			return fmt.Errorf("leader %s has voters %v, want %v", leader, voters, s.nodes)
		}
		return nil
	})
	return leader, status
}

// mustWrite sends a write and requires 200 with status ok, retrying a 503 (a leader
// election in progress) for a while.
func (s *suite) mustWrite(t *testing.T, node, path string, params url.Values) response {
	t.Helper()
	var r response
	testkit.EventuallyEvery(t, 30*time.Second, 250*time.Millisecond, func() error { // the write goes through
		var err error
		if r, err = s.call(node, path, params); err != nil {
			return err
		}
		switch {
		case r.code == http.StatusServiceUnavailable:
			return fmt.Errorf("still %s", r)
		case r.code != http.StatusOK || r.body["status"] != "ok":
			t.Fatalf("%s %s %v: %s", node, path, params, r)
		}
		return nil
	})
	return r
}

// create makes a canary through node and returns it as the node answered.
func (s *suite) create(t *testing.T, node string, params url.Values) map[string]any {
	t.Helper()
	r := s.mustWrite(t, node, "canary/create", params)
	canary, ok := r.body["canary"].(map[string]any)
	if !ok {
		t.Fatalf("create on %s: no canary in %s", node, r)
	}
	return canary
}

// others are the nodes other than node.
func (s *suite) others(node string) []string {
	var out []string
	for _, n := range s.nodes {
		if n != node {
			out = append(out, n)
		}
	}
	return out
}

// sameCanaryEverywhere checks that every node answers the same canary, and that its
// history has every wanted comment.
func (s *suite) sameCanaryEverywhere(id string, nodes []string, wantComments ...string) error {
	var first map[string]any
	for _, node := range nodes {
		canary, err := s.canary(node, id)
		if err != nil {
			return err
		}
		comments := historyComments(canary)
		for _, want := range wantComments {
			if !slices.ContainsFunc(comments, func(c string) bool { return strings.Contains(c, want) }) {
				return fmt.Errorf("%s: history of %s %q has no %q", node, id, comments, want)
			}
		}
		if first == nil {
			first = canary
		} else if !reflect.DeepEqual(first, canary) {
			return fmt.Errorf("%s answers %v, %s answers %v", nodes[0], first, node, canary)
		}
	}
	return nil
}

// newLeaderAmong waits for one of nodes to be leader in a term after term.
func (s *suite) newLeaderAmong(t *testing.T, nodes []string, term uint64) (string, time.Time) {
	t.Helper()
	var leader string
	at := testkit.EventuallyEvery(t, 30*time.Second, 25*time.Millisecond, func() error { // a leader among the nodes
		for _, node := range nodes {
			if st, err := s.status(node); err == nil && st.State == "leader" && st.Term > term {
				leader = node
				return nil
			}
		}
		return errNoLeaderSeen
	})
	return leader, at
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}
