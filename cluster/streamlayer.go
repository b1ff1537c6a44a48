package cluster

import (
	"fmt"
	"net"
)

// stringAddr is a net.Addr that is just a dialable "host:port" string.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// listenRaft binds the Raft port and works out the advertised address:
// cfg.RaftAdvertise if set, else the bound address with an unspecified host
// replaced by something other machines can dial. The port is shared by Raft and the
// nodes' RPC (mux.go); the advertised address may be a host name.
func listenRaft(cfg *Config) (net.Listener, net.Addr, error) {
	ln, err := net.Listen("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for raft on %s: %w", cfg.RaftAddr, err)
	}
	advertise := cfg.RaftAdvertise
	if advertise == "" {
		bound := ln.Addr().(*net.TCPAddr)
		host, _, _ := splitHostPort(cfg.RaftAddr)
		if isUnspecifiedHost(host) {
			if host, err = advertisableHost(cfg.GossipAdvertise); err != nil {
				ln.Close()
				return nil, nil, fmt.Errorf("raft advertise address: %w", err)
			}
		}
		advertise = net.JoinHostPort(host, fmt.Sprint(bound.Port))
	}
	return ln, stringAddr(advertise), nil
}
