package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/memberlist"
)

const (
	// gossipLabel keeps coal-mine gossip apart from any other memberlist
	// cluster that shares the network.
	gossipLabel = "coal-mine"
	// deadNodeReclaimTime lets a node that died come back under its name
	// from a new address (a rescheduled container) after this long.
	deadNodeReclaimTime = 30 * time.Second
	metaUpdateTimeout   = time.Second

	joinBackoffMin = 250 * time.Millisecond
	joinBackoffMax = 10 * time.Second

	// The reconnect loop re-joins failed members so a healed partition
	// merges back even after memberlist stopped gossiping to the dead.
	reconnectInterval = 3 * time.Second
	reconnectTimeout  = 72 * time.Hour
	// forgetLeftAfter: members that left are shown in Status this long.
	forgetLeftAfter = time.Hour
)

// startGossip creates the memberlist and starts the join and reconnect
// loops. Without a GossipAddr it does nothing.
func (n *Node) startGossip(ctx context.Context) error {
	if !n.cfg.gossipEnabled() {
		return nil
	}
	if size := len(n.metaBytes()); size > memberlist.MetaMaxSize {
		return fmt.Errorf("gossip metadata is %d bytes, more than memberlist's %d: shorten the node id or addresses", size, memberlist.MetaMaxSize)
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = n.id
	mc.Label = gossipLabel
	mc.DeadNodeReclaimTime = deadNodeReclaimTime
	mc.Delegate = &gossipDelegate{node: n}
	mc.Events = n.members
	mc.Logger = hclogslog.NewStdLogger(n.cfg.Logger.With("node", n.id), "memberlist")
	if len(n.cfg.Keys) > 0 {
		// Every message sealed with the primary key, every key accepted, nothing else:
		// a node without a key can neither join nor be heard (credential.go).
		keys := gossipKeys(n.cfg.Keys)
		keyring, err := memberlist.NewKeyring(keys, keys[0])
		if err != nil {
			return fmt.Errorf("gossip keyring: %w", err)
		}
		mc.Keyring = keyring
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}

	host, port, err := splitHostPort(n.cfg.GossipAddr)
	if err != nil {
		return err
	}
	if isUnspecifiedHost(host) {
		host = "0.0.0.0"
	}
	transport, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host},
		BindPort:  port,
		Logger:    mc.Logger,
	})
	if err != nil {
		return fmt.Errorf("gossip listen on %s: %w", n.cfg.GossipAddr, err)
	}
	mc.BindAddr, mc.BindPort = host, transport.GetAutoBindPort()

	if err := n.gossipAdvertise(mc, host); err != nil {
		transport.Shutdown()
		return err
	}
	var wrapped memberlist.NodeAwareTransport = transport
	if n.cfg.WrapGossipTransport != nil {
		wrapped = n.cfg.WrapGossipTransport(n.id, wrapped)
	}
	mc.Transport = wrapped
	if n.cfg.TuneGossip != nil {
		n.cfg.TuneGossip(mc)
	}

	n.gossip, err = memberlist.Create(mc)
	if err != nil {
		wrapped.Shutdown()
		return fmt.Errorf("start gossip: %w", err)
	}
	n.gossipAddr = n.gossip.LocalNode().Address()
	if len(n.cfg.Join) > 0 {
		n.wg.Add(1)
		go n.joinLoop(ctx)
	}
	n.wg.Add(1)
	go n.reconnectLoop()
	return nil
}

// gossipAdvertise fills in the advertised gossip address: the configured
// one (host names resolved now, memberlist wants an IP), or for a node bound
// to every interface the same private IP the Raft address uses.
func (n *Node) gossipAdvertise(mc *memberlist.Config, bindHost string) error {
	if n.cfg.GossipAdvertise == "" {
		if bindHost == "0.0.0.0" {
			ip, err := privateIP()
			if err != nil {
				return fmt.Errorf("gossip advertise address: %w", err)
			}
			mc.AdvertiseAddr, mc.AdvertisePort = ip.String(), mc.BindPort
		}
		return nil
	}
	host, port, err := splitHostPort(n.cfg.GossipAdvertise)
	if err != nil {
		return err
	}
	ip, err := resolveIP(host)
	if err != nil {
		return fmt.Errorf("gossip advertise address: %w", err)
	}
	if port == 0 {
		port = mc.BindPort
	}
	mc.AdvertiseAddr, mc.AdvertisePort = ip.String(), port
	return nil
}

// joinLoop joins the configured members, backing off between attempts,
// until one of them answers or ctx ends.
func (n *Node) joinLoop(ctx context.Context) {
	defer n.wg.Done()
	backoff := joinBackoffMin
	for attempt := 1; ; attempt++ {
		contacted, err := n.gossip.Join(n.cfg.Join)
		// Joining only ourselves (a join list naming every node) is no join.
		if contacted > 0 && n.gossip.NumMembers() > 1 {
			n.joined.Store(true)
			n.logger.Info("joined cluster", "contacted", contacted, "members", n.gossip.NumMembers())
			return
		}
		level := n.logger.Debug
		if attempt%10 == 0 {
			level = n.logger.Warn
		}
		level("join failed, retrying", "join", n.cfg.Join, "attempt", attempt, "err", err, "retry_in", backoff)
		if !n.sleep(ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}

// reconnectLoop periodically tries to join members that failed: after a
// partition heals, this is what brings the two sides' gossip back together.
// It also forgets long-gone members.
func (n *Node) reconnectLoop() {
	defer n.wg.Done()
	for n.sleep(context.Background(), jitter(reconnectInterval)) {
		for _, m := range n.members.list() {
			if m.ID == n.id || m.State != gossipDead || time.Since(m.Since) > reconnectTimeout {
				continue
			}
			if _, err := n.gossip.Join([]string{m.GossipAddr}); err == nil {
				n.logger.Debug("reconnected to failed member", "member", m.ID)
			}
		}
		servers := n.serverSet()
		inRaft := func(id string) bool { return servers[id] }
		n.members.forget(gossipLeft, forgetLeftAfter, inRaft)
		n.members.forget(gossipDead, reconnectTimeout, inRaft)
	}
}

// sleep waits d; false if the node shut down or ctx ended first.
func (n *Node) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-n.stopCh:
		return false
	}
}

// jitter spreads d over [0.75d, 1.25d) so nodes do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}

// metaBytes is the encoded local metadata.
func (n *Node) metaBytes() []byte {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	return n.localMeta.encode()
}

// meta returns a copy of the local metadata.
func (n *Node) meta() memberMeta {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	return n.localMeta
}

// updateMeta changes the local metadata and, if it changed, gossips it.
func (n *Node) updateMeta(change func(*memberMeta)) {
	n.metaMu.Lock()
	before := n.localMeta
	change(&n.localMeta)
	changed := before != n.localMeta
	n.metaMu.Unlock()
	if !changed || n.gossip == nil {
		return
	}
	if err := n.gossip.UpdateNode(metaUpdateTimeout); err != nil {
		n.logger.Debug("gossiping metadata update", "err", err)
	}
}

// gossipDelegate hands memberlist our metadata; we use no user messages.
type gossipDelegate struct{ node *Node }

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	b := d.node.metaBytes()
	if len(b) > limit {
		// Checked at start; a later change cannot grow the strings.
		panic("cluster: gossip metadata too large: " + strconv.Itoa(len(b)))
	}
	return b
}
func (d *gossipDelegate) NotifyMsg([]byte)                    {}
func (d *gossipDelegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (d *gossipDelegate) LocalState(bool) []byte              { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, _ bool) {}
