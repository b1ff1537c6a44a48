package main

// The late-detection scenario (issue 5, target 2): many canaries whose deadlines fall in
// one window, while run.sh keeps other canaries busy with `cmcli bench --rate` beside it.
// It measures, for each canary, how long after its deadline
//   - the node's API shows it late (a sample of canaries, each polled from just before
//     its deadline; the time of the first answer that says late, so an upper bound), and
//   - its LATE mail reaches the mail sink (every canary; the sink's receive time),
// and counts the canaries that got no LATE mail or more than one.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

var errImportTooSlow = errors.New("the import ended after the first deadline; give a longer --lead")

type lateOptions struct {
	node, mailsink, authKey string
	out                     string
	prefix                  string
	canaries, sample        int
	window, lead            time.Duration
	poll, wait, settle      time.Duration
	// The storm scenario (storm.go): a default webhook channel to a receiver in this
	// process, and how long to wait for every canary's late event there.
	webhook     bool
	channel     string
	webhookWait time.Duration
}

// lateCanary is one canary in the shape of the import API.
type lateCanary struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Periodicity float64     `json:"periodicity"`
	Emails      []string    `json:"emails"`
	Late        bool        `json:"late"`
	Paused      bool        `json:"paused"`
	Deadline    string      `json:"deadline"`
	History     [][2]string `json:"history"`
	deadline    time.Time
}

// lateReport is what the scenario measured; run.sh keeps it as late.json.
type lateReport struct {
	Canaries       int            `json:"canaries"`
	WindowSeconds  float64        `json:"window_seconds"`
	ImportSeconds  float64        `json:"import_seconds"`
	MarkedLateMS   latenessStats  `json:"marked_late_ms"` // sampled through the API
	LateMailMS     latenessStats  `json:"late_mail_ms"`   // every canary, at the mail sink
	DuplicateMails int            `json:"duplicate_mails"`
	LateAtEnd      int            `json:"late_at_end"`
	Webhook        *webhookReport `json:"webhook,omitempty"` // the storm scenario
}

