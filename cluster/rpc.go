package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The nodes' RPC brings to the leader what only the leader can do: proposals relayed by
// followers, read-index requests for consistent reads, operator requests. It runs on the
// Raft port (mux.go), so it reaches the leader at the address Raft already knows, and it
// carries no user's key: a node vouches for the requests it relays.
//
// A connection carries one request at a time, each answered before the next:
//
//	request:  length u32 | method u8 | timeout in ms u32 | payload
//	response: length u32 | status u8 | payload (the result, or an error message)
//
// with big-endian integers and length counting the bytes after it.

// rpcMethod names a request.
type rpcMethod byte

const (
	rpcPropose        rpcMethod = 1 // the daemon's proposals (HandleForwarded)
	rpcReadIndex      rpcMethod = 2
	rpcRemovePeer     rpcMethod = 3
	rpcTransferLeader rpcMethod = 4
)

// Statuses of a response.
const (
	rpcOK        byte = 0
	rpcNotLeader byte = 1
	rpcFailed    byte = 2 // payload: the error's message
)

const (
	// maxRPCFrame bounds a request or response: an import of canaries is the largest.
	maxRPCFrame = 32 << 20
	// rpcIdleTimeout closes a server connection that carried nothing for this long;
	// clients drop pooled connections idle for half of it.
	rpcIdleTimeout = 2 * time.Minute
	// rpcDefaultTimeout bounds a request whose context has no deadline.
	rpcDefaultTimeout = 30 * time.Second
	rpcDialTimeout    = 5 * time.Second
	rpcMaxIdle        = 4
)

var (
	// errRPCUnreachable: the request never reached the leader; sending it again is safe.
	errRPCUnreachable = errors.New("leader unreachable")
	// errLeaderChanged: another node was elected while the one a request went to had
	// not answered it; the old leader may have committed it before it lost leadership.
	errLeaderChanged = errors.New("the leader changed before it answered")
	// ErrNoAnswer means a request reached the leader but no answer came back: it may or
	// may not have been carried out.
	ErrNoAnswer = errors.New("the leader did not answer")
	errBadFrame = errors.New("bad RPC frame")
)

// rpcHandler serves one method on the leader.
type rpcHandler func(ctx context.Context, payload []byte) ([]byte, error)

// HandleForwarded sets what the leader does with a payload a node sends with Forward:
// the daemon commits the commands a follower relays.
func (n *Node) HandleForwarded(h func(ctx context.Context, payload []byte) ([]byte, error)) {
	n.rpcMu.Lock()
	n.forwarded = h
	n.rpcMu.Unlock()
}

func (n *Node) rpcHandlerFor(m rpcMethod) rpcHandler {
	switch m {
	case rpcPropose:
		n.rpcMu.Lock()
		forwarded := n.forwarded
		n.rpcMu.Unlock()
		if forwarded == nil {
			return nil
		}
		return func(ctx context.Context, payload []byte) ([]byte, error) {
			answer, err := forwarded(ctx, payload)
			if err != nil {
				return nil, err
			}
			// The commands are applied here: the follower that relayed them learns how
			// far, so that its own reads wait for them (AwaitOwnWrites).
			return append(binary.BigEndian.AppendUint64(nil, n.raft.AppliedIndex()), answer...), nil
		}
	case rpcReadIndex:
		return n.serveReadIndex
	case rpcRemovePeer:
		return func(ctx context.Context, id []byte) ([]byte, error) { return nil, n.RemovePeer(ctx, string(id)) }
	case rpcTransferLeader:
		return func(ctx context.Context, id []byte) ([]byte, error) {
			return nil, n.TransferLeadership(ctx, string(id))
		}
	}
	return nil
}

// serveRPC accepts the nodes' RPC connections until the port closes.
func (n *Node) serveRPC(layer raft.StreamLayer) {
	defer n.wg.Done()
	for {
		conn, err := layer.Accept()
		if err != nil {
			return
		}
		n.wg.Go(func() { n.serveRPCConn(conn) })
	}
}

func (n *Node) serveRPCConn(conn net.Conn) {
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stopCh:
			conn.Close()
		case <-ctx.Done():
		}
	}()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(rpcIdleTimeout))
		frame, err := readFrame(conn)
		if err != nil {
			if !errors.Is(err, io.EOF) && !n.isShutdown() && !isTimeout(err) {
				n.logger.Warn("node RPC: bad request", "remote", conn.RemoteAddr().String(), "err", err)
			}
			return
		}
		if len(frame) < 5 {
			n.logger.Warn("node RPC: short request", "remote", conn.RemoteAddr().String())
			return
		}
		method, timeout, payload := rpcMethod(frame[0]), time.Duration(binary.BigEndian.Uint32(frame[1:5]))*time.Millisecond, frame[5:]
		status, answer := n.handleRPC(ctx, method, timeout, payload)
		_ = conn.SetWriteDeadline(time.Now().Add(rpcDialTimeout + timeout))
		if err := writeFrame(conn, status, answer); err != nil {
			return
		}
	}
}

