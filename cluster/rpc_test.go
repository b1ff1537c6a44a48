package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/hashicorp/raft"
)

// TestForwardReachesTheLeader: a follower's payload reaches the leader's handler and the
// answer comes back; on the leader itself Forward refuses at once; a handler's failure
// arrives as an error with its message; after a leader change the new leader answers.
func TestForwardReachesTheLeader(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	for _, tn := range c.nodes {
		id := tn.id
		tn.node.HandleForwarded(func(ctx context.Context, payload []byte) ([]byte, error) {
			if string(payload) == "fail" {
				return nil, errors.New("refused by " + id)
			}
			return append([]byte(id+":"), payload...), nil
		})
	}
	leader := c.waitLeader(formTimeout)
	follower := c.followers(leader)[0]

	answer, err := follower.node.Forward(ctxTimeout(t, 5*time.Second), []byte("hello"))
	if err != nil || string(answer) != leader.id+":hello" {
		t.Fatalf("Forward: %q, %v", answer, err)
	}
	if _, err := follower.node.Forward(ctxTimeout(t, 5*time.Second), []byte("fail")); err == nil || err.Error() != "refused by "+leader.id {
		t.Errorf("a failing handler: %v", err)
	}
	if _, err := leader.node.Forward(ctxTimeout(t, 5*time.Second), []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Forward on the leader: %v, want ErrNotLeader", err)
	}

	c.kill(leader)
	next := c.waitLeader(failoverTimeout)
	from := c.followers(next)[0]
	answer, err = from.node.Forward(ctxTimeout(t, 10*time.Second), []byte("again"))
	if err != nil || string(answer) != next.id+":again" {
		t.Fatalf("Forward after a leader change: %q, %v", answer, err)
	}
}

// TestOperatorRequestsFromAFollower: removing a peer and transferring leadership work
// from any node, and the leader's named errors still match on the node that asked.
func TestOperatorRequestsFromAFollower(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	followers := c.followers(leader)
	err := followers[0].node.RemovePeer(ctxTimeout(t, 5*time.Second), followers[1].id)
	if !errors.Is(err, ErrPeerAlive) {
		t.Errorf("removing a live peer from a follower: %v, want ErrPeerAlive", err)
	}
	if err := followers[0].node.RemovePeer(ctxTimeout(t, 5*time.Second), "nobody"); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("removing an unknown peer from a follower: %v, want ErrUnknownPeer", err)
	}
	if err := followers[0].node.TransferLeadership(ctxTimeout(t, failoverTimeout), followers[1].id); err != nil {
		t.Fatal(err)
	}
	if got := c.waitLeader(failoverTimeout); got != followers[1] {
		t.Errorf("leadership went to %s, want %s", got.id, followers[1].id)
	}
}

