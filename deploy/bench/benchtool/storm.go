package main

// The storm scenario (issue 17): the late scenario with every canary's deadline in one
// second and a default webhook channel to a receiver in this process, so that each
// canary's LATE is also POSTed there. Targets: every webhook delivered within 10 s of
// its canary's deadline, every LATE marked within 100 ms (p99, the API sample), and the
// triggers served meanwhile (run.sh's `cmcli bench` load) at p99 <= 15 ms.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Targets of issue 17.
const (
	webhookTarget    = 10 * time.Second
	markedLateTarget = 100 * time.Millisecond
	triggerP99Target = 15 * time.Millisecond
)

// webhookReport is what the receiver saw of the scenario's canaries.
type webhookReport struct {
	Delivered  int `json:"delivered"`  // canaries whose late event arrived
	Deliveries int `json:"deliveries"` // late events for them, duplicates included
	Duplicates int `json:"duplicates"` // deliveries beyond the first per canary
	// Idempotency keys beyond one per canary: duplicates a receiver could not drop.
	ExtraKeys     int           `json:"extra_idempotency_keys"`
	OtherEvents   int           `json:"other_events"`   // not a late event of one of them
	BadRequests   int           `json:"bad_requests"`   // undecodable, or the header and body keys differ
	DeliveryMS    latenessStats `json:"delivery_ms"`    // first arrival - deadline
	TargetSeconds float64       `json:"target_seconds"` // every one within this
	Pass          bool          `json:"pass"`
}

// hookArrivals is what the receiver recorded of one canary's late events.
type hookArrivals struct {
	first      time.Time
	deliveries int
	keys       map[string]bool
}

// hookReceiver is the webhook's far end: it answers 200 at once and records, per
// canary id, the first arrival of a late event, the deliveries and their keys.
type hookReceiver struct {
	srv *http.Server
	url string

	mu         sync.Mutex
	late       map[string]*hookArrivals
	other, bad int
}

func newHookReceiver() *hookReceiver {
	return &hookReceiver{late: map[string]*hookArrivals{}}
}

// hookEvent is the part of the default webhook body the receiver reads.
type hookEvent struct {
	Event  string `json:"event"`
	Canary *struct {
		ID string `json:"id"`
	} `json:"canary"`
	IdempotencyKey string `json:"idempotency_key"`
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var e hookEvent
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	w.WriteHeader(http.StatusOK) // anything else would be retried
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil || e.IdempotencyKey == "" || r.Header.Get("Idempotency-Key") != e.IdempotencyKey:
		h.bad++
	case e.Event != "late" || e.Canary == nil:
		h.other++
	default:
		a := h.late[e.Canary.ID]
		if a == nil {
			a = &hookArrivals{first: at, keys: map[string]bool{}}
			h.late[e.Canary.ID] = a
		}
		a.deliveries++
		a.keys[e.IdempotencyKey] = true
	}
}

// startWebhook starts the receiver on loopback and creates the default webhook channel
// to it on the node.
func startWebhook(ctx context.Context, o lateOptions) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	h := newHookReceiver()
	h.url = "http://" + ln.Addr().String() + "/hook"
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(ln)
	params := url.Values{"name": {o.channel}, "kind": {"webhook"}, "url": {h.url}, "default": {"true"}}
	if err := getJSON(ctx, apiURL(o, "channel/create", params), nil); err != nil {
		h.srv.Close()
		return nil, fmt.Errorf("creating the webhook channel: %w", err)
	}
	return h, nil
}

// stop deletes the channel, so that later scenarios are unaffected (even when the run
// was interrupted), and stops the receiver.
func (h *hookReceiver) stop(o lateOptions) error {
	defer h.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := getJSON(ctx, apiURL(o, "channel/delete", url.Values{"name": {o.channel}}), nil); err != nil {
		return fmt.Errorf("deleting the webhook channel: %w", err)
	}
	return nil
}

