package main

import (
	"net"
	"strings"
	"testing"
)

// The channel commands in-process against the recording fake server: what goes on the
// wire, what the user sees. TestIntegrationChannels runs them against a real node.

const okChannel = `{"status": "ok", "channel": {"name": "ops-hook", "kind": "webhook", "url": "https://hooks.example.com/T0/s3cret",
 "method": "PUT", "headers": ["Authorization: Bearer tok", "X-Env: prod"], "body": "{{.Summary}}", "default": true, "admin": true}}`

func TestChannelQueries(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"create webhook with everything",
			[]string{"channel", "create", "--name", "ops-hook", "--kind", "webhook", "--url", "https://h/x", "--method", "PUT",
				"--header", "A: 1", "--header", "B: 2", "--body", "{{.Summary}}", "--default", "--admin"},
			"/coal-mine/v1/channel/create?admin=true&auth_key=k&body=%7B%7B.Summary%7D%7D&default=true&header=A%3A+1&header=B%3A+2&kind=webhook&method=PUT&name=ops-hook&url=https%3A%2F%2Fh%2Fx"},
		{"create sends no flag that was not given",
			[]string{"channel", "create", "--name", "team", "--kind", "slack", "--url", "https://hooks.slack.com/x"},
			"/coal-mine/v1/channel/create?auth_key=k&kind=slack&name=team&url=https%3A%2F%2Fhooks.slack.com%2Fx"},
		{"create email with several addresses",
			[]string{"channel", "create", "--name", "mail", "--kind", "email", "--email", "a@example.com", "--email", "b@example.com"},
			"/coal-mine/v1/channel/create?auth_key=k&email=a%40example.com&email=b%40example.com&kind=email&name=mail"},
		{"create pagerduty",
			[]string{"channel", "create", "--name", "pager", "--kind", "pagerduty", "--routing-key", "RK", "--admin"},
			"/coal-mine/v1/channel/create?admin=true&auth_key=k&kind=pagerduty&name=pager&routing_key=RK"},
		{"update sends only the flags given",
			[]string{"channel", "update", "--name", "ops-hook", "--header", "A: 3"},
			"/coal-mine/v1/channel/update?auth_key=k&header=A%3A+3&name=ops-hook"},
		{"update turns a mark off",
			[]string{"channel", "update", "--name", "ops-hook", "--default=false"},
			"/coal-mine/v1/channel/update?auth_key=k&default=false&name=ops-hook"},
		{"update clears the headers and sets an empty body",
			[]string{"channel", "update", "--name", "ops-hook", "--header", "-", "--body", ""},
			"/coal-mine/v1/channel/update?auth_key=k&body=&header=-&name=ops-hook"},
		{"update with a name only", []string{"channel", "update", "--name", "ops-hook"},
			"/coal-mine/v1/channel/update?auth_key=k&name=ops-hook"},
		{"get", []string{"channel", "get", "--name", "ops-hook"}, "/coal-mine/v1/channel/get?auth_key=k&name=ops-hook"},
		{"list", []string{"channel", "list"}, "/coal-mine/v1/channel/list?auth_key=k"},
		{"delete", []string{"channel", "delete", "--name", "ops-hook"}, "/coal-mine/v1/channel/delete?auth_key=k&name=ops-hook"},
		{"test", []string{"channel", "test", "--name", "ops-hook"}, "/coal-mine/v1/channel/test?auth_key=k&name=ops-hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, func(recordedRequest) (int, string) { return 200, okChannel })
			env := newCLIEnv(t)
			code, _, stderr := env.run("", append([]string{"--host", srv.URL, "--auth-key", "k"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := srv.calls(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestChannelUsageErrors(t *testing.T) {
	srv := newFakeServer(t, func(recordedRequest) (int, string) { return 200, okChannel })
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"create without a kind", []string{"channel", "create", "--name", "x", "--url", "https://h/x"}, `required flag(s) "kind" not set`},
		{"create without a name", []string{"channel", "create", "--kind", "slack"}, `required flag(s) "name" not set`},
		{"update without a name", []string{"channel", "update", "--default"}, `required flag(s) "name" not set`},
		{"get without a name", []string{"channel", "get"}, `required flag(s) "name" not set`},
		{"test without a name", []string{"channel", "test"}, `required flag(s) "name" not set`},
		{"delete with an argument", []string{"channel", "delete", "ops-hook"}, `unknown command "ops-hook"`},
		{"list with a flag of create", []string{"channel", "list", "--kind", "slack"}, "unknown flag: --kind"},
		{"get with a setting", []string{"channel", "get", "--name", "x", "--url", "https://h/x"}, "unknown flag: --url"},
		{"a mark that is not a boolean", []string{"channel", "update", "--name", "x", "--default=maybe"}, `invalid argument "maybe" for "--default"`},
		{"the API's spelling of routing-key", []string{"channel", "create", "--name", "p", "--kind", "pagerduty", "--routing_key", "RK"}, "unknown flag: --routing_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCLIEnv(t)
			code, stdout, stderr := env.run("", append([]string{"--host", srv.URL}, tt.args...)...)
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tt.want)
			}
		})
	}
	if calls := srv.calls(); len(calls) != 0 {
		t.Errorf("usage errors sent requests: %q", calls)
	}
}