// TestConsistentReadOnAFollower: after ConsistentRead returns, a follower's state has
// every write the leader acknowledged before the call, even when its state machine is
// slow to apply them.
func TestConsistentReadOnAFollower(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	c.applyDelay = 5 * time.Millisecond
	slow := c.followers(leader)[0]
	c.kill(slow)
	c.start(slow)
	leader = c.waitLeader(formTimeout)
	if leader == slow {
		t.Skip("the slow node became leader")
	}
	for i := range 100 {
		c.write("k", string(rune('a'+i%26))+strings.Repeat("x", i))
	}
	want := string(rune('a'+99%26)) + strings.Repeat("x", 99)
	if err := slow.node.ConsistentRead(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := slow.fsm.Get("k"); got != want {
		t.Fatalf("after ConsistentRead the follower has k=%.5q..., want the last write", got)
	}
	if err := leader.node.ConsistentRead(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Errorf("ConsistentRead on the leader: %v", err)
	}
}

// TestAFollowerReadsBackWhatItRelayed: once a write relayed through a follower is
// acknowledged, AwaitOwnWrites on that follower returns only when its state machine
// holds the write, even when that state machine applies slowly.
func TestAFollowerReadsBackWhatItRelayed(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	for _, tn := range c.nodes {
		n := tn.node
		n.HandleForwarded(func(ctx context.Context, payload []byte) ([]byte, error) {
			_, err := n.Apply(ctx, testkit.SetCmd("k", string(payload)))
			return nil, err
		})
	}
	leader := c.waitLeader(formTimeout)
	c.applyDelay = 20 * time.Millisecond
	slow := c.followers(leader)[0]
	c.kill(slow)
	c.start(slow)
	if c.waitLeader(formTimeout) == slow {
		t.Skip("the slow node became leader")
	}
	for i := range 10 {
		value := fmt.Sprint("v", i)
		if _, err := slow.node.Forward(ctxTimeout(t, 10*time.Second), []byte(value)); err != nil {
			t.Fatalf("Forward %s: %v", value, err)
		}
		if err := slow.node.AwaitOwnWrites(ctxTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := slow.fsm.Get("k"); got != value {
			t.Fatalf("after AwaitOwnWrites the follower that relayed k=%s has k=%q", value, got)
		}
	}
}

// TestRaftPortRefusesStrangeBytes: the Raft port hands each connection to the protocol
// its first byte names, gives an older node's Raft connection its first byte back, and
// closes anything else; an RPC frame over the limit closes that connection only.
func TestRaftPortRefusesStrangeBytes(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := newPortMux(ln, ln.Addr(), nil, newTestLogger(t))
	defer mux.Close()
	dial := func(first []byte) net.Conn {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(first)
		return conn
	}
	accept := func(layer interface{ Accept() (net.Conn, error) }) net.Conn {
		got := make(chan net.Conn, 1)
		go func() {
			conn, _ := layer.Accept()
			got <- conn
		}()
		select {
		case conn := <-got:
			return conn
		case <-time.After(5 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	raftLayer, rpcLayer := mux.layer(protoRaft), mux.layer(protoRPC)

	old := dial([]byte{0, 'x', 'y'}) // an AppendEntries from a node older than the mux
	defer old.Close()
	conn := accept(raftLayer)
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn, buf); err != nil || !bytes.Equal(buf, []byte{0, 'x', 'y'}) {
		t.Errorf("a legacy Raft connection reads %q, %v", buf, err)
	}

	rpc := dial([]byte{protoRPC, 'z'})
	defer rpc.Close()
	conn = accept(rpcLayer)
	if _, err := io.ReadFull(conn, buf[:1]); err != nil || buf[0] != 'z' {
		t.Errorf("an RPC connection reads %q, %v", buf[:1], err)
	}

	stranger := dial([]byte("GET / HTTP/1.1\r\n\r\n"))
	defer stranger.Close()
	stranger.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := stranger.Read(buf); err == nil {
		t.Errorf("a stranger's connection was answered with %q", buf[:n])
	}

	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, maxRPCFrame+1)
	if _, err := readFrame(bytes.NewReader(append(huge, 1, 2, 3))); !errors.Is(err, errBadFrame) {
		t.Errorf("an oversized frame: %v, want errBadFrame", err)
	}
}

// TestADialToACutOffLeaderIsGivenUp: a dial that a firewall leaves unanswered (the
// stream layer waits its whole timeout) ends as soon as the caller gives up, here
// because another leader was elected, and says that nothing was sent, so that the
// request goes to the new leader at once.
func TestADialToACutOffLeaderIsGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newRPCClient(silentLayer{})
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(100*time.Millisecond, func() { cancel(errLeaderChanged) })
		start := time.Now()
		_, err := c.call(ctx, "10.0.0.1:7000", rpcPropose, []byte("x"), start.Add(time.Minute))
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("the call returned after %v, want 100ms (when the leader changed)", waited)
		}
		if !errors.Is(err, errRPCUnreachable) || !errors.Is(err, errLeaderChanged) {
			t.Errorf("call: %v, want errRPCUnreachable because the leader changed", err)
		}
		time.Sleep(rpcDialTimeout) // the abandoned dial ends on its own
	})
}

// silentLayer dials like a TCP connection whose SYNs are dropped: it waits out the
// timeout.
type silentLayer struct{ net.Listener }

