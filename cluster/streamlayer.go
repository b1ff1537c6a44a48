package cluster

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStreamLayer is raft's stream layer over plain TCP. It exists (rather
// than raft.NewTCPTransport) so that the layer can be wrapped by a test hook,
// and so the advertised address may be a host name.
type tcpStreamLayer struct {
	listener  net.Listener
	advertise stringAddr
}

var _ raft.StreamLayer = (*tcpStreamLayer)(nil)

// stringAddr is a net.Addr that is just a dialable "host:port" string.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// listenRaft binds the Raft listener and works out the advertised address:
// cfg.RaftAdvertise if set, else the bound address with an unspecified host
// replaced by something other machines can dial.
func listenRaft(cfg *Config) (*tcpStreamLayer, error) {
	ln, err := net.Listen("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", cfg.RaftAddr, err)
	}
	advertise := cfg.RaftAdvertise
	if advertise == "" {
		bound := ln.Addr().(*net.TCPAddr)
		host, _, _ := splitHostPort(cfg.RaftAddr)
		if isUnspecifiedHost(host) {
			if host, err = advertisableHost(cfg.GossipAdvertise); err != nil {
				ln.Close()
				return nil, fmt.Errorf("raft advertise address: %w", err)
			}
		}
		advertise = net.JoinHostPort(host, fmt.Sprint(bound.Port))
	}
	return &tcpStreamLayer{listener: ln, advertise: stringAddr(advertise)}, nil
}

func (t *tcpStreamLayer) Accept() (net.Conn, error) { return t.listener.Accept() }
func (t *tcpStreamLayer) Close() error              { return t.listener.Close() }
func (t *tcpStreamLayer) Addr() net.Addr            { return t.advertise }

func (t *tcpStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}
