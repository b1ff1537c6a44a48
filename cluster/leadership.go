package cluster

import "sync"

// leadershipFanout copies raft's leadership notifications to any number of
// subscribers. Each subscriber has its own queue, so a slow one neither loses
// transitions nor holds up raft (which blocks on NotifyCh) or the others.
type leadershipFanout struct {
	mu      sync.Mutex
	current bool
	closed  bool
	subs    map[*leadershipSub]struct{}
}

func newLeadershipFanout() *leadershipFanout {
	return &leadershipFanout{subs: make(map[*leadershipSub]struct{})}
}

// publish records a transition and queues it for every subscriber. A value
// equal to the current one is not a transition and is dropped.
func (f *leadershipFanout) publish(leader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || leader == f.current {
		return
	}
	f.current = leader
	for s := range f.subs {
		s.push(leader)
	}
}

// subscribe returns a channel that first carries the current state and then
// every transition, and a function that unsubscribes (closing the channel).
func (f *leadershipFanout) subscribe() (<-chan bool, func()) {
	s := newLeadershipSub()
	f.mu.Lock()
	s.push(f.current)
	if f.closed {
		s.finish()
	} else {
		f.subs[s] = struct{}{}
	}
	f.mu.Unlock()
	go s.run()

	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, s)
			f.mu.Unlock()
			close(s.stop)
		})
	}
}

// close ends leadership for good: subscribers get a final false if they
// last saw true, then their channels close once drained.
func (f *leadershipFanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	wasLeader := f.current
	f.current = false
	for s := range f.subs {
		if wasLeader {
			s.push(false)
		}
		s.finish()
	}
	f.subs = nil
}

// leadershipSub is one subscriber: an unbounded queue drained by a goroutine
// into out.
type leadershipSub struct {
	out  chan bool
	wake chan struct{} // capacity 1
	stop chan struct{} // closed on unsubscribe

	mu      sync.Mutex
	queue   []bool
	closing bool // close out once the queue is empty
}

func newLeadershipSub() *leadershipSub {
	return &leadershipSub{
		out:  make(chan bool),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
}

func (s *leadershipSub) push(v bool) {
	s.mu.Lock()
	s.queue = append(s.queue, v)
	s.mu.Unlock()
	s.poke()
}

func (s *leadershipSub) finish() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.poke()
}

func (s *leadershipSub) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *leadershipSub) run() {
	defer close(s.out)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		v := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()

		select {
		case s.out <- v:
		case <-s.stop:
			return
		}
	}
}
