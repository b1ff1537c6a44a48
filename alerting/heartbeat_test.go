package alerting

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/coal-mine/coal-mine/fsm"
)

// TestHeartbeatOnlyWhileLeading: the leader pings the outside switch on its interval,
// stops when it loses leadership, and never logs the URL's secret.
func TestHeartbeatOnlyWhileLeading(t *testing.T) {
	var pings atomic.Int32
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pings.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	secretURL := srv.URL + "/ping/0b8c-secret-uuid"
	n := startNode(t, func(c *Config) { c.HeartbeatURL, c.HeartbeatInterval = secretURL, 20*time.Millisecond })
	time.Sleep(50 * time.Millisecond)
	if pings.Load() != 0 {
		t.Fatal("a follower pinged")
	}
	lead(t, n)
	testkit.Eventually(t, 5*time.Second, func() error {
		if pings.Load() < 3 {
			return fmt.Errorf("%d pings", pings.Load())
		}
		return nil
	})
	failing.Store(true)
	testkit.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(n.log.String(), "heartbeat ping failed") {
			return fmt.Errorf("no failure logged")
		}
		return nil
	})
	if strings.Contains(n.log.String(), "secret") {
		t.Fatalf("the heartbeat URL's secret is in the log:\n%s", n.log.String())
	}
	n.svc.Revoke()
	stopped := pings.Load()
	time.Sleep(100 * time.Millisecond) // five intervals: a ping would show
	if pings.Load() != stopped {
		t.Fatalf("pinged after losing leadership: %d then %d", stopped, pings.Load())
	}
}

func TestMessagesLinkToTheCanary(t *testing.T) {
	n := fsm.Notification{Seq: 1, Kind: fsm.KindLate, CanaryID: "fbkvlsby", Name: "Backup"}
	body := NewMessage(n, "cm@example.org").WithLinks("https://cm.example.org/", n).Body
	for _, want := range []string{"https://cm.example.org/ui/canary/fbkvlsby", "https://cm.example.org/fbkvlsby"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	if plain := NewMessage(n, "cm@example.org"); plain.WithLinks("", n).Body != plain.Body {
		t.Error("links without a public URL")
	}
}
