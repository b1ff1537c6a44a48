package cluster

import (
	"sync"
	"testing"
	"time"
)

// leadershipLog records what one node's subscription delivered.
type leadershipLog struct {
	mu     sync.Mutex
	events []bool
	terms  []uint64 // term read when a true arrived
}

func TestSubscribeLeadershipAcrossChanges(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	logs := make(map[string]*leadershipLog)
	var wg sync.WaitGroup
	for _, tn := range c.nodes {
		log := &leadershipLog{}
		logs[tn.id] = log
		ch, _ := tn.node.SubscribeLeadership() // closed by Shutdown
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			for leader := range ch {
				log.mu.Lock()
				log.events = append(log.events, leader)
				if leader {
					log.terms = append(log.terms, n.Status().Term)
				}
				log.mu.Unlock()
			}
		}(tn.node)
	}

	leader := c.waitLeader(formTimeout)
	target := c.followers(leader)[0]
	if err := leader.node.TransferLeadership(ctxTimeout(t, 10*time.Second), target.id); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	c.waitLeader(failoverTimeout)
	c.kill(target)
	c.waitLeader(failoverTimeout)
	c.shutdownAll()
	wg.Wait()

	termLeader := make(map[uint64]string)
	leaderships := 0
	for id, log := range logs {
		if len(log.events) == 0 || log.events[0] != false {
			t.Errorf("%s: first event %v, want the initial false", id, log.events)
		}
		for i := 1; i < len(log.events); i++ {
			if log.events[i] == log.events[i-1] {
				t.Errorf("%s: %v is not a sequence of transitions", id, log.events)
			}
		}
		if last := log.events[len(log.events)-1]; last {
			t.Errorf("%s: ended as leader after Shutdown: %v", id, log.events)
		}
		for _, term := range log.terms {
			if other, dup := termLeader[term]; dup {
				t.Errorf("%s and %s both led term %d", other, id, term)
			}
			termLeader[term] = id
			leaderships++
		}
	}
	// First leader, transfer target, and a successor after the kill.
	if leaderships < 3 {
		t.Errorf("saw %d leaderships, want at least 3: %v", leaderships, termLeader)
	}
}
