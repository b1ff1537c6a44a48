package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// apiReply is the part of a v1 API answer the forms need.
type apiReply struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Canary *struct {
		ID string `json:"id"`
	} `json:"canary"`
}

// call sends one v1 API command in-process with the session's key, as a client would:
// the API checks it, takes it to the leader and commits it. It returns the API's
// message for a refused command.
func (u *ui) call(c *gin.Context, path string, params url.Values) (apiReply, error) {
	if key := u.key(c); key != "" {
		params.Set("auth_key", key)
	}
	req, err := http.NewRequestWithContext(c.Request.Context(), http.MethodPost, path+"?"+params.Encode(), nil)
	if err != nil {
		return apiReply{}, err
	}
	req.RemoteAddr = c.Request.RemoteAddr
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	u.cfg.API.ServeHTTP(w, req)
	var reply apiReply
	if err := json.Unmarshal(w.body.Bytes(), &reply); err != nil {
		return apiReply{}, fmt.Errorf("the API answered %d without JSON", w.status)
	}
	if reply.Status != "ok" {
		if reply.Error == "" {
			reply.Error = http.StatusText(w.status)
		}
		return reply, fmt.Errorf("%s", reply.Error)
	}
	return reply, nil
}

// recorder is the response of an in-process API call.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// canaryForm is the create and edit form's fields.
type canaryForm struct {
	ID, Name, Periodicity, Cron, TZ, Grace, MaxRuntime, Renotify, Emails, Description string
	AllChannels                                                                       []*fsm.Channel
	Chosen                                                                            map[string]bool
}

