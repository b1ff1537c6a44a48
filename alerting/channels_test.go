package alerting

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/coal-mine/coal-mine/fsm"
)

// receiver records what a webhook receives.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []map[string]any
	keys   []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, m)
	rc.keys = append(rc.keys, r.Header.Get("Idempotency-Key"))
	if rc.status != 0 {
		w.WriteHeader(rc.status)
	}
}

func (rc *receiver) events() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, m := range rc.got {
		e, _ := m["event"].(string)
		out = append(out, e)
	}
	return out
}

func (n *node) putChannel(t *testing.T, ch fsm.Channel) {
	t.Helper()
	n.apply(t, fsm.Command{Type: fsm.TypeChannelPut, ChannelPut: &fsm.ChannelPut{Channel: ch, Create: true}})
}

// TestWebhookChannelGetsLateAndResumed: a default webhook channel receives the late and
// resumed events as JSON, each with its idempotency key, besides the e-mails.
func TestWebhookChannelGetsLateAndResumed(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n := startNode(t)
	n.putChannel(t, fsm.Channel{Name: "hook", Kind: fsm.ChannelWebhook, URL: srv.URL + "/in", Default: true})
	lead(t, n)
	id := n.create(t, "Backup", 200*time.Millisecond, "ops@example.org")
	testkit.Until(t, 10*time.Second, "late webhook", func() bool { return len(rc.events()) == 1 })
	n.trigger(t, id)
	testkit.Until(t, 10*time.Second, "resumed webhook", func() bool { return len(rc.events()) >= 2 })
	if got := strings.Join(rc.events()[:2], ","); got != "late,resumed" {
		t.Fatalf("events %s", got)
	}
	rc.mu.Lock()
	first := rc.got[0]
	key := rc.keys[0]
	rc.mu.Unlock()
	canary := first["canary"].(map[string]any)
	if canary["id"] != id || canary["name"] != "Backup" || first["idempotency_key"] != key || !strings.Contains(key, id) {
		t.Fatalf("late event %v, key %q", first, key)
	}
	testkit.Until(t, 10*time.Second, "the e-mails too", func() bool { return len(n.notify.messages()) >= 2 })
}

// TestAFailingChannelIsGivenUpOnAndBlocksNothing: a webhook that answers 404 is given
// up on after bounded attempts, said in the history, while the e-mail goes out at once.
func TestAFailingChannelIsGivenUpOnAndBlocksNothing(t *testing.T) {
	rc := &receiver{status: http.StatusNotFound}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n := startNode(t)
	n.putChannel(t, fsm.Channel{Name: "broken", Kind: fsm.ChannelWebhook, URL: srv.URL, Default: true})
	lead(t, n)
	id := n.create(t, "Backup", 100*time.Millisecond, "ops@example.org")
	testkit.Until(t, 10*time.Second, "the e-mail", func() bool { return len(n.notify.messages()) == 1 })
	testkit.Until(t, 10*time.Second, "the webhook given up on", func() bool {
		return strings.HasPrefix(n.canary(t, id).NewestFirst()[0].Comment, "Notification to broken failed (late): ")
	})
	if got := len(rc.events()); got != DefaultMaxRefusals {
		t.Fatalf("%d attempts, want %d", got, DefaultMaxRefusals)
	}
	if len(n.f.Outbox()) != 0 {
		t.Fatalf("outbox not empty: %+v", n.f.Outbox())
	}
}

// TestASlowWebhookNeverDelaysEmail: with the webhook hanging, the e-mail still goes out.
func TestASlowWebhookNeverDelaysEmail(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	n := startNode(t)
	n.putChannel(t, fsm.Channel{Name: "slow", Kind: fsm.ChannelWebhook, URL: srv.URL, Default: true})
	lead(t, n)
	id := n.create(t, "Backup", 100*time.Millisecond, "ops@example.org")
	testkit.Until(t, 5*time.Second, "the LATE e-mail while the webhook hangs", func() bool { return len(n.notify.messages()) == 1 })
	// The RESUMED e-mail does not wait for the hanging LATE webhook (up to hookTimeout).
	n.apply(t, fsm.Command{Type: fsm.TypeUpdate, Update: &fsm.Update{ID: id, Periodicity: &fsm.Periodicity{Seconds: 3600}}})
	n.trigger(t, id)
	testkit.Until(t, hookTimeout/2, "the RESUMED e-mail while the webhook hangs", func() bool { return len(n.notify.messages()) >= 2 })
}
