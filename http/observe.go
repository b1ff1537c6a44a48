package http

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the HTTP layer's Prometheus series. Labels name routes and status codes
// only: never a canary id, name or key.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	forwards *prometheus.CounterVec
	handler  http.Handler
}

func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		register(reg, collectors.NewGoCollector())
		register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coal_mine_http_requests_total",
			Help: "HTTP requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"})),
		latency: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coal_mine_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"})),
		forwards: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coal_mine_http_forwards_total",
			Help: "Restore uploads streamed to the leader, by outcome (answered, unreachable, failed).",
		}, []string{"outcome"})),
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
	}
}

// register registers c, or returns the collector already registered under the same
// description, so that several handlers can share one registry.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// endpointLabel names the route a request matched; the short trigger URL's parameter
// is a canary id and is never a label value.
func endpointLabel(c *gin.Context) string {
	switch p := c.FullPath(); p {
	case "":
		return "unmatched"
	case "/:id":
		return "/<id>"
	case "/:id/:signal":
		return "/<id>/<signal>"
	case "/ping/:id":
		return "/ping/<id>"
	case "/ping/:id/:signal":
		return "/ping/<id>/<signal>"
	default:
		return p
	}
}

// observe counts and times every request and writes the access log at debug level.
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	elapsed := time.Since(start)
	endpoint := endpointLabel(c)
	status := c.Writer.Status()
	s.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	s.metrics.latency.WithLabelValues(endpoint).Observe(elapsed.Seconds())
	ctx := c.Request.Context()
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "http request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.String("query", redactQuery(c.Request.URL.RawQuery)),
		slog.Int("status", status),
		slog.Int("bytes", c.Writer.Size()),
		slog.Duration("duration", elapsed),
		slog.String("remote", c.Request.RemoteAddr),
		slog.Bool("forwarded", c.GetHeader(forwardedHeader) != ""),
	)
}

// secretParams are the parameters whose values never reach a log: the key, and a
// channel's settings that hold secrets (a webhook URL's path and token, its headers,
// a PagerDuty routing key, a body template that may embed either).
var secretParams = map[string]bool{"auth_key": true, "url": true, "header": true, "routing_key": true, "body": true}

// redactQuery replaces the value of every secret parameter, however its name is
// encoded, so no secret reaches a log.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		name, _, _ := strings.Cut(pair, "=")
		if secretParams[unquote(name)] {
			pairs[i] = name + "=REDACTED"
		}
	}
	return strings.Join(pairs, "&")
}

// recover turns a panic into a logged 500, so that no input can take the server down
// or leave a client without an answer.
func (s *server) recover(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			panic(r) // net/http's way to abort a response: let it through
		}
		s.log.Error("panic in HTTP handler", "endpoint", endpointLabel(c),
			"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			s.writeError(c, http.StatusInternalServerError, "500 Internal Server Error")
		}
		c.Abort()
	}()
	c.Next()
}