// TestChannelServerErrors: what the server refuses is shown as it said it, exit 1.
func TestChannelServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		reply  string
		args   []string
		want   string
	}{
		{"bad kind", 400, `{"status": "error", "error": "kind must be email, webhook, slack or pagerduty"}`,
			[]string{"channel", "create", "--name", "sms", "--kind", "sms"},
			"400 Bad Request\nkind must be email, webhook, slack or pagerduty\n"},
		{"no such channel", 404, `{"status": "error", "error": "channel not found: nope"}`,
			[]string{"channel", "get", "--name", "nope"}, "404 Not Found\nchannel not found: nope\n"},
		{"far end failed", 502, `{"status": "error", "error": "test message to ops-hook failed: 500 from the far end"}`,
			[]string{"channel", "test", "--name", "ops-hook"}, "502 Bad Gateway\ntest message to ops-hook failed: 500 from the far end\n"},
		{"no key", 401, `{"status": "error", "error": "authentication required"}`,
			[]string{"channel", "list"}, "401 Unauthorized\nauthentication required\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, func(recordedRequest) (int, string) { return tt.status, tt.reply })
			for _, mode := range []string{"--json", "--human"} {
				env := newCLIEnv(t)
				code, stdout, stderr := env.run("", append([]string{"--host", srv.URL, mode}, tt.args...)...)
				if code != exitFailure || stdout != "" || stderr != tt.want {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", mode, code, stdout, stderr, tt.want)
				}
			}
		})
	}
}

func TestChannelOutput(t *testing.T) {
	replies := map[string]string{
		"/coal-mine/v1/channel/get":    okChannel,
		"/coal-mine/v1/channel/create": `{"status": "ok", "channel": {"name": "mail", "kind": "email", "emails": ["a@example.com", "b@example.com"]}}`,
		"/coal-mine/v1/channel/list": `{"status": "ok", "channels": [{"name": "ops-hook", "kind": "webhook", "url": "https://h/x", "default": true, "admin": true},
			{"name": "pager", "kind": "pagerduty", "routing_key": "RK"}]}`,
		"/coal-mine/v1/channel/test":   `{"status": "ok", "response": {"status": 202, "body": "accepted\n"}}`,
		"/coal-mine/v1/channel/delete": `{"status": "ok"}`,
	}
	srv := newFakeServer(t, func(r recordedRequest) (int, string) { return 200, replies[r.Path] })
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--human", "channel", "get", "--name", "ops-hook"}, "ops-hook (webhook)\n" +
			"  url:         https://hooks.example.com/T0/s3cret\n" +
			"  method:      PUT\n" +
			"  header:      Authorization: Bearer tok\n" +
			"  header:      X-Env: prod\n" +
			"  body:        {{.Summary}}\n" +
			"  flags:       default,admin\n"},
		{[]string{"--human", "channel", "create", "--name", "mail", "--kind", "email", "--email", "a@example.com"},
			"mail (email)\n  e-mail:      a@example.com, b@example.com\n"},
		{[]string{"--human", "channel", "list"}, "ops-hook                 webhook    default,admin\npager                    pagerduty  \n"},
		{[]string{"--human", "channel", "test", "--name", "ops-hook"}, "Sent. The far end answered 202: accepted\n"},
		{[]string{"--human", "channel", "delete", "--name", "ops-hook"}, "Deleted.\n"},
		{[]string{"--json", "channel", "test", "--name", "ops-hook"},
			"{\n  \"status\": \"ok\",\n  \"response\": {\n    \"status\": 202,\n    \"body\": \"accepted\\n\"\n  }\n}\n"},
		// Not a terminal and no --human: the server's JSON, for scripts.
		{[]string{"channel", "delete", "--name", "ops-hook"}, "{\n  \"status\": \"ok\"\n}\n"},
	}
	for _, tt := range tests {
		env := newCLIEnv(t)
		code, stdout, stderr := env.run("", append([]string{"--host", srv.URL}, tt.args...)...)
		if code != 0 || stdout != tt.want {
			t.Errorf("%q: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", tt.args, code, stderr, stdout, tt.want)
		}
	}

	empty := newFakeServer(t, func(recordedRequest) (int, string) { return 200, `{"status": "ok", "channels": []}` })
	if code, stdout, _ := newCLIEnv(t).run("", "--host", empty.URL, "--human", "channel", "list"); code != 0 || stdout != "No channels.\n" {
		t.Errorf("empty list: exit %d, %q", code, stdout)
	}
}

// TestChannelSecretsNotEchoed: when the server cannot be reached, the error names the
// request without its query: no auth key, webhook URL, header or routing key.
func TestChannelSecretsNotEchoed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	env := newCLIEnv(t)
	for _, args := range [][]string{
		{"channel", "create", "--name", "x", "--kind", "webhook", "--url", "https://hooks.example.com/URLSECRET",
			"--header", "Authorization: Bearer HEADERSECRET"},
		{"channel", "update", "--name", "x", "--routing-key", "ROUTINGSECRET"},
		{"channel", "list"},
	} {
		code, stdout, stderr := env.run("", append([]string{"--host", "http://" + addr, "--auth-key", "AUTHSECRET"}, args...)...)
		if code != exitFailure || stdout != "" || !strings.Contains(stderr, "/coal-mine/v1/channel/"+args[1]) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		for _, secret := range []string{"AUTHSECRET", "URLSECRET", "HEADERSECRET", "ROUTINGSECRET", "auth_key"} {
			if strings.Contains(stderr, secret) {
				t.Errorf("%q: stderr shows %s: %q", args, secret, stderr)
			}
		}
	}
}
