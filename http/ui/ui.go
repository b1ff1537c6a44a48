// Package ui is coal-mine's web interface: server-rendered pages under /ui/ (html/template,
// every asset embedded, every core flow working with JavaScript off) and the status
// badges under /badge/. Pages read the node's local state; every form goes through the
// v1 API in-process, as a client would, so that a form is checked, forwarded to the
// leader and committed exactly as the API call it stands for.
package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// Store is the node's local view of the state machine (fsm.FSM).
type Store interface {
	Get(id string) (*fsm.Canary, error)
	List(fsm.Filter) ([]*fsm.Canary, bool)
	Len() int
	Channels() []*fsm.Channel
	Outbox() []fsm.Notification
}

// Config is what the interface needs.
type Config struct {
	Store Store
	// API serves the v1 API: forms are sent through it in-process.
	API http.Handler
	// AuthKey and ReadOnlyKey are the API's keys. With an auth key the interface asks
	// for a key once and keeps a signed session cookie; the read-only key gives a
	// read-only interface. Without one it is open, as the API is.
	AuthKey, ReadOnlyKey string
	// PublicBadges lets /badge/ answer without a key.
	PublicBadges bool
	// Status is the cluster's status (the object /coal-mine/v1/cluster/status shows).
	Status func() any
	// PublicURL, if set, is the base of the ping URLs the pages show; else the request's.
	PublicURL string
	Version   string
	Logger    *slog.Logger
	Now       func() time.Time
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pageSize is how many canaries a dashboard page shows: paging walks the canaries in
// id order from a cursor, so a page costs the same with a million of them.
const pageSize = 100

type ui struct {
	cfg      Config
	pages    map[string]*template.Template
	sessions sessions
}

// Register adds the interface's routes to r: /ui/... and /badge/....
func Register(r *gin.Engine, cfg Config) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u := &ui{cfg: cfg, pages: parseTemplates(), sessions: newSessions(cfg.AuthKey)}
	static, _ := fs.Sub(staticFiles, "static")
	r.StaticFS("/ui/static", http.FS(static))
	r.GET("/badge/:file", u.badge)

	g := r.Group("/ui", u.secureHeaders)
	g.GET("/login", u.loginForm)
	g.POST("/login", u.csrf, u.login)
	g.POST("/logout", u.csrf, u.logout)

	read := g.Group("", u.requireSession(false))
	read.GET("/", u.dashboard)
	read.GET("/canary/:id", u.canary)
	read.GET("/cluster", u.cluster)
	read.GET("/channels", u.channels)

	write := g.Group("", u.requireSession(true))
	write.GET("/new", u.newForm)
	write.POST("/new", u.csrf, u.create)
	write.GET("/canary/:id/edit", u.editForm)
	write.POST("/canary/:id/edit", u.csrf, u.update)
	write.GET("/canary/:id/delete", u.confirmDelete)
	write.POST("/canary/:id/:action", u.csrf, u.act)
	write.POST("/channels", u.csrf, u.createChannel)
	write.GET("/channels/:name/edit", u.editChannel)
	write.POST("/channels/:name/edit", u.csrf, u.updateChannel)
	write.GET("/channels/:name/delete", u.confirmDeleteChannel)
	write.POST("/channels/:name/delete", u.csrf, u.deleteChannel)
}

// secureHeaders keeps the pages out of frames and other sites' scripts: only the
// interface's own script and style run.
func (u *ui) secureHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}