func (n *Node) handleRPC(ctx context.Context, method rpcMethod, timeout time.Duration, payload []byte) (byte, []byte) {
	h := n.rpcHandlerFor(method)
	if h == nil {
		return rpcFailed, fmt.Appendf([]byte{0}, "unknown method %d", method)
	}
	if !n.IsLeader() {
		return rpcNotLeader, nil
	}
	if timeout <= 0 || timeout > rpcDefaultTimeout {
		timeout = rpcDefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	answer, err := h(ctx, payload)
	switch {
	case errors.Is(err, ErrNotLeader):
		return rpcNotLeader, nil
	case err != nil:
		return rpcFailed, append([]byte{remoteErrorCode(err)}, err.Error()...)
	}
	return rpcOK, answer
}

// remoteErrors are the named errors a failed RPC carries, by code (index + 1), so that
// callers on other nodes can test them. New ones are appended, never reordered.
var remoteErrors = []error{ErrUnknownPeer, ErrPeerAlive, ErrShutdown, ErrLeadershipLost}

func remoteErrorCode(err error) byte {
	for i, named := range remoteErrors {
		if errors.Is(err, named) {
			return byte(i + 1)
		}
	}
	return 0
}

// remoteError is an error the leader answered: its message, and the named error it
// wrapped, if any.
type remoteError struct {
	msg   string
	named error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.named }

func decodeRemoteError(payload []byte) error {
	if len(payload) == 0 {
		return &remoteError{msg: "the leader failed without saying why"}
	}
	e := &remoteError{msg: string(payload[1:])}
	if code := int(payload[0]); code > 0 && code <= len(remoteErrors) {
		e.named = remoteErrors[code-1]
	}
	return e
}

// rpcClient keeps a few idle connections per address.
type rpcClient struct {
	layer raft.StreamLayer
	mu    sync.Mutex
	idle  map[string][]idleConn
}

type idleConn struct {
	conn  net.Conn
	since time.Time
}

func newRPCClient(layer raft.StreamLayer) *rpcClient {
	return &rpcClient{layer: layer, idle: make(map[string][]idleConn)}
}

// call sends one request to addr and waits for its answer. It fails with
// errRPCUnreachable when nothing was sent, ErrNotLeader when addr does not lead, and
// ErrNoAnswer when the request may have been carried out.
func (c *rpcClient) call(ctx context.Context, addr string, method rpcMethod, payload []byte, dialBy time.Time) ([]byte, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(rpcDefaultTimeout)
	}
	conn, err := c.get(ctx, addr, max(min(rpcDialTimeout, time.Until(deadline), time.Until(dialBy)), time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRPCUnreachable, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(deadline)
	head := make([]byte, 5, 5+len(payload))
	head[0] = byte(method)
	binary.BigEndian.PutUint32(head[1:], uint32(max(time.Until(deadline), 0)/time.Millisecond))
	if err := writeFrame(conn, head[0], append(head[1:], payload...)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: send to %s: %v", ErrNoAnswer, addr, err)
	}
	frame, err := readFrame(conn)
	if err != nil || len(frame) < 1 {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoAnswer, context.Cause(ctx))
		}
		return nil, fmt.Errorf("%w: from %s: %v", ErrNoAnswer, addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	c.put(addr, conn)
	switch frame[0] {
	case rpcOK:
		return frame[1:], nil
	case rpcNotLeader:
		return nil, fmt.Errorf("%w: %s", ErrNotLeader, addr)
	default:
		return nil, decodeRemoteError(frame[1:])
	}
}

// get takes an idle connection to addr that is still open, or dials one.
func (c *rpcClient) get(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	c.mu.Lock()
	for pool := c.idle[addr]; len(pool) > 0; pool = c.idle[addr] {
		ic := pool[len(pool)-1]
		c.idle[addr] = pool[:len(pool)-1]
		if time.Since(ic.since) < rpcIdleTimeout/2 && stillOpen(ic.conn) {
			c.mu.Unlock()
			return ic.conn, nil
		}
		ic.conn.Close()
	}
	c.mu.Unlock()
	return c.dial(ctx, addr, timeout)
}

// dial connects to addr, giving up when ctx ends. The stream layer's Dial takes no
// context, and to a node cut off by a firewall that drops packets it waits its whole
// timeout: measured in the fault campaign, a relay dialling a leader that had just been
// partitioned held the batch, and every write queued behind it on that node, for the
// 5 s dial timeout although a new leader was elected within one second. The caller
// cancels ctx as soon as leadership moves; the dial finishes on its own and its
// connection, if any, is closed.
func (c *rpcClient) dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	type dialed struct {
		conn net.Conn
		err  error
	}
	done := make(chan dialed, 1)
	go func() {
		conn, err := c.layer.Dial(raft.ServerAddress(addr), timeout)
		done <- dialed{conn, err}
	}()
	select {
	case d := <-done:
		return d.conn, d.err
	case <-ctx.Done():
		go func() {
			if d := <-done; d.conn != nil {
				d.conn.Close()
			}
		}()
		return nil, fmt.Errorf("dial %s: %w", addr, context.Cause(ctx))
	}
}

func (c *rpcClient) put(addr string, conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle[addr]) >= rpcMaxIdle {
		conn.Close()
		return
	}
	c.idle[addr] = append(c.idle[addr], idleConn{conn: conn, since: time.Now()})
}

