package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"testing"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"
)

func TestHandler(t *testing.T) {
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	srv := httptest.NewServer(newHandler(sink))
	defer srv.Close()

	do := func(method, path string, wantStatus int) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, wantStatus)
		}
		return resp
	}
	messages := func(path string) []smtpsink.Received {
		t.Helper()
		resp := do("GET", path, http.StatusOK)
		defer resp.Body.Close()
		var got []smtpsink.Received
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	if got := messages("/messages"); len(got) != 0 {
		t.Fatalf("fresh sink lists %v", got)
	}
	do("GET", "/messages?wait=1&timeout=10ms", http.StatusGatewayTimeout)
	do("GET", "/messages?wait=x", http.StatusBadRequest)

	do("PUT", "/failing?on=true", http.StatusNoContent)
	msg := []byte("Subject: [LATE] job has not reported\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n")
	if err := smtp.SendMail(sink.Addr(), nil, "cm@example.org", []string{"ops@example.org"}, msg); err == nil {
		t.Fatal("a failing sink accepted mail")
	}
	do("PUT", "/failing?on=false", http.StatusNoContent)
	if err := smtp.SendMail(sink.Addr(), nil, "cm@example.org", []string{"ops@example.org"}, msg); err != nil {
		t.Fatal(err)
	}

	got := messages("/messages?wait=1&timeout=5s")
	if len(got) != 1 || got[0].Subject != "[LATE] job has not reported" || got[0].MessageID != "<m@x>" || got[0].To[0] != "ops@example.org" {
		t.Fatalf("messages = %+v", got)
	}
	do("DELETE", "/messages", http.StatusNoContent)
	if got := messages("/messages"); len(got) != 0 {
		t.Fatalf("after DELETE: %v", got)
	}
}
