package fsm

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func putChannel(t *testing.T, f *FSM, ch Channel, create bool) Result {
	t.Helper()
	return apply(t, f, t0, Command{Type: TypeChannelPut, ChannelPut: &ChannelPut{Channel: ch, Create: create}})
}

func TestChannelsLifecycle(t *testing.T) {
	f := New()
	hook := Channel{Name: "ops-hook", Kind: ChannelWebhook, URL: "http://hooks.example.org/x"}
	if res := putChannel(t, f, hook, true); res.Err != nil || res.Channel.Name != "ops-hook" {
		t.Fatalf("create: %+v", res)
	}
	if res := putChannel(t, f, hook, true); !errors.Is(res.Err, ErrChannelExists) {
		t.Fatalf("second create: %v", res.Err)
	}
	if res := putChannel(t, f, Channel{Name: "nope", Kind: ChannelSlack, URL: "http://x"}, false); !errors.Is(res.Err, ErrChannelNotFound) {
		t.Fatalf("update of a missing channel: %v", res.Err)
	}
	for _, bad := range []Channel{
		{Name: "Bad Name", Kind: ChannelWebhook, URL: "http://x"},
		{Name: "k", Kind: "sms"},
		{Name: "k", Kind: ChannelEmail},
		{Name: "k", Kind: ChannelWebhook},
		{Name: "k", Kind: ChannelPagerDuty},
		{Name: "k", Kind: ChannelEmail, Emails: []string{"not an address"}},
	} {
		if res := putChannel(t, f, bad, true); !errors.Is(res.Err, ErrInvalid) {
			t.Errorf("%+v: %v", bad, res.Err)
		}
	}
	chans := []string{"ops-hook"}
	res := apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Name: "a", Periodicity: Periodicity{Seconds: 60}, Settings: Settings{Channels: &chans}}})
	if res.Err != nil || !slices.Equal(res.Canary.Job.Channels, chans) {
		t.Fatalf("create with a channel: %+v", res)
	}
	missing := []string{"missing"}
	if res := apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "bbbbbbbb", Name: "b", Periodicity: Periodicity{Seconds: 60}, Settings: Settings{Channels: &missing}}}); !errors.Is(res.Err, ErrChannelNotFound) {
		t.Fatalf("create naming a missing channel: %v", res.Err)
	}
	if res := apply(t, f, t0, Command{Type: TypeChannelDelete, ChannelDelete: &ChannelDelete{Name: "ops-hook"}}); !errors.Is(res.Err, ErrChannelInUse) {
		t.Fatalf("delete in use: %v", res.Err)
	}
	none := []string{}
	if res := apply(t, f, t0, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Settings: Settings{Channels: &none}}}); res.Err != nil || res.Canary.Job != nil {
		t.Fatalf("clear channels: %+v", res)
	}
	if res := apply(t, f, t0, Command{Type: TypeChannelDelete, ChannelDelete: &ChannelDelete{Name: "ops-hook"}}); res.Err != nil {
		t.Fatalf("delete: %v", res.Err)
	}
	if len(f.Channels()) != 0 {
		t.Fatal("channel still there")
	}
}

// TestEventsGoToEachChannel: one record for the canary's addresses and one per channel
// (those it names, or else the default ones); cluster events to the admin channels.
func TestEventsGoToEachChannel(t *testing.T) {
	f := New()
	putChannel(t, f, Channel{Name: "b-default", Kind: ChannelSlack, URL: "http://slack", Default: true}, true)
	putChannel(t, f, Channel{Name: "a-default", Kind: ChannelEmail, Emails: []string{"team@example.org"}, Default: true}, true)
	putChannel(t, f, Channel{Name: "pager", Kind: ChannelPagerDuty, RoutingKey: "k", Admin: true}, true)
	create(t, f, t0, "aaaaaaaa", "defaults", 60, "me@example.org")
	pager := []string{"pager"}
	apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "bbbbbbbb", Name: "named", Periodicity: Periodicity{Seconds: 60}, Settings: Settings{Channels: &pager}}})
	for _, id := range []string{"aaaaaaaa", "bbbbbbbb"} {
		apply(t, f, t0.Add(time.Minute), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: id}})
	}
	apply(t, f, t0.Add(5*time.Minute), Command{Type: TypeOutage, Outage: &Outage{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)}})
	type rec struct {
		canary, channel string
		kind            Kind
		emails          int
	}
	var got []rec
	for _, n := range f.Outbox() {
		got = append(got, rec{n.CanaryID, n.Channel, n.Kind, len(n.Emails)})
	}
	want := []rec{
		{"aaaaaaaa", "", KindLate, 1}, {"aaaaaaaa", "a-default", KindLate, 1}, {"aaaaaaaa", "b-default", KindLate, 0},
		{"bbbbbbbb", "", KindLate, 0}, {"bbbbbbbb", "pager", KindLate, 0},
		{"", "pager", KindOutage, 0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("outbox\n%v\nwant\n%v", got, want)
	}
	g := restoredCopy(t, f)
	if len(g.Channels()) != 3 || g.Outbox()[2].Channel != "b-default" {
		t.Fatalf("restored: %d channels, %+v", len(g.Channels()), g.Outbox()[2])
	}
}
