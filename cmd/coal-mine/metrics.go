package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/coal-mine/coal-mine/fsm"
)

// newRegistry gathers every metric /metrics shows: the Go runtime and process, the HTTP
// layer (registered by http.NewHandler), the node's Raft and membership, alerting, and
// the state's figures.
func newRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// stateCollector shows the state machine's figures: every node has them, the
// outbox's included (a follower's outbox is the leader's, replicated).
type stateCollector struct {
	state *fsm.FSM
	now   func() time.Time
}

var (
	descCanaries     = prometheus.NewDesc("coal_mine_canaries", "Canaries in the state.", nil, nil)
	descLate         = prometheus.NewDesc("coal_mine_canaries_late", "Canaries that are late.", nil, nil)
	descPaused       = prometheus.NewDesc("coal_mine_canaries_paused", "Canaries that are paused.", nil, nil)
	descOutbox       = prometheus.NewDesc("coal_mine_outbox_records", "Notifications waiting to be sent.", nil, nil)
	descOutboxOldest = prometheus.NewDesc("coal_mine_outbox_oldest_age_seconds", "Age of the oldest notification waiting to be sent (0 when none waits).", nil, nil)
)

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCanaries, descLate, descPaused, descOutbox, descOutboxOldest} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.state.Stats()
	age := 0.0
	if !st.OldestUnsent.IsZero() {
		age = max(c.now().Sub(st.OldestUnsent).Seconds(), 0)
	}
	for d, v := range map[*prometheus.Desc]float64{
		descCanaries: float64(st.Canaries), descLate: float64(st.Late), descPaused: float64(st.Paused),
		descOutbox: float64(st.Outbox), descOutboxOldest: age,
	} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
}
