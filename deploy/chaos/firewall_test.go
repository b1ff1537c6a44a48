package main

import (
	"strings"
	"testing"
)

func TestIsolationRules(t *testing.T) {
	self := &node{name: "n1", raftPort: 20001, gossipPort: 20002, uid: 61001}
	peers := []*node{{raftPort: 20011, gossipPort: 20012}, {raftPort: 20021, gossipPort: 20022}}
	var got []string
	for _, r := range isolationRules(self, peers) {
		got = append(got, strings.Join(r, " "))
	}
	want := []string{
		"-o lo -p tcp --dport 20001", "-o lo -p tcp --sport 20001",
		"-o lo -p udp --dport 20001", "-o lo -p udp --sport 20001",
		"-o lo -p tcp --dport 20002", "-o lo -p tcp --sport 20002",
		"-o lo -p udp --dport 20002", "-o lo -p udp --sport 20002",
		"-o lo -p tcp -m owner --uid-owner 61001 -m multiport --dports 20011,20012,20021,20022",
		"-o lo -p udp -m owner --uid-owner 61001 -m multiport --dports 20011,20012,20021,20022",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	fw := &firewall{comment: "coal-mine-chaos-42"}
	args := strings.Join(fw.ruleArgs("-D", []string{"-o", "lo"}), " ")
	if args != "-D OUTPUT -o lo -m comment --comment coal-mine-chaos-42 -j DROP" {
		t.Fatalf("rule args = %q", args)
	}
}