// latenessStats summarise "observed - deadline" in milliseconds.
type latenessStats struct {
	Count   int     `json:"count"`
	Missing int     `json:"missing"` // never observed late
	Early   int     `json:"early"`   // observed before the deadline: a bug
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

// runLate runs the late scenario, or with name "storm" the storm scenario: the same
// with a webhook channel, other defaults and the storm summary.
func runLate(ctx context.Context, w io.Writer, name string, args []string) error {
	storm := name == "storm"
	prefix, window := "late-bench-", 10*time.Second
	if storm {
		prefix, window = "storm-bench-", time.Second
	}
	var o lateOptions
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.node, "node", "", "coal-mine node to import into and poll (the leader)")
	fs.StringVar(&o.mailsink, "mailsink", "", "mailsink HTTP base URL")
	fs.StringVar(&o.authKey, "auth-key", "", "coal-mine auth key")
	fs.StringVar(&o.out, "out", "", "also write the report as JSON to this file")
	fs.StringVar(&o.prefix, "prefix", prefix, "name prefix of the canaries")
	fs.IntVar(&o.canaries, "canaries", 10000, "canaries whose deadlines fall in the window")
	fs.IntVar(&o.sample, "sample", 500, "canaries polled through the API around their deadline")
	fs.DurationVar(&o.window, "window", window, "the deadlines are spread evenly over this window")
	fs.DurationVar(&o.lead, "lead", 10*time.Second, "time from the start to the first deadline (the import must fit in it)")
	fs.DurationVar(&o.poll, "poll", 10*time.Millisecond, "API polling interval of a sampled canary")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "after the window, how long to wait for every LATE mail")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "then how long to wait for duplicates")
	fs.BoolVar(&o.webhook, "webhook", storm, "also deliver every event to a default webhook channel to a receiver in benchtool")
	fs.StringVar(&o.channel, "channel", "storm", "name of that channel (deleted at the end)")
	fs.DurationVar(&o.webhookWait, "webhook-wait", 30*time.Second, "after the last deadline, how long to wait for every late event at the receiver")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.node == "" || o.mailsink == "" || o.canaries < 1 || o.window <= 0 {
		return fmt.Errorf("%w: "+name+" needs --node, --mailsink, --canaries >= 1 and a --window", errUsage)
	}
	o.sample = min(max(o.sample, 0), o.canaries)

	report, err := measureLate(ctx, o)
	if err != nil {
		return err
	}
	if o.out != "" {
		data, _ := json.MarshalIndent(report, "", "  ")
		if err := os.WriteFile(o.out, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if storm {
		return writeStormSummary(w, report, nil)
	}
	return writeLateSummary(w, report)
}

func measureLate(ctx context.Context, o lateOptions) (report lateReport, err error) {
	report = lateReport{Canaries: o.canaries, WindowSeconds: o.window.Seconds()}
	if err := clearMail(ctx, o.mailsink); err != nil {
		return report, err
	}
	var hooks *hookReceiver
	if o.webhook {
		if hooks, err = startWebhook(ctx, o); err != nil {
			return report, err
		}
		defer func() {
			if derr := hooks.stop(o); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	first := time.Now().Add(o.lead)
	canaries := makeLateCanaries(o.prefix, o.canaries, first, o.window)
	started := time.Now()
	if err := importCanaries(ctx, o, canaries); err != nil {
		return report, err
	}
	report.ImportSeconds = math.Round(time.Since(started).Seconds()*1000) / 1000
	if time.Now().After(first) {
		return report, fmt.Errorf("%w (import took %.1fs)", errImportTooSlow, report.ImportSeconds)
	}

	sampled := make(chan []time.Duration, 1)
	go func() { sampled <- pollSample(ctx, o, sampleOf(canaries, o.sample)) }()
	lastDeadline := canaries[len(canaries)-1].deadline
	webhooks := make(chan webhookReport, 1)
	if hooks != nil {
		go func() { webhooks <- hooks.await(ctx, canaries, lastDeadline.Add(o.webhookWait), o.settle) }()
	}

	received, err := waitForMail(ctx, o, time.Until(lastDeadline)+o.wait)
	if err != nil {
		return report, err
	}
	report.LateMailMS, report.DuplicateMails = mailLateness(canaries, received)
	marked := <-sampled
	report.MarkedLateMS = summarize(marked, o.sample)
	if hooks != nil {
		wr := <-webhooks
		report.Webhook = &wr
	}
	if report.LateAtEnd, err = countLate(ctx, o); err != nil {
		return report, err
	}
	return report, nil
}

// makeLateCanaries spreads n deadlines evenly over [first, first+window).
func makeLateCanaries(prefix string, n int, first time.Time, window time.Duration) []lateCanary {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	ids := map[string]bool{}
	out := make([]lateCanary, n)
	for i := range out {
		id := randomID()
		for ids[id] {
			id = randomID()
		}
		ids[id] = true
		deadline := first.Add(window * time.Duration(i) / time.Duration(n)).UTC().Truncate(time.Microsecond)
		out[i] = lateCanary{
			ID:          id,
			Name:        fmt.Sprintf("%s%05d", prefix, i+1),
			Periodicity: 3600,
			Emails:      []string{"oncall@example.com"},
			Deadline:    deadline.Format(time.RFC3339Nano),
			History:     [][2]string{{now, "imported by benchtool late"}},
			deadline:    deadline,
		}
	}
	return out
}

func randomID() string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

const importBatch = 1000

// importCanaries imports canaries in batches. Their ids are random: one that collides
// with an existing canary's id is given another, in place, and imported again.
func importCanaries(ctx context.Context, o lateOptions, canaries []lateCanary) error {
	for start := 0; start < len(canaries); start += importBatch {
		batch := canaries[start:min(start+importBatch, len(canaries))]
		pending := make([]*lateCanary, len(batch))
		for i := range batch {
			pending[i] = &batch[i]
		}
		for len(pending) > 0 {
			body, _ := json.Marshal(map[string]any{"canaries": pending})
			var reply struct {
				Created   []string
				Conflicts []struct{ ID, Error string }
			}
			if err := postJSON(ctx, apiURL(o, "canary/import", nil), body, &reply); err != nil {
				return fmt.Errorf("importing canaries: %w", err)
			}
			taken := make(map[string]bool, len(reply.Conflicts))
			for _, c := range reply.Conflicts {
				taken[c.ID] = true
			}
			if len(reply.Created)+len(taken) != len(pending) {
				return fmt.Errorf("importing canaries: %d created and %d conflicts of %d: %v",
					len(reply.Created), len(taken), len(pending), reply.Conflicts)
			}
			again := pending[:0]
			for _, c := range pending {
				if taken[c.ID] {
					c.ID = randomID()
					again = append(again, c)
				}
			}
			pending = again
		}
	}
	return nil
}

func apiURL(o lateOptions, path string, params url.Values) string {
	if params == nil {
		params = url.Values{}
	}
	if o.authKey != "" {
		params.Set("auth_key", o.authKey)
	}
	return o.node + "/coal-mine/v1/" + path + "?" + params.Encode()
}

// sampleOf picks n canaries spread evenly over the window.
func sampleOf(canaries []lateCanary, n int) []lateCanary {
	out := make([]lateCanary, 0, n)
	for k := range n {
		out = append(out, canaries[k*len(canaries)/n])
	}
	return out
}

// pollSample polls each sampled canary from one poll interval before its deadline until
// the API says late, and returns "first late answer - deadline" for those that did.
//
// The polls must not become the load they measure. Every poll of a canary not yet late
// is a read on the leader in the very second it marks ten thousand canaries, so a canary
// not marked within the target (markedLateTarget) is polled ten times less often: past
// the target, what is measured is by how much it failed. And each poller keeps its
// connection: with fewer idle connections than pollers, a slow second made every poll
// open a new one.
func pollSample(ctx context.Context, o lateOptions, sample []lateCanary) []time.Duration {
	poller := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: len(sample)}}
	giveUp := o.window + o.wait
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	for _, c := range sample {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sleep(ctx, time.Until(c.deadline.Add(-o.poll))) != nil {
				return
			}
			target := apiURL(o, "canary/get", url.Values{"id": {c.ID}})
			for time.Since(c.deadline) < giveUp {
				if isLate(ctx, poller, target) {
					lateness := time.Since(c.deadline)
					mu.Lock()
					out = append(out, lateness)
					mu.Unlock()
					return
				}
				interval := o.poll
				if time.Since(c.deadline) > markedLateTarget {
					interval = 10 * o.poll
				}
				if sleep(ctx, interval) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func isLate(ctx context.Context, poller *http.Client, target string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false
	}
	resp, err := poller.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var reply struct{ Canary struct{ Late bool } }
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&reply) == nil && reply.Canary.Late
}

// receivedMail is what the scenario reads of a mailsink message.
type receivedMail struct {
	At     time.Time           `json:"at"`
	Header map[string][]string `json:"headers"`
}

func clearMail(ctx context.Context, sink string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, sink+"/messages", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("clearing the mail sink: %w", err)
	}
	resp.Body.Close()
	return nil
}

// waitForMail waits (at most timeout) until the sink holds a mail per canary, then a
// little longer for duplicates, and returns every mail.
func waitForMail(ctx context.Context, o lateOptions, timeout time.Duration) ([]receivedMail, error) {
	params := url.Values{"wait": {strconv.Itoa(o.canaries)}, "timeout": {timeout.Round(time.Second).String()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.mailsink+"/messages?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req) // no client timeout: the sink holds the request
	if err != nil {
		return nil, fmt.Errorf("waiting for the LATE mails: %w", err)
	}
	resp.Body.Close() // 504 when they did not all come: the count below shows it
	if err := sleep(ctx, o.settle); err != nil {
		return nil, err
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, o.mailsink+"/messages", nil)
	if err != nil {
		return nil, err
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the mail sink: %w", err)
	}
	var mails []receivedMail
	if err := decode(resp, o.mailsink, &mails); err != nil {
		return nil, err
	}
	return mails, nil
}

// mailLateness matches LATE mails to canaries by their X-Coal-Mine-Canary header.
func mailLateness(canaries []lateCanary, mails []receivedMail) (latenessStats, int) {
	deadlines := make(map[string]time.Time, len(canaries))
	for _, c := range canaries {
		deadlines[c.ID] = c.deadline
	}
	seen := map[string]int{}
	var lateness []time.Duration
	for _, m := range mails {
		id := first(m.Header["X-Coal-Mine-Canary"])
		deadline, ours := deadlines[id]
		if !ours || first(m.Header["X-Coal-Mine-Event"]) != "late" {
			continue
		}
		seen[id]++
		if seen[id] == 1 {
			lateness = append(lateness, m.At.Sub(deadline))
		}
	}
	duplicates := 0
	for _, n := range seen {
		duplicates += n - 1
	}
	return summarize(lateness, len(canaries)), duplicates
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// summarize turns observed latenesses of expected canaries into statistics.
func summarize(lateness []time.Duration, expected int) latenessStats {
	s := latenessStats{Count: len(lateness), Missing: expected - len(lateness)}
	if len(lateness) == 0 {
		return s
	}
	sorted := append([]time.Duration(nil), lateness...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, d := range sorted {
		if d < 0 {
			s.Early++
		}
	}
	s.P50 = ms(nearestRank(sorted, 0.50))
	s.P99 = ms(nearestRank(sorted, 0.99))
	s.Max = ms(sorted[len(sorted)-1])
	return s
}

// nearestRank is the smallest value with at least q of the sorted values at or below it.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// countLate counts the scenario's canaries that the node shows late.
func countLate(ctx context.Context, o lateOptions) (int, error) {
	var reply struct{ Canaries []struct{ ID string } }
	params := url.Values{"late": {"true"}, "search": {"^" + o.prefix}}
	if err := getJSON(ctx, apiURL(o, "canary/list", params), &reply); err != nil {
		return 0, fmt.Errorf("counting late canaries: %w", err)
	}
	return len(reply.Canaries), nil
}

func writeLateSummary(w io.Writer, r lateReport) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "late detection: %d canaries due within %gs (imported in %.1fs)\n", r.Canaries, r.WindowSeconds, r.ImportSeconds)
	writeLateFigures(&b, r)
	_, err := w.Write(b.Bytes())
	return err
}

// writeLateFigures prints what the late and storm scenarios share.
func writeLateFigures(b *bytes.Buffer, r lateReport) {
	fmt.Fprintf(b, "  marked late (API, %d sampled)  p50 %.1fms  p99 %.1fms  max %.1fms  never %d  early %d\n",
		r.MarkedLateMS.Count+r.MarkedLateMS.Missing, r.MarkedLateMS.P50, r.MarkedLateMS.P99, r.MarkedLateMS.Max, r.MarkedLateMS.Missing, r.MarkedLateMS.Early)
	fmt.Fprintf(b, "  LATE mail received (all)       p50 %.1fms  p99 %.1fms  max %.1fms  missing %d  early %d\n",
		r.LateMailMS.P50, r.LateMailMS.P99, r.LateMailMS.Max, r.LateMailMS.Missing, r.LateMailMS.Early)
	fmt.Fprintf(b, "  duplicate LATE mails %d; late at the end %d of %d\n", r.DuplicateMails, r.LateAtEnd, r.Canaries)
}