func seconds(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func (u *ui) formOf(ca *fsm.Canary) canaryForm {
	f := canaryForm{AllChannels: u.cfg.Store.Channels(), Chosen: map[string]bool{}}
	if ca == nil {
		return f
	}
	f.ID, f.Name, f.Description, f.Emails = ca.ID, ca.Name, ca.Description, strings.Join(ca.Emails, ", ")
	if !ca.Periodicity.IsSchedule() && ca.Periodicity.Seconds > 0 {
		f.Periodicity = strconv.FormatFloat(ca.Periodicity.Seconds, 'f', -1, 64)
	} else if ca.Periodicity.IsSchedule() {
		f.Periodicity = ca.Periodicity.Schedule
	}
	if j := ca.Job; j != nil {
		f.Cron, f.TZ, f.Grace, f.MaxRuntime, f.Renotify = j.Cron, j.TZ, seconds(j.Grace), seconds(j.MaxRuntime), seconds(j.Renotify)
		for _, ch := range j.Channels {
			f.Chosen[ch] = true
		}
	}
	return f
}

// formParams turns the form into API parameters. On an edit, an emptied field clears
// the setting (0, or '-' for channels); on a create it is left out.
func formParams(c *gin.Context, edit bool) url.Values {
	v := url.Values{}
	for _, name := range []string{"name", "description", "periodicity", "cron", "tz", "grace", "max_runtime", "renotify"} {
		value := strings.TrimSpace(c.PostForm(name))
		switch {
		case value != "":
			v.Set(name, value)
		case edit && (name == "grace" || name == "max_runtime" || name == "renotify"):
			v.Set(name, "0")
		case edit && name == "description":
			v.Set(name, "")
		}
	}
	if v.Has("cron") {
		v.Del("periodicity")
	}
	for _, e := range strings.FieldsFunc(c.PostForm("emails"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		v.Add("email", e)
	}
	if edit && !v.Has("email") {
		v.Set("email", "-")
	}
	channels := c.PostFormArray("channel")
	for _, ch := range channels {
		v.Add("channel", ch)
	}
	if edit && len(channels) == 0 {
		v.Set("channel", "-")
	}
	return v
}

func (u *ui) newForm(c *gin.Context) {
	u.render(c, http.StatusOK, "form", page{Title: "New canary", Data: u.formOf(nil)})
}

func (u *ui) create(c *gin.Context) {
	reply, err := u.call(c, "/coal-mine/v1/canary/create", formParams(c, false))
	if err != nil || reply.Canary == nil {
		f := u.formOf(nil)
		f.Name, f.Periodicity, f.Cron, f.TZ = c.PostForm("name"), c.PostForm("periodicity"), c.PostForm("cron"), c.PostForm("tz")
		f.Grace, f.MaxRuntime, f.Renotify = c.PostForm("grace"), c.PostForm("max_runtime"), c.PostForm("renotify")
		f.Emails, f.Description = c.PostForm("emails"), c.PostForm("description")
		u.render(c, http.StatusBadRequest, "form", page{Title: "New canary", Error: errText(err), Data: f})
		return
	}
	c.Redirect(http.StatusSeeOther, "/ui/canary/"+reply.Canary.ID+"?notice=created")
}

func errText(err error) string {
	if err == nil {
		return "The API gave no canary back."
	}
	return err.Error()
}

func (u *ui) editForm(c *gin.Context) {
	ca, err := u.cfg.Store.Get(c.Param("id"))
	if err != nil {
		u.fail(c, http.StatusNotFound, "No canary with that id.")
		return
	}
	u.render(c, http.StatusOK, "form", page{Title: "Edit " + ca.Name, Data: u.formOf(ca)})
}

func (u *ui) update(c *gin.Context) {
	id := c.Param("id")
	params := formParams(c, true)
	params.Set("id", id)
	if _, err := u.call(c, "/coal-mine/v1/canary/update", params); err != nil {
		ca, gerr := u.cfg.Store.Get(id)
		if gerr != nil {
			u.fail(c, http.StatusNotFound, "No canary with that id.")
			return
		}
		u.render(c, http.StatusBadRequest, "form", page{Title: "Edit " + ca.Name, Error: err.Error(), Data: u.formOf(ca)})
		return
	}
	c.Redirect(http.StatusSeeOther, "/ui/canary/"+id+"?notice=saved")
}

func (u *ui) confirmDelete(c *gin.Context) {
	ca, err := u.cfg.Store.Get(c.Param("id"))
	if err != nil {
		u.fail(c, http.StatusNotFound, "No canary with that id.")
		return
	}
	u.render(c, http.StatusOK, "confirm", page{Title: "Delete " + ca.Name, Data: map[string]string{
		"Name": ca.Name, "Action": "/ui/canary/" + ca.ID + "/delete", "Back": "/ui/canary/" + ca.ID,
		"What": "The canary, its history and its runs go away on every node. Jobs that still ping its URL get 404."}})
}

func (u *ui) confirmDeleteChannel(c *gin.Context) {
	name := c.Param("name")
	if _, ok := u.channel(name); !ok {
		u.fail(c, http.StatusNotFound, "No channel with that name.")
		return
	}
	u.render(c, http.StatusOK, "confirm", page{Title: "Delete " + name, Data: map[string]string{
		"Name": "the channel " + name, "Action": "/ui/channels/" + name + "/delete", "Back": "/ui/channels",
		"What": "Its events stop going there. The server refuses while a canary still names it."}})
}

// act is a canary's buttons: trigger, pause, unpause and delete (confirmed first).
func (u *ui) act(c *gin.Context) {
	id, action := c.Param("id"), c.Param("action")
	params := url.Values{"id": {id}}
	switch action {
	case "trigger":
		if comment := strings.TrimSpace(c.PostForm("comment")); comment != "" {
			params.Set("comment", comment)
		}
	case "pause":
		if until := strings.TrimSpace(c.PostForm("until")); until != "" {
			t, err := pauseEnd(until)
			if err != nil {
				u.fail(c, http.StatusBadRequest, "until must be a date and time, like 2026-12-24T18:00.")
				return
			}
			params.Set("until", t.UTC().Format(time.RFC3339))
		}
	case "unpause", "delete":
	default:
		u.fail(c, http.StatusNotFound, "No such action.")
		return
	}
	if _, err := u.call(c, "/coal-mine/v1/canary/"+action, params); err != nil {
		u.fail(c, http.StatusBadRequest, err.Error())
		return
	}
	if action == "delete" {
		c.Redirect(http.StatusSeeOther, "/ui/?notice=deleted")
		return
	}
	c.Redirect(http.StatusSeeOther, "/ui/canary/"+id+"?notice="+action)
}

// pauseEnd reads the pause form's end: an RFC 3339 time (the script turns the
// browser's local time into one), or datetime-local's zoneless form, read as UTC as
// the form says when the script does not run.
func pauseEnd(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04", v)
}

// channelRow is a channel as the list shows it: where it goes without its secrets.
type channelRow struct {
	Name, Kind, Target string
	Default, Admin     bool
}

func (u *ui) channels(c *gin.Context) { u.showChannels(c, http.StatusOK, "") }

// showChannels renders the channel list, with the API's message for a refused change.
func (u *ui) showChannels(c *gin.Context, status int, failure string) {
	var rows []channelRow
	for _, ch := range u.cfg.Store.Channels() {
		rows = append(rows, channelRow{Name: ch.Name, Kind: ch.Kind, Target: target(ch), Default: ch.Default, Admin: ch.Admin})
	}
	u.render(c, status, "channels", page{Title: "Channels", Notice: notice(c), Error: failure,
		Data: map[string]any{"Channels": rows}})
}

// target shows where a channel sends without what makes it a secret: a URL's scheme
// and host only, never a routing key.
func target(ch *fsm.Channel) string {
	switch {
	case ch.Kind == fsm.ChannelEmail:
		return strings.Join(ch.Emails, ", ")
	case ch.URL != "":
		if u, err := url.Parse(ch.URL); err == nil {
			return u.Scheme + "://" + u.Host + "/…"
		}
	case ch.Kind == fsm.ChannelPagerDuty:
		return "PagerDuty Events API"
	}
	return ""
}

func (u *ui) createChannel(c *gin.Context) {
	v := url.Values{}
	for _, name := range []string{"name", "kind", "url", "routing_key", "default", "admin"} {
		if value := strings.TrimSpace(c.PostForm(name)); value != "" {
			v.Set(name, value)
		}
	}
	for _, e := range strings.FieldsFunc(c.PostForm("emails"), func(r rune) bool { return r == ',' || r == ' ' }) {
		v.Add("email", e)
	}
	if _, err := u.call(c, "/coal-mine/v1/channel/create", v); err != nil {
		u.showChannels(c, http.StatusBadRequest, err.Error())
		return
	}
	c.Redirect(http.StatusSeeOther, "/ui/channels?notice=channel-created")
}

// channel finds a channel by name in the node's state.
func (u *ui) channel(name string) (*fsm.Channel, bool) {
	channels := u.cfg.Store.Channels()
	i := slices.IndexFunc(channels, func(ch *fsm.Channel) bool { return ch.Name == name })
	if i < 0 {
		return nil, false
	}
	return channels[i], true
}

// editChannel shows a channel's settings for change. Its URL and routing key are
// secrets, as on the list: the form shows where they point, never them, and leaves
// them as they are unless a new one is typed in.
func (u *ui) editChannel(c *gin.Context) { u.showChannel(c, http.StatusOK, "") }

func (u *ui) showChannel(c *gin.Context, status int, failure string) {
	ch, ok := u.channel(c.Param("name"))
	if !ok {
		u.fail(c, http.StatusNotFound, "No channel with that name.")
		return
	}
	u.render(c, status, "channel", page{Title: "Edit " + ch.Name, Error: failure, Data: map[string]any{
		"Name": ch.Name, "Kind": ch.Kind, "Target": target(ch), "Default": ch.Default, "Admin": ch.Admin,
		"HasURL":    ch.Kind == fsm.ChannelWebhook || ch.Kind == fsm.ChannelSlack,
		"HasKey":    ch.Kind == fsm.ChannelPagerDuty,
		"HasEmails": ch.Kind == fsm.ChannelEmail, "Emails": strings.Join(ch.Emails, ", "),
	}})
}

// updateChannel sends what the form changes to channel/update: both flags always (an
// unticked box is a false), a URL or routing key only when one was typed in.
func (u *ui) updateChannel(c *gin.Context) {
	name := c.Param("name")
	v := url.Values{"name": {name}, "default": {"false"}, "admin": {"false"}}
	for _, flag := range []string{"default", "admin"} {
		if c.PostForm(flag) == "true" {
			v.Set(flag, "true")
		}
	}
	for _, secret := range []string{"url", "routing_key"} {
		if value := strings.TrimSpace(c.PostForm(secret)); value != "" {
			v.Set(secret, value)
		}
	}
	if emails, given := c.GetPostForm("emails"); given {
		list := strings.FieldsFunc(emails, func(r rune) bool { return r == ',' || r == ' ' })
		if len(list) == 0 {
			list = []string{"-"} // the API's "none", which it refuses for an email channel
		}
		v["email"] = list
	}
	if _, err := u.call(c, "/coal-mine/v1/channel/update", v); err != nil {
		u.showChannel(c, http.StatusBadRequest, err.Error())
		return
	}
	c.Redirect(http.StatusSeeOther, "/ui/channels?notice=channel-saved")
}

func (u *ui) deleteChannel(c *gin.Context) {
	if _, err := u.call(c, "/coal-mine/v1/channel/delete", url.Values{"name": {c.Param("name")}}); err != nil {
		u.showChannels(c, http.StatusBadRequest, err.Error())
		return
	}
	c.Redirect(http.StatusSeeOther, "/ui/channels?notice=channel-deleted")
}

// notices are what a redirect after a change may say: fixed texts, so that a link can
// not put words of its own on the page.
var notices = map[string]string{
	"created": "Created.", "saved": "Saved.", "trigger": "Triggered.", "pause": "Paused.",
	"unpause": "Unpaused.", "deleted": "Deleted.", "channel-created": "Channel created.",
	"channel-deleted": "Channel deleted.", "channel-saved": "Channel saved.",
}

func notice(c *gin.Context) string { return notices[c.Query("notice")] }
