package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// node is one coal-mine process of the campaign, started and restarted on its own data
// directory and ports.
type node struct {
	name                           string
	httpPort, raftPort, gossipPort int
	dir                            string // data, working directory
	logDir                         string
	bin                            string
	args                           []string
	env                            []string
	// uid, when not 0, is the user the process runs as: partitions drop the packets
	// the node sends to its peers by their owner (see firewall.go).
	uid int

	// onDeath is told when a process exits that the campaign did not stop.
	onDeath func(DeathRecord)

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has exited
	exitErr  error
	starts   int
	paused   bool
	stopping bool // the campaign sent SIGKILL or SIGTERM: the exit is expected
}

func (n *node) base() string { return fmt.Sprintf("http://127.0.0.1:%d", n.httpPort) }

func (n *node) raftAddr() string   { return fmt.Sprintf("127.0.0.1:%d", n.raftPort) }
func (n *node) gossipAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.gossipPort) }

// launch starts the process, its output going to a log file of its own per start.
func (n *node) launch() (logFile string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && !isClosed(n.exited) {
		return "", fmt.Errorf("%s is already running", n.name)
	}
	n.starts++
	logFile = filepath.Join(n.logDir, fmt.Sprintf("%s-%d.log", n.name, n.starts))
	out, err := os.Create(logFile)
	if err != nil {
		return logFile, fmt.Errorf("%s: create log: %w", n.name, err)
	}
	cmd := exec.Command(n.bin, n.args...)
	cmd.Dir = n.dir // no coal-mine.ini of the developer's is read
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a Ctrl-C at the terminal reaches the campaign, which stops
	// the nodes itself. Pdeathsig: the nodes die with the campaign if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if n.uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(n.uid), Gid: uint32(n.uid), NoSetGroups: true}
	}
	if err := startProcess(cmd); err != nil {
		out.Close()
		return logFile, fmt.Errorf("%s: start: %w", n.name, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited, n.exitErr, n.paused, n.stopping = cmd, exited, nil, false, false
	start := n.starts
	go func() {
		err := cmd.Wait()
		out.Close()
		n.mu.Lock()
		n.exitErr = err
		expected := n.stopping
		n.mu.Unlock()
		close(exited)
		if !expected && n.onDeath != nil {
			n.onDeath(DeathRecord{Node: n.name, N: start, At: time.Now(), Err: fmt.Sprint(err), LogFile: logFile})
		}
	}()
	return logFile, nil
}

// spawn carries process starts to the one OS thread that forks every node. The kernel
// sends a child its Pdeathsig when the thread that forked it ends, not the process,
// and the Go runtime may end the thread a goroutine ran on: a node started from an
// ordinary goroutine was once killed seconds after it started.
var spawn = make(chan spawnRequest)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: this thread lives as long as the campaign
		for r := range spawn {
			r.done <- r.cmd.Start()
		}
	}()
}

func startProcess(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	spawn <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// running tells whether the current process has not exited.
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !isClosed(n.exited)
}

// exitedCh is closed when the current process exits.
func (n *node) exitedCh() chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited
}

func (n *node) exitError() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exitErr
}

func (n *node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || isClosed(n.exited) {
		return fmt.Errorf("%s is not running", n.name)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		n.stopping = true
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: %v: %w", n.name, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	}
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill() {
	if n.signal(syscall.SIGKILL) == nil {
		<-n.exitedCh()
	}
}

// terminate sends SIGTERM and waits up to grace for the process to exit; past that it
// kills it. It reports how long the process took, and whether it had to be killed.
func (n *node) terminate(grace time.Duration) StopRecord {
	rec := StopRecord{Node: n.name, At: time.Now()}
	n.mu.Lock()
	wasPaused := n.paused
	n.mu.Unlock()
	if err := n.signal(syscall.SIGTERM); err != nil {
		return rec
	}
	if wasPaused {
		_ = n.signal(syscall.SIGCONT)
	}
	select {
	case <-n.exitedCh():
	case <-time.After(grace):
		rec.Killed = true
		n.kill()
	}
	rec.Took = time.Since(rec.At)
	return rec
}

// waitReady polls /readyz until it answers 200, the process exits, or timeout.
func (n *node) waitReady(ctx context.Context, a *api, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	exited := n.exitedCh()
	for {
		if a.probe(ctx, n, "/readyz") == 200 {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before it was ready: %v", n.exitError())
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// tail is the end of a log file, for evidence.
func tail(path string, lines int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