func (c *rpcClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, pool := range c.idle {
		for _, ic := range pool {
			ic.conn.Close()
		}
		delete(c.idle, addr)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func writeFrame(w io.Writer, first byte, payload []byte) error {
	if 1+len(payload) > maxRPCFrame {
		return fmt.Errorf("%w: %d bytes is over the limit of %d", errBadFrame, 1+len(payload), maxRPCFrame)
	}
	buf := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(1+len(payload)))
	buf[4] = first
	_, err := w.Write(append(buf, payload...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(head[:])
	if size == 0 || size > maxRPCFrame {
		return nil, fmt.Errorf("%w: length %d", errBadFrame, size)
	}
	frame := make([]byte, size)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// leaderWait bounds how long leaderRPC looks for a leader it can reach: an election
// takes one to three seconds, and a node cut off from the others must say so rather than
// hold its clients for as long as they would wait for a commit.
const leaderWait = 5 * time.Second

// leaderRPC sends a request to the leader, whoever it is: it waits for one to be known
// and follows it through elections, sending again only what never reached a leader,
// for up to leaderWait (and within ctx). Without a leader by then it fails with
// ErrNotLeader. Once a leader has the request, ctx alone bounds the answer.
func (n *Node) leaderRPC(ctx context.Context, method rpcMethod, payload []byte) ([]byte, error) {
	giveUp := time.Now().Add(leaderWait)
	pause := 10 * time.Millisecond
	var last error
	for {
		if n.isShutdown() {
			return nil, ErrShutdown
		}
		addr, id := n.raft.LeaderWithID()
		switch {
		case id == "":
			last = errors.New("no leader known")
		case string(id) == n.id:
			// The caller does on its own what it meant to ask the leader for.
			return nil, fmt.Errorf("%w: this node leads", ErrNotLeader)
		default:
			answer, err := n.callLeader(ctx, string(addr), string(id), method, payload, giveUp)
			retry := errors.Is(err, ErrNotLeader) || errors.Is(err, errRPCUnreachable) ||
				(method == rpcReadIndex && errors.Is(err, errLeaderChanged)) // a read changes nothing
			if err == nil || !retry {
				return answer, err
			}
			last = err
		}
		wait := min(pause, time.Until(giveUp))
		if wait <= 0 {
			return nil, fmt.Errorf("%w: no leader reached in %v: %v", ErrNotLeader, leaderWait, last)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %v (%w)", ErrNotLeader, last, ctx.Err())
		case <-n.stopCh:
			t.Stop()
			return nil, ErrShutdown
		case <-t.C:
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// callLeader sends one request to the leader at addr, and gives up on its answer as soon
// as another node is elected: a leader cut off from the others never answers (its
// packets are lost), and the request would otherwise hold its caller, and everything
// queued behind it, for the caller's whole timeout.
//
// A leadership transfer changes the leader by design, before the old leader answers that
// it is done: it is left to its answer (or ctx), or it would fail when it succeeds.
func (n *Node) callLeader(ctx context.Context, addr, id string, method rpcMethod, payload []byte, dialBy time.Time) ([]byte, error) {
	if method == rpcTransferLeader {
		return n.rpc.call(ctx, addr, method, payload, dialBy)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		ticker := time.NewTicker(leaderChangePoll)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				if _, now := n.raft.LeaderWithID(); now != "" && string(now) != id {
					cancel(fmt.Errorf("%w: %s, then %s", errLeaderChanged, id, now))
					return
				}
			}
		}
	}()
	return n.rpc.call(ctx, addr, method, payload, dialBy)
}

// leaderChangePoll is how often a request waiting for the leader's answer looks at who
// leads.
const leaderChangePoll = 50 * time.Millisecond

// Forward sends payload to the leader's HandleForwarded and returns its answer: the
// daemon's one way for a follower to commit commands. On the leader itself it fails at
// once with ErrNotLeader: the leader commits its own.
func (n *Node) Forward(ctx context.Context, payload []byte) ([]byte, error) {
	answer, err := n.leaderRPC(ctx, rpcPropose, payload)
	if err != nil {
		return nil, err
	}
	if len(answer) < 8 {
		return nil, fmt.Errorf("forward: %w: %d bytes", errBadFrame, len(answer))
	}
	n.noteAcknowledged(binary.BigEndian.Uint64(answer))
	return answer[8:], nil
}
