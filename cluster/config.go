package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Default addresses. A node with no gossip is a single node and keeps Raft on
// loopback; a clustered node listens on every interface.
const (
	defaultSingleRaftAddr  = "127.0.0.1:7000"
	defaultClusterRaftAddr = "0.0.0.0:7000"
)

// Config describes one node. The zero value plus a DataDir is a single node
// that elects itself.
type Config struct {
	// NodeID is this server's identity in Raft and gossip. Empty: derived from
	// the hostname once and persisted in DataDir, so it survives restarts.
	NodeID string
	// DataDir holds raft.db, snapshots/ and node-id. Required.
	DataDir string
	// RaftAddr is the host:port the Raft TCP transport binds. Port 0 picks a
	// free port. Default 127.0.0.1:7000 for a single node, 0.0.0.0:7000 with gossip.
	RaftAddr string
	// RaftAdvertise is the address other servers dial (default RaftAddr; an
	// unspecified host such as 0.0.0.0 is replaced by the gossip advertise
	// host or this machine's private IP). Host names are allowed.
	RaftAdvertise string
	// GossipAddr is the host:port memberlist binds (TCP and UDP); "" turns
	// gossip off, which only a single node (BootstrapExpect <= 1) may do.
	GossipAddr string
	// GossipAdvertise is the address other members reach us at (host names
	// are resolved once at start). Default: memberlist's choice.
	GossipAdvertise string
	// HTTPAddr is this node's HTTP address as clients should dial it; it is
	// gossiped so followers can forward to the leader. An empty or
	// unspecified host is replaced by the Raft advertise host.
	HTTPAddr string
	// Join lists gossip addresses to join; tried with backoff until one
	// answers or New's context is done.
	Join []string
	// BootstrapExpect is how many fresh servers must see each other before
	// the first configuration is bootstrapped. 0 means 1: a lone node elects
	// itself (after joining, if Join is set).
	BootstrapExpect int
	// Version is this build's version, gossiped for operators.
	Version string
	// DeadServerCleanup: 0 keeps failed voters forever (an operator removes
	// them). Otherwise the leader removes a voter that has been failed for
	// longer than this, if the remaining voters still have a healthy quorum.
	DeadServerCleanup time.Duration
	// SnapshotLogBytes is how much the Raft log may grow (entry data, in bytes) before
	// the node takes a snapshot, besides raft's own threshold of 8,192 entries: a few
	// hundred import entries of a megabyte each would otherwise all be replayed at the
	// next start. Default 128 MiB.
	SnapshotLogBytes int64
	// Logger receives the node's own events at Info and raft's and
	// memberlist's chatter at Debug (their warnings and errors stay as such).
	Logger *slog.Logger

	// WrapRaftStream, if set, wraps the Raft stream layer (tests inject
	// faults with it, see package faultnet).
	WrapRaftStream func(nodeID string, s raft.StreamLayer) raft.StreamLayer
	// WrapGossipTransport, if set, wraps the memberlist transport.
	WrapGossipTransport func(nodeID string, t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	// TuneRaft and TuneGossip, if set, may adjust the library configurations
	// just before use. Leave them nil in production.
	TuneRaft   func(*raft.Config)
	TuneGossip func(*memberlist.Config)

	// logSegmentSize is the size of a Raft log segment; 0 is raft-wal's 64 MiB. Tests
	// that fill a small file system make it small.
	logSegmentSize int
}

// gossipEnabled reports whether this node runs memberlist.
func (c *Config) gossipEnabled() bool { return c.GossipAddr != "" }

// withDefaults returns a copy of c with every default filled in.
func (c Config) withDefaults() Config {
	if c.BootstrapExpect == 0 {
		c.BootstrapExpect = 1
	}
	if c.RaftAddr == "" {
		c.RaftAddr = defaultSingleRaftAddr
		if c.gossipEnabled() {
			c.RaftAddr = defaultClusterRaftAddr
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.SnapshotLogBytes <= 0 {
		c.SnapshotLogBytes = defaultSnapshotLogBytes
	}
	return c
}

// validate checks a Config that already has its defaults.
func (c *Config) validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, fmt.Errorf("BootstrapExpect %d is negative", c.BootstrapExpect))
	}
	if !c.gossipEnabled() {
		if c.BootstrapExpect > 1 {
			errs = append(errs, fmt.Errorf("BootstrapExpect %d needs GossipAddr", c.BootstrapExpect))
		}
		if len(c.Join) > 0 {
			errs = append(errs, errors.New("a Join list needs GossipAddr"))
		}
	}
	for name, addr := range map[string]string{
		"RaftAddr": c.RaftAddr, "RaftAdvertise": c.RaftAdvertise,
		"GossipAddr": c.GossipAddr, "GossipAdvertise": c.GossipAdvertise, "HTTPAddr": c.HTTPAddr,
	} {
		if addr == "" {
			continue
		}
		if _, _, err := splitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if c.DeadServerCleanup < 0 {
		errs = append(errs, errors.New("DeadServerCleanup is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster config: %w", err)
	}
	return nil
}

// splitHostPort splits "host:port" and checks the port is a number.
func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: bad port", addr)
	}
	return host, port, nil
}

// isUnspecifiedHost reports whether host means "every interface".
func isUnspecifiedHost(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// advertisableHost picks the host other machines should dial when a node is
// bound to every interface: the gossip advertise host if one was configured,
// else this machine's private IP.
func advertisableHost(gossipAdvertise string) (string, error) {
	if gossipAdvertise != "" {
		if host, _, err := splitHostPort(gossipAdvertise); err == nil && !isUnspecifiedHost(host) {
			return host, nil
		}
	}
	ip, err := privateIP()
	if err != nil {
		return "", err
	}
	return ip.String(), nil
}

// privateIP returns the first private IPv4 address of an up, non-loopback
// interface, or failing that any global unicast address.
func privateIP() (net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	var fallback net.IP
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLoopback() || !ipnet.IP.IsGlobalUnicast() {
			continue
		}
		if ip4 := ipnet.IP.To4(); ip4 != nil && ip4.IsPrivate() {
			return ip4, nil
		}
		if fallback == nil {
			fallback = ipnet.IP
		}
	}
	if fallback == nil {
		return nil, errors.New("no address to advertise: set an advertise address")
	}
	return fallback, nil
}

// resolveIP turns a host name or IP literal into one IP, preferring IPv4,
// because memberlist advertises IPs only.
func resolveIP(host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", host, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %q: no address", host)
	}
	return ips[0], nil
}
