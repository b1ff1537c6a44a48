package fsm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Channel is a replicated notification channel: where a canary's events go besides its
// own e-mail addresses. Its kind's settings are checked where it is created (the HTTP
// layer renders a sample event with them); Apply checks what it can without I/O.
type Channel struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Emails     []string `json:"emails,omitempty"`      // email
	URL        string   `json:"url,omitempty"`         // webhook, slack; pagerduty (optional)
	Method     string   `json:"method,omitempty"`      // webhook
	Headers    []string `json:"headers,omitempty"`     // webhook: "Name: value"
	Body       string   `json:"body,omitempty"`        // webhook: a text/template
	RoutingKey string   `json:"routing_key,omitempty"` // pagerduty
	// Default applies the channel to every canary that names none; Admin makes it
	// receive the cluster's own events (an outage).
	Default bool `json:"default,omitempty"`
	Admin   bool `json:"admin,omitempty"`
}

// Channel kinds.
const (
	ChannelEmail     = "email"
	ChannelWebhook   = "webhook"
	ChannelSlack     = "slack"
	ChannelPagerDuty = "pagerduty"
)

// Named errors of channels.
var (
	ErrChannelNotFound = errors.New("channel not found")
	ErrChannelExists   = errors.New("channel already exists")
	ErrChannelInUse    = errors.New("channel is in use")
)

// Bounds of a channel's settings.
const (
	maxChannelName  = 64
	maxChannelField = 16 * 1024
	maxChannels     = 1000
	maxHeaders      = 32
	maxCanaryChans  = 32
)

// ChannelPut creates (Create) or replaces a channel.
type ChannelPut struct {
	Channel Channel `json:"channel"`
	Create  bool    `json:"create,omitempty"`
}

// ChannelDelete removes a channel no canary names.
type ChannelDelete struct {
	Name string `json:"name"`
}

// ValidChannelName: lower-case letters, digits, '-' and '_', so it fits a URL and a
// history line as it is.
func ValidChannelName(name string) bool {
	if name == "" || len(name) > maxChannelName || name == "-" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validateChannel checks what Apply can: name, kind, sizes, addresses.
func validateChannel(c *Channel) error {
	if !ValidChannelName(c.Name) {
		return invalid("a channel name is 1 to 64 lower-case letters, digits, '-' or '_'")
	}
	switch c.Kind {
	case ChannelEmail:
		if len(c.Emails) == 0 {
			return invalid("an email channel needs at least one address")
		}
	case ChannelWebhook, ChannelSlack:
		if c.URL == "" {
			return invalid("a " + c.Kind + " channel needs a url")
		}
	case ChannelPagerDuty:
		if c.RoutingKey == "" {
			return invalid("a pagerduty channel needs a routing_key")
		}
	default:
		return invalid("kind must be email, webhook, slack or pagerduty")
	}
	if err := validateEmails(c.Emails); err != nil {
		return err
	}
	if len(c.Headers) > maxHeaders {
		return invalid(fmt.Sprintf("at most %d headers", maxHeaders))
	}
	for _, s := range append([]string{c.URL, c.Method, c.Body, c.RoutingKey}, c.Headers...) {
		if len(s) > maxChannelField || !validUTF8(s) {
			return invalid(fmt.Sprintf("channel settings must be valid UTF-8 of at most %d bytes each", maxChannelField))
		}
	}
	return nil
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }

func (f *FSM) channelPut(p *ChannelPut) Result {
	c := p.Channel
	if err := validateChannel(&c); err != nil {
		return Result{Err: err}
	}
	_, exists := f.channels[c.Name]
	switch {
	case p.Create && exists:
		return Result{Err: fmt.Errorf("%w: %s", ErrChannelExists, c.Name)}
	case !p.Create && !exists:
		return Result{Err: fmt.Errorf("%w: %s", ErrChannelNotFound, c.Name)}
	case p.Create && len(f.channels) >= maxChannels:
		return Result{Err: invalid(fmt.Sprintf("at most %d channels", maxChannels))}
	}
	c.Emails = slices.Clone(c.Emails)
	c.Headers = slices.Clone(c.Headers)
	f.channels[c.Name] = &c
	return Result{Channel: &c, Changed: true}
}

// channelDelete refuses to delete a channel a canary names: its events would silently
// stop going there.
func (f *FSM) channelDelete(d *ChannelDelete) Result {
	if _, ok := f.channels[d.Name]; !ok {
		return Result{Err: fmt.Errorf("%w: %s", ErrChannelNotFound, d.Name)}
	}
	users := 0
	f.canaries.Ascend(func(c *Canary) bool {
		if c.Job != nil && slices.Contains(c.Job.Channels, d.Name) {
			users++
		}
		return true
	})
	if users > 0 {
		return Result{Err: fmt.Errorf("%w: %d canaries name %s (give them channel=- or another channel first)", ErrChannelInUse, users, d.Name)}
	}
	delete(f.channels, d.Name)
	return Result{Changed: true}
}

// validateCanaryChannels checks the channels a canary names exist.
func (f *FSM) validateCanaryChannels(j *Job) error {
	if j == nil {
		return nil
	}
	if len(j.Channels) > maxCanaryChans {
		return invalid(fmt.Sprintf("a canary names at most %d channels", maxCanaryChans))
	}
	for _, name := range j.Channels {
		if _, ok := f.channels[name]; !ok {
			return fmt.Errorf("%w: %s", ErrChannelNotFound, name)
		}
	}
	return nil
}

// channelsFor lists, in name order, the channels a canary's events go to besides its
// own addresses: those it names, or else the default ones.
func (f *FSM) channelsFor(c *Canary) []*Channel {
	var out []*Channel
	if c.Job != nil && len(c.Job.Channels) > 0 {
		for _, name := range c.Job.Channels {
			if ch, ok := f.channels[name]; ok {
				out = append(out, ch)
			}
		}
		return out
	}
	return f.sortedChannels(func(ch *Channel) bool { return ch.Default })
}

// sortedChannels lists the channels that match, in name order (map order is random,
// and Apply must be deterministic).
func (f *FSM) sortedChannels(match func(*Channel) bool) []*Channel {
	var out []*Channel
	for _, ch := range f.channels {
		if match(ch) {
			out = append(out, ch)
		}
	}
	slices.SortFunc(out, func(a, b *Channel) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Channel returns the named channel.
func (f *FSM) Channel(name string) (*Channel, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ch, ok := f.channels[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrChannelNotFound, name)
	}
	return ch, nil
}

// Channels returns every channel, in name order.
func (f *FSM) Channels() []*Channel {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.sortedChannels(func(*Channel) bool { return true })
}