func (silentLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	time.Sleep(timeout)
	return nil, fmt.Errorf("dial %s: i/o timeout", address)
}

// TestForwardGivesUpWhenTheLeaderChanges: a relayed request whose leader stops answering
// (cut off, its packets lost) is given up as soon as another node is elected, not held
// for the caller's whole timeout, and is not sent again: the old leader may have
// committed it.
func TestForwardGivesUpWhenTheLeaderChanges(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	calls := 0
	leader.node.HandleForwarded(func(ctx context.Context, payload []byte) ([]byte, error) {
		calls++
		entered <- struct{}{}
		<-release // a leader that never answers
		return nil, errors.New("too late")
	})
	followers := c.followers(leader)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := followers[0].node.Forward(ctxTimeout(t, 60*time.Second), []byte("x"))
		done <- err
	}()
	<-entered
	if err := leader.node.TransferLeadership(ctxTimeout(t, failoverTimeout), followers[1].id); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, errLeaderChanged) {
			t.Errorf("Forward: %v, want ErrNoAnswer because the leader changed", err)
		}
		t.Logf("given up %v after the request was sent", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("Forward still waits for a leader that was replaced")
	}
	if calls != 1 {
		t.Errorf("the request reached the old leader %d times, want once", calls)
	}
}

// TestRequestAfterThePeerRestartedIsDelivered: a pooled connection to a node that has
// since restarted is dead; the next request must go over a new connection and be
// answered, not be sent into the dead one and come back as ErrNoAnswer (an outcome
// the caller could not tell from a write the leader took and then lost).
func TestRequestAfterThePeerRestartedIsDelivered(t *testing.T) {
	t.Parallel()
	key, err := ParseClusterKey(NewClusterKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys [][]byte
	}{
		{"plain TCP", nil},
		{"TLS", [][]byte{key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodeTLS, err := newNodeTLS("n1", tc.keys, TLSFiles{})
			if err != nil {
				t.Fatal(err)
			}
			clientLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			clientMux := newPortMux(clientLn, clientLn.Addr(), nodeTLS, newTestLogger(t))
			defer clientMux.Close()
			client := newRPCClient(clientMux.layer(protoRPC))
			defer client.close()

			peer := startEchoPeer(t, "127.0.0.1:0", nodeTLS)
			addr := peer.addr
			call := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				answer, err := client.call(ctx, addr, rpcPropose, []byte("ping"), time.Now().Add(5*time.Second))
				if err == nil && string(answer) != "ping" {
					return fmt.Errorf("answer %q, want ping", answer)
				}
				return err
			}
			if err := call(); err != nil {
				t.Fatalf("first request: %v", err)
			}
			peer.stop() // the process dies: its port and every connection close
			peer = startEchoPeer(t, addr, nodeTLS)
			defer peer.stop()
			for i := range 3 {
				if err := call(); err != nil {
					t.Fatalf("request %d after the restart: %v", i+1, err)
				}
			}
		})
	}
}

// echoPeer answers every RPC frame with its payload, as a node's RPC server would.
type echoPeer struct {
	addr string
	mux  *portMux
	mu   sync.Mutex
	open []net.Conn
	done sync.WaitGroup
}

func startEchoPeer(t *testing.T, addr string, nodeTLS *nodeTLS) *echoPeer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &echoPeer{addr: ln.Addr().String(), mux: newPortMux(ln, ln.Addr(), nodeTLS, newTestLogger(t))}
	layer := p.mux.layer(protoRPC)
	p.done.Go(func() {
		for {
			conn, err := layer.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.open = append(p.open, conn)
			p.mu.Unlock()
			p.done.Go(func() {
				for {
					frame, err := readFrame(conn)
					if err != nil || len(frame) < 5 {
						return
					}
					if writeFrame(conn, rpcOK, frame[5:]) != nil {
						return
					}
				}
			})
		}
	})
	return p
}

func (p *echoPeer) stop() {
	p.mux.Close()
	p.mu.Lock()
	for _, conn := range p.open {
		conn.Close()
	}
	p.mu.Unlock()
	p.done.Wait()
}