// await waits until every canary's late event has arrived or until the deadline, then
// settle longer for duplicates, and reports.
func (h *hookReceiver) await(ctx context.Context, canaries []lateCanary, until time.Time, settle time.Duration) webhookReport {
	for time.Now().Before(until) && h.delivered(canaries) < len(canaries) {
		if sleep(ctx, 20*time.Millisecond) != nil {
			break
		}
	}
	_ = sleep(ctx, settle)
	h.mu.Lock()
	defer h.mu.Unlock()
	return webhookFigures(canaries, h.late, h.other, h.bad, webhookTarget)
}

func (h *hookReceiver) delivered(canaries []lateCanary) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range canaries {
		if h.late[c.ID] != nil {
			n++
		}
	}
	return n
}

// webhookFigures matches the recorded late events to the canaries: late events of
// other canaries count as other events.
func webhookFigures(canaries []lateCanary, late map[string]*hookArrivals, other, bad int, target time.Duration) webhookReport {
	r := webhookReport{OtherEvents: other, BadRequests: bad, TargetSeconds: target.Seconds()}
	ours := make(map[string]bool, len(canaries))
	var delays []time.Duration
	for _, c := range canaries {
		ours[c.ID] = true
		a := late[c.ID]
		if a == nil {
			continue
		}
		r.Delivered++
		r.Deliveries += a.deliveries
		r.Duplicates += a.deliveries - 1
		r.ExtraKeys += len(a.keys) - 1
		delays = append(delays, a.first.Sub(c.deadline))
	}
	for id, a := range late {
		if !ours[id] {
			r.OtherEvents += a.deliveries
		}
	}
	r.DeliveryMS = summarize(delays, len(canaries))
	r.Pass = r.DeliveryMS.Missing == 0 && r.DeliveryMS.Max <= ms(target)
	return r
}

// writeStormSummary prints the storm figures and, against the targets, pass or fail;
// load is run.sh's trigger load beside it, when known.
func writeStormSummary(w io.Writer, r lateReport, load *benchResult) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "storm: %d canaries due within %gs, each LATE also to a default webhook channel (imported in %.1fs)\n",
		r.Canaries, r.WindowSeconds, r.ImportSeconds)
	writeLateFigures(&b, r)
	checks := []string{}
	if h := r.Webhook; h != nil {
		fmt.Fprintf(&b, "  webhook late event (all)       p50 %.1fms  p99 %.1fms  max %.1fms  delivered %d of %d  missing %d  early %d\n",
			h.DeliveryMS.P50, h.DeliveryMS.P99, h.DeliveryMS.Max, h.Delivered, r.Canaries, h.DeliveryMS.Missing, h.DeliveryMS.Early)
		fmt.Fprintf(&b, "  webhook deliveries %d, duplicates %d (extra idempotency keys %d), other events %d, bad requests %d\n",
			h.Deliveries, h.Duplicates, h.ExtraKeys, h.OtherEvents, h.BadRequests)
		checks = append(checks, verdict(fmt.Sprintf("every webhook within %gs", h.TargetSeconds), h.Pass,
			fmt.Sprintf("%d of %d delivered, max %.1fms", h.Delivered, r.Canaries, h.DeliveryMS.Max)))
	}
	checks = append(checks, limit("LATE marked p99", r.MarkedLateMS.P99, ms(markedLateTarget),
		count(r.MarkedLateMS.Missing, "never marked late")))
	if load != nil {
		checks = append(checks, limit("triggers p99", load.LatencyMS.P99, ms(triggerP99Target), count(int(load.Errors), "errors")))
	}
	for _, c := range checks {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// limit checks a figure in milliseconds against its target; missing, when not empty,
// says what was never measured (never marked late, errors), and fails too.
func limit(what string, got, target float64, missing string) string {
	detail := fmt.Sprintf("%.1fms", got)
	if got > target {
		detail += fmt.Sprintf(", %.1fms over", got-target)
	}
	if missing != "" {
		detail += ", " + missing
	}
	return verdict(fmt.Sprintf("%s <= %gms", what, target), got <= target && missing == "", detail)
}

func count(n int, what string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s", n, what)
}

func verdict(what string, pass bool, detail string) string {
	if pass {
		return fmt.Sprintf("target %s: pass (%s)", what, detail)
	}
	return fmt.Sprintf("target %s: FAIL (%s)", what, detail)
}
