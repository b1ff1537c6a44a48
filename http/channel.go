package http

import (
	"context"
	"net/http"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// Notification channels: replicated objects managed through the one write path like
// canaries, read from this node's state.

// channelParams are a channel's settings as query parameters.
var channelParams = []string{"name", "kind", "email", "url", "method", "header", "body", "routing_key", "default", "admin"}

type channelReply struct {
	Status  string       `json:"status"`
	Channel *fsm.Channel `json:"channel"`
}

type channelsReply struct {
	Status   string         `json:"status"`
	Channels []*fsm.Channel `json:"channels"`
}

type channelTestReply struct {
	Status   string            `json:"status"`
	Response channelTestFarEnd `json:"response"`
}

type channelTestFarEnd struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// channelOps maps /coal-mine/v1/channel/<op> to its handler.
func (s *server) channelOpsMap() map[string]func(*gin.Context, *params) {
	return map[string]func(*gin.Context, *params){
		"create": s.channelCreate, "get": s.channelGet, "list": s.channelList,
		"update": s.channelUpdate, "delete": s.channelDelete, "test": s.channelTest,
	}
}

func (s *server) channelCreate(c *gin.Context, p *params) {
	if err := p.require("name", "kind"); err != nil {
		s.fail(c, err)
		return
	}
	var ch fsm.Channel
	if err := s.applyChannelParams(&ch, p); err != nil {
		s.fail(c, err)
		return
	}
	s.putChannel(c, ch, true)
}

func (s *server) channelUpdate(c *gin.Context, p *params) {
	if err := p.require("name"); err != nil {
		s.fail(c, err)
		return
	}
	name, _ := p.last("name")
	old, err := s.store.Channel(name)
	if err != nil {
		s.write(c, errorToReply(err))
		return
	}
	// The whole channel is replaced: concurrent updates of one channel, last wins.
	ch := *old
	if err := s.applyChannelParams(&ch, p); err != nil {
		s.fail(c, err)
		return
	}
	s.putChannel(c, ch, false)
}

// applyChannelParams sets what the request gives. email, header: repeat for several;
// "-" alone clears.
func (s *server) applyChannelParams(ch *fsm.Channel, p *params) error {
	if err := p.allow(channelParams...); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		field *string
	}{{"name", &ch.Name}, {"kind", &ch.Kind}, {"url", &ch.URL}, {"method", &ch.Method}, {"body", &ch.Body}, {"routing_key", &ch.RoutingKey}} {
		if v, ok := p.last(f.name); ok {
			*f.field = v
		}
	}
	for _, f := range []struct {
		name  string
		field *[]string
	}{{"email", &ch.Emails}, {"header", &ch.Headers}} {
		if vs := p.all(f.name); len(vs) > 0 {
			if len(vs) == 1 && vs[0] == "-" {
				vs = nil
			}
			*f.field = vs
		}
	}
	for _, f := range []struct {
		name  string
		field *bool
	}{{"default", &ch.Default}, {"admin", &ch.Admin}} {
		v, present, err := p.boolean(f.name)
		if err != nil {
			return err
		}
		if present {
			*f.field = v
		}
	}
	if !fsm.ValidChannelName(ch.Name) {
		return badRequest("a channel name is 1 to 64 lower-case letters, digits, '-' or '_'")
	}
	if s.channels != nil {
		if err := s.channels.ValidateChannel(*ch); err != nil {
			return badRequest(err.Error())
		}
	}
	return nil
}

func (s *server) putChannel(c *gin.Context, ch fsm.Channel, create bool) {
	res, err := s.writer.ProposeWithin(c.Request.Context(),
		fsm.Command{Type: fsm.TypeChannelPut, ChannelPut: &fsm.ChannelPut{Channel: ch, Create: create}}, s.commitTimeout)
	s.answer(c, res, err, func(res fsm.Result) reply {
		return okReply(channelReply{Status: "ok", Channel: res.Channel})
	})
}

func (s *server) channelGet(c *gin.Context, p *params) {
	name, err := channelName(p)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.read(c, false, func() reply {
		ch, err := s.store.Channel(name)
		if err != nil {
			return errorToReply(err)
		}
		return okReply(channelReply{Status: "ok", Channel: ch})
	})
}

func (s *server) channelList(c *gin.Context, p *params) {
	if err := p.allow(); err != nil {
		s.fail(c, err)
		return
	}
	s.read(c, false, func() reply {
		list := s.store.Channels()
		if list == nil {
			list = []*fsm.Channel{}
		}
		return okReply(channelsReply{Status: "ok", Channels: list})
	})
}

func (s *server) channelDelete(c *gin.Context, p *params) {
	name, err := channelName(p)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.writer.ProposeWithin(c.Request.Context(),
		fsm.Command{Type: fsm.TypeChannelDelete, ChannelDelete: &fsm.ChannelDelete{Name: name}}, s.commitTimeout)
	s.answer(c, res, err, func(fsm.Result) reply { return okReply(okBody) })
}

// channelTest sends a test message through the channel from this node and answers
// with what the far end said: 502 when it failed.
func (s *server) channelTest(c *gin.Context, p *params) {
	name, err := channelName(p)
	if err != nil {
		s.fail(c, err)
		return
	}
	ch, err := s.store.Channel(name)
	if err != nil {
		s.write(c, errorToReply(err))
		return
	}
	if s.channels == nil {
		s.writeError(c, http.StatusNotImplemented, "this server cannot send test messages")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.commitTimeout)
	defer cancel()
	status, body, err := s.channels.TestChannel(ctx, *ch)
	if err != nil {
		s.writeError(c, http.StatusBadGateway, "test message to "+name+" failed: "+err.Error())
		return
	}
	s.write(c, okReply(channelTestReply{Status: "ok", Response: channelTestFarEnd{Status: status, Body: body}}))
}

func channelName(p *params) (string, error) {
	if err := p.allow("name"); err != nil {
		return "", err
	}
	if err := p.require("name"); err != nil {
		return "", err
	}
	name, _ := p.last("name")
	return name, nil
}
