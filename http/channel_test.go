package http

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coal-mine/coal-mine/fsm"
)

// fakeTester refuses URLs with "bad" and answers tests with what it is given.
type fakeTester struct{ tested []string }

func (f *fakeTester) ValidateChannel(ch fsm.Channel) error {
	if strings.Contains(ch.URL, "bad") {
		return errors.New("url must be http or https")
	}
	return nil
}

func (f *fakeTester) TestChannel(_ context.Context, ch fsm.Channel) (int, string, error) {
	f.tested = append(f.tested, ch.Name)
	if strings.Contains(ch.URL, "down") {
		return 0, "", errors.New("connection refused")
	}
	return 202, "accepted", nil
}

func withTester(f *fakeTester) nodeOption { return func(c *Config) { c.Channels = f } }

func TestChannelAPI(t *testing.T) {
	tester := &fakeTester{}
	n := newNode(t, nil, withAuth("k"), withTester(tester))
	call := func(op, query string) response {
		return n.get(t, channelPrefix+op+"?auth_key=k&"+query)
	}
	r := call("create", "name=ops&kind=webhook&url=http://hooks.example.org/x&header=X-A:+1&header=X-B:+2&default=true")
	expectStatus(t, r, http.StatusOK)
	ch := r.body["channel"].(map[string]any)
	if ch["name"] != "ops" || ch["default"] != true || len(ch["headers"].([]any)) != 2 {
		t.Fatalf("created %v", ch)
	}
	expectStatus(t, call("create", "name=ops&kind=webhook&url=http://x"), http.StatusBadRequest)
	expectStatus(t, call("create", "name=Bad+Name&kind=webhook&url=http://x"), http.StatusBadRequest)
	expectStatus(t, call("create", "name=b&kind=webhook&url=http://bad"), http.StatusBadRequest)
	expectStatus(t, call("create", "name=b&kind=sms"), http.StatusBadRequest)
	expectStatus(t, n.get(t, channelPrefix+"list"), http.StatusUnauthorized)

	r = call("update", "name=ops&header=-&default=false")
	expectStatus(t, r, http.StatusOK)
	if ch := r.body["channel"].(map[string]any); ch["headers"] != nil || ch["default"] != nil || ch["url"] != "http://hooks.example.org/x" {
		t.Fatalf("updated %v", ch)
	}
	expectStatus(t, call("update", "name=nope&url=http://x"), http.StatusNotFound)

	r = call("test", "name=ops")
	expectStatus(t, r, http.StatusOK)
	if resp := r.body["response"].(map[string]any); resp["status"] != 202.0 || resp["body"] != "accepted" {
		t.Fatalf("test answer %v", r.raw)
	}
	call("create", "name=down&kind=slack&url=http://down.example.org/x")
	expectStatus(t, call("test", "name=down"), http.StatusBadGateway)

	// A canary names channels; a channel in use cannot be deleted.
	r = n.get(t, canaryPrefix+"create?auth_key=k&name=job&periodicity=60&channel=ops&channel=down")
	expectStatus(t, r, http.StatusOK)
	id := r.canary()["id"].(string)
	if got := r.canary()["channels"]; len(got.([]any)) != 2 {
		t.Fatalf("canary channels %v", got)
	}
	expectStatus(t, n.get(t, canaryPrefix+"create?auth_key=k&name=job2&periodicity=60&channel=missing"), http.StatusNotFound)
	expectStatus(t, call("delete", "name=ops"), http.StatusBadRequest)
	expectStatus(t, n.get(t, canaryPrefix+"update?auth_key=k&id="+id+"&channel=-"), http.StatusOK)
	expectStatus(t, call("delete", "name=ops"), http.StatusOK)
	r = call("list", "")
	expectStatus(t, r, http.StatusOK)
	if list := r.body["channels"].([]any); len(list) != 1 || list[0].(map[string]any)["name"] != "down" {
		t.Fatalf("list %s", r.raw)
	}
	expectStatus(t, call("get", "name=ops"), http.StatusNotFound)
}
