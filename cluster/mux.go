package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The Raft port carries two protocols: Raft's own RPCs, and the nodes' RPC (rpc.go) that
// brings writes, consistent reads and operator requests to the leader. A connection
// names its protocol in its first byte, as Consul's server port does; one port means one
// address to advertise, one firewall rule, and one place where the cluster credential
// is checked.
const (
	protoRaft byte = 'R'
	protoRPC  byte = 'C'
	// legacyRaftMax: connections from nodes older than the mux start straight with a
	// Raft RPC type byte (0 to 4 in hashicorp/raft's NetworkTransport); they are Raft.
	legacyRaftMax byte = 4
	// protoTimeout bounds the wait for a new connection's first byte.
	protoTimeout = 10 * time.Second
)

// portMux accepts connections on the Raft port and hands each to the protocol it names.
type portMux struct {
	listener  net.Listener
	advertise net.Addr
	logger    *slog.Logger
	raft      chan net.Conn
	rpc       chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newPortMux(ln net.Listener, advertise net.Addr, logger *slog.Logger) *portMux {
	m := &portMux{
		listener: ln, advertise: advertise, logger: logger,
		raft: make(chan net.Conn), rpc: make(chan net.Conn), closed: make(chan struct{}),
	}
	go m.serve()
	return m
}

func (m *portMux) serve() {
	for {
		conn, err := m.listener.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.logger.Warn("raft port: accept failed", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors: do not spin
			continue
		}
		go m.route(conn)
	}
}

// route reads a connection's first byte and queues it for its protocol's Accept.
func (m *portMux) route(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(protoTimeout))
	var first [1]byte
	_, err := io.ReadFull(conn, first[:])
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return
	}
	proto := first[0]
	var queue chan net.Conn
	switch {
	case proto == protoRaft:
		queue = m.raft
	case proto == protoRPC:
		queue = m.rpc
	case proto <= legacyRaftMax:
		queue, conn = m.raft, &replayConn{Conn: conn, first: proto, pending: true}
	default:
		m.logger.Warn("raft port: connection with an unknown protocol refused", "remote", conn.RemoteAddr().String(), "first_byte", proto)
		conn.Close()
		return
	}
	select {
	case queue <- conn:
	case <-m.closed:
		conn.Close()
	}
}

// Close stops accepting; both protocols' Accepts return an error from then on.
func (m *portMux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.closed)
		err = m.listener.Close()
	})
	return err
}

// layer is the raft.StreamLayer of one protocol: Dial sends the protocol byte first.
func (m *portMux) layer(proto byte) raft.StreamLayer {
	queue := m.raft
	if proto == protoRPC {
		queue = m.rpc
	}
	return &muxLayer{mux: m, proto: proto, queue: queue}
}

type muxLayer struct {
	mux   *portMux
	proto byte
	queue chan net.Conn
}

var errMuxClosed = errors.New("raft port closed")

func (l *muxLayer) Accept() (net.Conn, error) {
	select {
	case conn := <-l.queue:
		return conn, nil
	case <-l.mux.closed:
		return nil, errMuxClosed
	}
}

// Close closes the whole port: Raft's transport closes its layer on shutdown, and the
// RPC server stops with it.
func (l *muxLayer) Close() error   { return l.mux.Close() }
func (l *muxLayer) Addr() net.Addr { return l.mux.advertise }

func (l *muxLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte{l.proto}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("name the protocol to %s: %w", address, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// replayConn gives back the first byte that route read to tell an older node's Raft
// connection from the others.
type replayConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		c.pending = false
		p[0] = c.first
		return 1, nil
	}
	return c.Conn.Read(p)
}
