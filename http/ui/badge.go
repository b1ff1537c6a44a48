package ui

import (
	"bytes"
	"crypto/subtle"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Badges: /badge/<id>.svg, a shields-style image of a canary's name and state, and
// /badge/<id>.json, the same for shields.io's endpoint badge. With an auth key they
// need a session or a key (auth_key=) unless PublicBadges is set.

var badgeColours = map[string]string{
	"up": "#1f883d", "late": "#cf222e", "failed": "#a40e26", "started": "#0969da", "paused": "#6e7781",
}

var badgeSVG = template.Must(template.New("badge").Parse(
	`<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="20" role="img" aria-label="{{.Label}}: {{.State}}">` +
		`<title>{{.Label}}: {{.State}}</title>` +
		`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
		`<clipPath id="r"><rect width="{{.Width}}" height="20" rx="3" fill="#fff"/></clipPath>` +
		`<g clip-path="url(#r)"><rect width="{{.LabelWidth}}" height="20" fill="#555"/><rect x="{{.LabelWidth}}" width="{{.StateWidth}}" height="20" fill="{{.Colour}}"/><rect width="{{.Width}}" height="20" fill="url(#s)"/></g>` +
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` +
		`<text x="{{.LabelX}}" y="14">{{.Label}}</text><text x="{{.StateX}}" y="14">{{.State}}</text></g></svg>`))

type badgeData struct {
	Label, State, Colour                          string
	Width, LabelWidth, StateWidth, LabelX, StateX int
}

// textWidth estimates the width of a text in Verdana 11px, closely enough for a badge.
func textWidth(s string) int { return utf8.RuneCountInString(s)*7 + 10 }

func (u *ui) badge(c *gin.Context) {
	file := c.Param("file")
	id, format, ok := strings.Cut(file, ".")
	if !ok || (format != "svg" && format != "json") {
		c.JSON(http.StatusNotFound, gin.H{"status": "error", "error": "a badge is /badge/<id>.svg or /badge/<id>.json"})
		return
	}
	if !u.badgeAllowed(c) {
		c.JSON(http.StatusUnauthorized, gin.H{"status": "error", "error": "badges need the auth key or the read-only key (auth_key=...), or a session"})
		return
	}
	ca, err := u.cfg.Store.Get(id)
	if err != nil {
		c.JSON(http.StatusNotFound, gin.H{"status": "error", "error": "no canary with that id"})
		return
	}
	label := ca.Name
	if utf8.RuneCountInString(label) > 40 {
		label = string([]rune(label)[:39]) + "…"
	}
	state := ca.State()
	colour := badgeColours[state]
	c.Header("Cache-Control", "no-cache, max-age=0")
	if format == "json" {
		c.JSON(http.StatusOK, gin.H{"schemaVersion": 1, "label": label, "message": state, "color": colour})
		return
	}
	d := badgeData{Label: label, State: state, Colour: colour, LabelWidth: textWidth(label), StateWidth: textWidth(state)}
	d.Width = d.LabelWidth + d.StateWidth
	d.LabelX, d.StateX = d.LabelWidth/2, d.LabelWidth+d.StateWidth/2
	var buf bytes.Buffer
	if err := badgeSVG.Execute(&buf, d); err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(http.StatusOK, "image/svg+xml; charset=utf-8", buf.Bytes())
}

func (u *ui) badgeAllowed(c *gin.Context) bool {
	if u.cfg.PublicBadges || u.sessions.open() {
		return true
	}
	if _, ok := u.roleOf(c); ok {
		return true
	}
	key := c.Query("auth_key")
	return key != "" && (subtle.ConstantTimeCompare([]byte(key), []byte(u.cfg.AuthKey)) == 1 ||
		(u.cfg.ReadOnlyKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(u.cfg.ReadOnlyKey)) == 1))
}
