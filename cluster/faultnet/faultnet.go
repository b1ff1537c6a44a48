// Package faultnet cuts network links between in-process cluster nodes, for
// tests. Plug a Network's wrappers into cluster.Config:
//
//	net := faultnet.New()
//	cfg.WrapRaftStream = net.WrapRaftStream
//	cfg.WrapGossipTransport = net.WrapGossipTransport
//	...
//	net.Partition([]string{"a", "b"}, []string{"c"}) // c is cut off
//	net.Heal()
//
// Only outgoing traffic is filtered: every node filters what it sends and
// dials, so a cut between two nodes blocks both directions. Raft
// connections already open fail on their next read or write; gossip
// packets to a cut node are silently dropped, as a real network would.
package faultnet

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// ErrCut is what a dial or an I/O over a cut link fails with.
var ErrCut = errors.New("faultnet: link cut")

// Network knows every node's addresses and which links are cut.
type Network struct {
	mu       sync.Mutex
	idByAddr map[string]string
	cut      map[[2]string]bool // both orders of every cut pair
}

// New returns a Network with every link up.
func New() *Network {
	return &Network{idByAddr: make(map[string]string), cut: make(map[[2]string]bool)}
}

// Partition replaces all cuts: nodes in different groups can no longer talk
// to each other. Nodes in no group keep every link.
func (n *Network) Partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = make(map[[2]string]bool)
	for i, g := range groups {
		for _, other := range groups[i+1:] {
			for _, a := range g {
				for _, b := range other {
					n.cut[[2]string{a, b}] = true
					n.cut[[2]string{b, a}] = true
				}
			}
		}
	}
}

// Heal restores every link.
func (n *Network) Heal() { n.Partition() }

// Cut reports whether traffic from node from to address addr is blocked.
func (n *Network) Cut(from, addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	to, known := n.idByAddr[addr]
	return known && n.cut[[2]string{from, to}]
}

func (n *Network) register(addr, id string) {
	n.mu.Lock()
	n.idByAddr[addr] = id
	n.mu.Unlock()
}

// WrapRaftStream fits cluster.Config.WrapRaftStream.
func (n *Network) WrapRaftStream(nodeID string, s raft.StreamLayer) raft.StreamLayer {
	n.register(s.Addr().String(), nodeID)
	return &raftStream{StreamLayer: s, net: n, self: nodeID}
}

type raftStream struct {
	raft.StreamLayer
	net  *Network
	self string
}

func (s *raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	addr := string(address)
	if s.net.Cut(s.self, addr) {
		return nil, ErrCut
	}
	conn, err := s.StreamLayer.Dial(address, timeout)
	if err != nil {
		return nil, err
	}
	return &cuttableConn{Conn: conn, net: s.net, self: s.self, remote: addr}, nil
}

// cuttableConn fails every read and write once its link is cut.
type cuttableConn struct {
	net.Conn
	net    *Network
	self   string
	remote string
}

func (c *cuttableConn) check() error {
	if c.net.Cut(c.self, c.remote) {
		c.Conn.Close()
		return ErrCut
	}
	return nil
}

func (c *cuttableConn) Read(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	k, err := c.Conn.Read(p)
	if err == nil {
		// A reply that was in flight when the link was cut is lost.
		if cutErr := c.check(); cutErr != nil {
			return 0, cutErr
		}
	}
	return k, err
}

func (c *cuttableConn) Write(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// WrapGossipTransport fits cluster.Config.WrapGossipTransport.
func (n *Network) WrapGossipTransport(nodeID string, t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return &gossipTransport{NodeAwareTransport: t, net: n, self: nodeID}
}

type gossipTransport struct {
	memberlist.NodeAwareTransport
	net  *Network
	self string
}

// FinalAdvertiseAddr is where the node learns its own gossip address.
func (t *gossipTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	addr, p, err := t.NodeAwareTransport.FinalAdvertiseAddr(ip, port)
	if err == nil {
		t.net.register(net.JoinHostPort(addr.String(), strconv.Itoa(p)), t.self)
	}
	return addr, p, err
}

func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *gossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.net.Cut(t.self, a.Addr) {
		return time.Now(), nil // dropped on the floor
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *gossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.net.Cut(t.self, a.Addr) {
		return nil, ErrCut
	}
	conn, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &cuttableConn{Conn: conn, net: t.net, self: t.self, remote: a.Addr}, nil
}
