package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// The Raft port carries two protocols: Raft's own RPCs, and the nodes' RPC (rpc.go) that
// brings writes, consistent reads and operator requests to the leader. A connection
// names its protocol in its first byte, as Consul's server port does; one port means one
// address to advertise, one firewall rule, and one place where the cluster credential
// is checked: with a cluster key, every connection is TLS with a certificate on both
// ends (credential.go) before it says anything, and one that cannot show a member's
// certificate is closed without a byte read.
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
	tls       *nodeTLS // nil: plain TCP
	logger    *slog.Logger
	refused   atomic.Int64 // unix nanoseconds of the last refusal logged
	raft      chan net.Conn
	rpc       chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newPortMux(ln net.Listener, advertise net.Addr, tls *nodeTLS, logger *slog.Logger) *portMux {
	m := &portMux{
		listener: ln, advertise: advertise, tls: tls, logger: logger,
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

// route checks a connection's certificate (with a cluster key), reads its first byte and
// queues it for its protocol's Accept.
func (m *portMux) route(conn net.Conn) {
	_ = conn.SetDeadline(time.Now().Add(protoTimeout))
	if m.tls != nil {
		tlsConn := tls.Server(conn, m.tls.server)
		if err := tlsConn.Handshake(); err != nil {
			m.refuse(conn, "no member's certificate", err)
			return
		}
		conn = tlsConn
	}
	var first [1]byte
	_, err := io.ReadFull(conn, first[:])
	_ = conn.SetDeadline(time.Time{})
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
	case proto <= legacyRaftMax && m.tls == nil:
		queue, conn = m.raft, &replayConn{Conn: conn, first: proto, pending: true}
	default:
		m.refuse(conn, "unknown protocol", fmt.Errorf("first byte %d", proto))
		return
	}
	select {
	case queue <- conn:
	case <-m.closed:
		conn.Close()
	}
}

// refuseLogEvery spaces the log lines about refused connections: a stranger who keeps
// knocking must not fill the log.
const refuseLogEvery = 10 * time.Second

func (m *portMux) refuse(conn net.Conn, why string, err error) {
	conn.Close()
	now := time.Now().UnixNano()
	if last := m.refused.Load(); now-last >= int64(refuseLogEvery) && m.refused.CompareAndSwap(last, now) {
		m.logger.Warn("raft port: connection refused: "+why, "remote", conn.RemoteAddr().String(), "err", err)
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
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if l.mux.tls != nil {
		tlsConn := tls.Client(conn, l.mux.tls.client)
		if err := tlsConn.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS with %s: %w", address, err)
		}
		conn = tlsConn
	}
	if _, err := conn.Write([]byte{l.proto}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("name the protocol to %s: %w", address, err)
	}
	_ = conn.SetDeadline(time.Time{})
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
