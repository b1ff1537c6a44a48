package alerting

import "github.com/prometheus/client_golang/prometheus"

// metrics are the alerting figures an operator pages on: notifications that fail, and
// a watcher that marks canaries late later than it should. Labels are notification kinds
// and outcomes only, never a canary's id or name.
type metrics struct {
	sent      *prometheus.CounterVec
	failures  *prometheus.CounterVec
	abandoned *prometheus.CounterVec
	lateness  prometheus.Histogram
	// heartbeatFailures counts failed pings of the outside dead man's switch.
	heartbeatFailures prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coal_mine_notifications_sent_total",
			Help: "Notifications delivered by this node as leader, by kind (late, resumed) and outcome (sent, or no_recipients: logged only).",
		}, []string{"kind", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coal_mine_notification_failures_total",
			Help: "Attempts to deliver a notification that failed (each is retried), by kind.",
		}, []string{"kind"}),
		abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coal_mine_notifications_abandoned_total",
			Help: "Notifications given up on after bounded attempts, recorded as failed in their canary's history, by kind.",
		}, []string{"kind"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coal_mine_mark_late_delay_seconds",
			Help:    "How long after its deadline the leader's watcher had a canary marked late (committed).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coal_mine_heartbeat_failures_total",
			Help: "Pings of --heartbeat-url by this node as leader that failed.",
		}),
	}
}

// Collectors returns the alerting metrics, to register with the daemon's registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.sent, s.metrics.failures, s.metrics.abandoned, s.metrics.lateness, s.metrics.heartbeatFailures}
}
