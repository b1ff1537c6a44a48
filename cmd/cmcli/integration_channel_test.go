package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestIntegrationChannels: the channel commands against a real node with an auth key,
// a webhook receiver on the far end.
func TestIntegrationChannels(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		tokens = append(tokens, r.Header.Get("X-Token"))
		mu.Unlock()
		io.WriteString(w, "got it")
	}))
	defer receiver.Close()
	srv := startSingleNode(t, "s3cret")
	cli := newCLIRunner(t)
	keyed := func(args ...string) []string { return serverArgs(srv, append(args, "--auth-key", "s3cret")...) }
	channelOf := func(out map[string]any) map[string]any {
		t.Helper()
		ch, ok := out["channel"].(map[string]any)
		if !ok {
			t.Fatalf("no channel in %v", out)
		}
		return ch
	}

	created := channelOf(cli.ok(keyed("channel", "create", "--name", "ops-hook", "--kind", "webhook", "--url", receiver.URL, "--default")...))
	if created["name"] != "ops-hook" || created["kind"] != "webhook" || created["default"] != true {
		t.Fatalf("created %v", created)
	}
	// update sends only the flags given: the channel stays a default one.
	updated := channelOf(cli.ok(keyed("channel", "update", "--name", "ops-hook", "--header", "X-Token: abc")...))
	if updated["default"] != true || updated["url"] != receiver.URL || len(updated["headers"].([]any)) != 1 {
		t.Fatalf("after update %v", updated)
	}
	if got := channelOf(cli.ok(keyed("channel", "get", "--name", "ops-hook")...)); got["headers"].([]any)[0] != "X-Token: abc" {
		t.Errorf("get: %v", got)
	}
	list := cli.ok(keyed("channel", "list")...)["channels"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "ops-hook" {
		t.Errorf("list: %v", list)
	}

	test := cli.ok(keyed("channel", "test", "--name", "ops-hook")...)
	if resp := test["response"].(map[string]any); resp["status"] != float64(200) || resp["body"] != "got it" {
		t.Errorf("test: %v", test)
	}
	if res := cli.run(keyed("--human", "channel", "test", "--name", "ops-hook")...); res.code != 0 || res.stdout != "Sent. The far end answered 200: got it\n" {
		t.Errorf("test, readable: %s", res)
	}
	mu.Lock()
	if len(tokens) != 2 || tokens[0] != "abc" {
		t.Errorf("the receiver got X-Token %q, want abc twice", tokens)
	}
	mu.Unlock()
	if res := cli.run(keyed("--human", "channel", "list")...); res.code != 0 || !strings.Contains(res.stdout, "ops-hook") || !strings.Contains(res.stdout, "default") {
		t.Errorf("list, readable: %s", res)
	}

	// update changes only what it is given: the headers and the URL stay.
	if got := channelOf(cli.ok(keyed("channel", "update", "--name", "ops-hook", "--default=false", "--method", "PUT")...)); got["default"] == true ||
		got["method"] != "PUT" || got["url"] != receiver.URL || fmt.Sprint(got["headers"]) != "[X-Token: abc]" {
		t.Errorf("after a second update %v", got)
	}

	// A far end that cannot be reached: the server's reason, exit 1.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	cli.ok(keyed("channel", "create", "--name", "gone", "--kind", "slack", "--url", gone.URL)...)
	cli.fails(1, "502 Bad Gateway\ntest message to gone failed", keyed("channel", "test", "--name", "gone")...)
	cli.ok(keyed("channel", "delete", "--name", "gone")...)

	res := cli.fails(1, "400 Bad Request\nkind must be email, webhook, slack or pagerduty", keyed("channel", "create", "--name", "sms", "--kind", "sms")...)
	if res.stdout != "" {
		t.Errorf("a refused create printed %q", res.stdout)
	}
	cli.fails(1, "channel not found: sms", keyed("channel", "get", "--name", "sms")...)
	cli.fails(2, `required flag(s) "kind" not set`, keyed("channel", "create", "--name", "sms")...)
	cli.fails(1, "401", serverArgs(srv, "channel", "list")...)
	cli.ok(keyed("channel", "delete", "--name", "ops-hook")...)
	if list := cli.ok(keyed("channel", "list")...)["channels"]; list != nil && len(list.([]any)) != 0 {
		t.Errorf("after delete: %v", list)
	}
}
