package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Partitions, with iptables on the loopback interface.
//
// Dropping what goes to and from a node's Raft and gossip ports is not a partition by
// itself: the connections a node opens to its peers leave from ephemeral ports and go
// to the peers' ports, so a partitioned leader would go on replicating to its followers
// and nothing would change. The campaign therefore runs each node as a user of its own,
// and also drops what the partitioned node's user sends to its peers' Raft and gossip
// ports (the owner match). HTTP stays open: a partitioned follower can still forward a
// write to the leader, as it could in a real network partition of the cluster's ports.
//
// Every rule carries the comment coal-mine-chaos-<pid>, so that healing deletes exactly
// the rules this campaign added, and rules that a killed campaign left behind are
// recognised by their dead pid.

const commentPrefix = "coal-mine-chaos-"

type firewall struct {
	comment string
	// disabled says why partitions are skipped ("" when they are not).
	disabled string

	mu    sync.Mutex
	rules [][]string // the rules in place, as iptables -A arguments after the chain
}

// newFirewall checks that partitions can be made: root, iptables, and the owner match.
// When they cannot, partitions are skipped and the reason is logged.
func newFirewall(ctx context.Context, log *journal) *firewall {
	fw := &firewall{comment: commentPrefix + strconv.Itoa(os.Getpid())}
	switch {
	case os.Geteuid() != 0:
		fw.disabled = "not running as root"
	default:
		if _, err := exec.LookPath("iptables-restore"); err != nil {
			fw.disabled = "iptables is not installed (apt-get install -y iptables)"
			break
		}
		fw.removeStale(ctx, log)
		probe := []string{"-o", "lo", "-p", "tcp", "--dport", "9", "-m", "owner", "--uid-owner", "65534"}
		if err := fw.add(ctx, probe); err != nil {
			fw.disabled = "iptables cannot add a loopback rule with an owner match: " + err.Error()
			break
		}
		if err := fw.heal(ctx); err != nil {
			fw.disabled = "iptables cannot delete its probe rule: " + err.Error()
		}
	}
	if fw.disabled != "" {
		log.printf("partitions SKIPPED: %s", fw.disabled)
	}
	return fw
}

// isolationRules are the rules that cut node self off from its peers: what goes to or
// comes from its Raft and gossip ports, and what its user sends to the peers' ones.
func isolationRules(self *node, peers []*node) [][]string {
	var rules [][]string
	for _, port := range []int{self.raftPort, self.gossipPort} {
		for _, proto := range []string{"tcp", "udp"} {
			for _, dir := range []string{"--dport", "--sport"} {
				rules = append(rules, []string{"-o", "lo", "-p", proto, dir, strconv.Itoa(port)})
			}
		}
	}
	if self.uid != 0 {
		var peerPorts []string
		for _, p := range peers {
			peerPorts = append(peerPorts, strconv.Itoa(p.raftPort), strconv.Itoa(p.gossipPort))
		}
		for _, proto := range []string{"tcp", "udp"} {
			rules = append(rules, []string{"-o", "lo", "-p", proto, "-m", "owner", "--uid-owner", strconv.Itoa(self.uid),
				"-m", "multiport", "--dports", strings.Join(peerPorts, ",")})
		}
	}
	return rules
}

// isolate partitions a node from its peers.
func (fw *firewall) isolate(ctx context.Context, self *node, peers []*node) error {
	if fw.disabled != "" {
		return errors.New("partitions are disabled: " + fw.disabled)
	}
	if err := fw.add(ctx, isolationRules(self, peers)...); err != nil {
		return errors.Join(fmt.Errorf("partition %s: %w", self.name, err), fw.heal(ctx))
	}
	return nil
}

// add appends rules to OUTPUT in one transaction: a partition begins at once, not rule
// by rule (one iptables call took a second while another program held the xtables
// lock, and a half-made partition is another fault than the one recorded).
func (fw *firewall) add(ctx context.Context, rules ...[]string) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if err := fw.restore(ctx, "-A", rules); err != nil {
		return err
	}
	fw.rules = append(fw.rules, rules...)
	return nil
}

// restore runs iptables-restore --noflush with op (-A or -D) for each rule.
func (fw *firewall) restore(ctx context.Context, op string, rules [][]string) error {
	if len(rules) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, r := range rules {
		b.WriteString(strings.Join(fw.ruleArgs(op, r), " ") + "\n")
	}
	b.WriteString("COMMIT\n")
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore %s of %d rules: %w: %s", op, len(rules), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (fw *firewall) ruleArgs(op string, rule []string) []string {
	args := append([]string{op, "OUTPUT"}, rule...)
	return append(args, "-m", "comment", "--comment", fw.comment, "-j", "DROP")
}

// heal deletes every rule this campaign added. It is safe to call at any time, more
// than once, and from cleanup after a panic or a signal.
func (fw *firewall) heal(ctx context.Context) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var errs []error
	if err := fw.restore(ctx, "-D", fw.rules); err != nil {
		errs = append(errs, err)
	}
	fw.rules = nil
	// Whatever is still there under our comment (a rule added as the campaign was
	// interrupted) goes too.
	errs = append(errs, deleteRules(ctx, func(comment string) bool { return comment == fw.comment }))
	return errors.Join(errs...)
}

// removeStale deletes the rules of campaigns whose process is gone.
func (fw *firewall) removeStale(ctx context.Context, log *journal) {
	err := deleteRules(ctx, func(comment string) bool {
		pid, err := strconv.Atoi(strings.TrimPrefix(comment, commentPrefix))
		if err != nil || pid == os.Getpid() {
			return false
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			log.printf("removing an iptables rule a dead campaign (pid %d) left behind", pid)
			return true
		}
		return false
	})
	if err != nil {
		log.printf("removing stale iptables rules: %v", err)
	}
}

// deleteRules deletes the OUTPUT rules whose campaign comment matches.
func deleteRules(ctx context.Context, match func(comment string) bool) error {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-S", "OUTPUT").Output()
	if err != nil {
		return fmt.Errorf("iptables -S OUTPUT: %w", err)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "-A" {
			continue
		}
		for i, f := range fields {
			if f == "--comment" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], commentPrefix) && match(fields[i+1]) {
				fields[0] = "-D"
				errs = append(errs, iptables(ctx, fields...))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func iptables(ctx context.Context, args ...string) error {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cleanupContext bounds an iptables command. Rules must go even when the campaign was
// interrupted: a command run for a cancelled context gets a context of its own.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() != nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, 30*time.Second)
}
