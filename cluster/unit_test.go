package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/storage"
	"github.com/hashicorp/memberlist"
)

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []memberMeta{
		{},
		{ID: "n1", RaftAddr: "10.0.0.1:7000", HTTPAddr: "10.0.0.1:8080", Version: "1.2.3", Expect: 3, HasState: true, Proposal: 42},
		{ID: "ünïcode", Leaving: true, Expect: 300, Proposal: 1<<64 - 1},
	}
	for _, want := range tests {
		got, err := decodeMeta(want.encode())
		if err != nil || got != want {
			t.Errorf("round trip of %+v gave %+v, %v", want, got, err)
		}
	}
}

func TestMetaDecodeRejectsDamage(t *testing.T) {
	t.Parallel()
	full := memberMeta{ID: "n1", RaftAddr: "a:1", HTTPAddr: "b:2", Version: "v"}.encode()
	for cut := 0; cut < len(full); cut++ {
		if _, err := decodeMeta(full[:cut]); err == nil {
			t.Errorf("metadata cut to %d bytes decoded", cut)
		}
	}
	wrongFormat := append([]byte{9}, full[1:]...)
	if _, err := decodeMeta(wrongFormat); err == nil {
		t.Error("unknown format decoded")
	}
	if _, err := decodeMeta(append(full, 0xff, 0xff)); err != nil {
		t.Errorf("trailing bytes (a future format's fields) rejected: %v", err)
	}
}

func TestMetaFitsMemberlistLimit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	m := memberMeta{ID: strings.Repeat("i", storage.MaxNodeIDLen), RaftAddr: long, HTTPAddr: long, Version: long, Expect: 99, Proposal: 1<<64 - 1}
	if size := len(m.encode()); size > memberlist.MetaMaxSize {
		t.Errorf("metadata with long fields is %d bytes, over memberlist's %d", size, memberlist.MetaMaxSize)
	}
}

func TestProposalHash(t *testing.T) {
	t.Parallel()
	if proposalHash([]string{"a", "b", "c"}) != proposalHash([]string{"c", "a", "b"}) {
		t.Error("hash depends on order")
	}
	if proposalHash([]string{"a", "bc"}) == proposalHash([]string{"ab", "c"}) {
		t.Error("ids run together")
	}
	if proposalHash(nil) == 0 {
		t.Error("hash 0 is reserved for no proposal")
	}
}

func TestDeadVoterToRemove(t *testing.T) {
	t.Parallel()
	now := time.Now()
	long, recent := now.Add(-time.Hour), now.Add(-time.Second)
	alive := memberInfo{State: gossipAlive}
	dead := func(since time.Time) memberInfo { return memberInfo{State: gossipDead, Since: since} }
	tests := []struct {
		name       string
		voters     []string
		states     map[string]memberInfo
		wantVictim string
		wantOK     bool
	}{
		{"all healthy", []string{"a", "b", "c"}, map[string]memberInfo{"b": alive, "c": alive}, "", false},
		{"recently dead is kept", []string{"a", "b", "c"}, map[string]memberInfo{"b": alive, "c": dead(recent)}, "", false},
		{"long dead, quorum kept", []string{"a", "b", "c"}, map[string]memberInfo{"b": alive, "c": dead(long)}, "c", true},
		{"unknown to gossip counts as dead", []string{"a", "b", "c"}, map[string]memberInfo{"b": alive, "c": {State: gossipUnknown, Since: long}}, "c", true},
		{"two of three dead: no quorum after", []string{"a", "b", "c"}, map[string]memberInfo{"b": dead(long), "c": dead(long)}, "b", false},
		{"two of five dead: lowest first", []string{"a", "b", "c", "d", "e"}, map[string]memberInfo{"b": alive, "c": alive, "d": dead(long), "e": dead(long)}, "d", true},
		{"three of five dead", []string{"a", "b", "c", "d", "e"}, map[string]memberInfo{"b": alive, "c": dead(long), "d": dead(long), "e": dead(long)}, "c", false},
		{"left is not this rule's business", []string{"a", "b", "c"}, map[string]memberInfo{"b": alive, "c": {State: gossipLeft, Since: long}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			victim, ok := deadVoterToRemove(tt.voters, "a", tt.states, now, time.Minute)
			if victim != tt.wantVictim || ok != tt.wantOK {
				t.Errorf("got (%q, %v), want (%q, %v)", victim, ok, tt.wantVictim, tt.wantOK)
			}
		})
	}
}

func TestDialableHTTPAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ http, raft, want string }{
		{":8080", "10.1.2.3:7000", "10.1.2.3:8080"},
		{"0.0.0.0:8080", "node1:7000", "node1:8080"},
		{"web.example:80", "10.1.2.3:7000", "web.example:80"},
		{"", "10.1.2.3:7000", ""},
	}
	for _, tt := range tests {
		if got := dialableHTTPAddr(tt.http, tt.raft); got != tt.want {
			t.Errorf("dialableHTTPAddr(%q, %q) = %q, want %q", tt.http, tt.raft, got, tt.want)
		}
	}
}
