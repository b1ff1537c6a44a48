package http

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	webui "github.com/coal-mine/coal-mine/http/ui"
	"github.com/gin-gonic/gin"
)

// Paths of the API. The v1 canary commands keep the original's URLs.
const (
	canaryPrefix  = "/coal-mine/v1/canary/"
	clusterPrefix = "/coal-mine/v1/cluster/"
	channelPrefix = "/coal-mine/v1/channel/"
)

// server holds what every handler needs.
type server struct {
	authKey         string
	readOnlyKey     string
	warnings        []string
	store           Store
	writer          Writer
	reads           Reads
	ops             Operations
	leadership      Leadership
	health          Health
	log             *slog.Logger
	now             func() time.Time
	electionWait    time.Duration
	commitTimeout   time.Duration
	maxRestoreBytes int64
	restoreStall    time.Duration
	client          *http.Client
	metrics         *metrics
	channels        ChannelTester
}

// NewHandler builds the whole router: the v1 API, the short trigger URL, the cluster
// endpoints, /healthz, /readyz and /metrics.
func NewHandler(cfg Config) http.Handler {
	cfg.setDefaults()
	s := &server{
		authKey:         cfg.AuthKey,
		readOnlyKey:     cfg.ReadOnlyKey,
		warnings:        cfg.Warnings,
		store:           cfg.Store,
		writer:          cfg.Writer,
		reads:           cfg.Cluster,
		ops:             cfg.Cluster,
		leadership:      cfg.Cluster,
		health:          cfg.Cluster,
		log:             cfg.Logger,
		now:             cfg.Now,
		electionWait:    cfg.ElectionWait,
		commitTimeout:   cfg.CommitTimeout,
		maxRestoreBytes: cfg.MaxRestoreBytes,
		restoreStall:    cfg.RestoreStall,
		client:          cfg.ForwardClient,
		metrics:         newMetrics(cfg.Registry),
		channels:        cfg.Channels,
	}
	r := s.routes()
	// The web interface: its forms go through r, the API, as a client's calls would.
	webui.Register(r, webui.Config{
		Store: cfg.Store, API: r, AuthKey: cfg.AuthKey, ReadOnlyKey: cfg.ReadOnlyKey,
		PublicBadges: cfg.PublicBadges, Status: cfg.Cluster.Status, PublicURL: cfg.PublicURL,
		Version: cfg.Version, Logger: cfg.Logger, Now: cfg.Now,
	})
	return r
}

// NewServer wraps a handler in an http.Server whose timeouts and limits keep a slow or
// huge request from holding a connection: the original server gave up after 10 seconds.
// Handlers that legitimately take longer (snapshot, import) extend their own deadlines.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderSize,
	}
}

func (s *server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// The original answers 404 for /x/, never a redirect.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.ForwardedByClientIP = false
	r.Use(s.observe, s.recover)
	r.NoRoute(func(c *gin.Context) { s.writeError(c, http.StatusNotFound, msgNotFound) })
	r.NoMethod(func(c *gin.Context) { s.writeError(c, http.StatusMethodNotAllowed, msgNotAllowed) })

	getPost := func(path string, h gin.HandlerFunc) {
		r.GET(path, h)
		r.POST(path, h)
	}
	// A browser at / goes to the web interface; anything else gets the 404 the original
	// answered there.
	getPost("/", func(c *gin.Context) {
		if c.Request.Method == http.MethodGet && strings.Contains(c.GetHeader("Accept"), "text/html") {
			c.Redirect(http.StatusFound, "/ui/")
			return
		}
		s.writeError(c, http.StatusNotFound, msgNotFound)
	})
	getPost(canaryPrefix+"create", s.api(writeAccess, s.create))
	getPost(canaryPrefix+"delete", s.api(writeAccess, s.delete))
	getPost(canaryPrefix+"update", s.api(writeAccess, s.update))
	getPost(canaryPrefix+"get", s.api(readAccess, s.get))
	getPost(canaryPrefix+"list", s.api(readAccess, s.list))
	getPost(canaryPrefix+"trigger", s.api(openAccess, s.trigger))
	getPost(canaryPrefix+"pause", s.api(writeAccess, s.pause))
	getPost(canaryPrefix+"unpause", s.api(writeAccess, s.unpause))
	r.POST(canaryPrefix+"import", s.api(writeAccess, s.importCanaries))
	getPost(canaryPrefix+"runs", s.api(readAccess, s.runs))
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
		r.Handle(m, "/:id", s.shortTrigger)
		r.Handle(m, "/:id/:signal", s.shortPing(false))
		r.Handle(m, "/ping/:id", s.shortPing(true))
		r.Handle(m, "/ping/:id/:signal", s.shortPing(true))
	}

	// Channels hold secrets (webhook URLs, routing keys): every call needs the auth key.
	for op, h := range s.channelOpsMap() {
		getPost(channelPrefix+op, s.api(writeAccess, h))
	}

	r.GET(clusterPrefix+"status", s.api(readAccess, s.clusterStatus))
	getPost(clusterPrefix+"remove-peer", s.api(writeAccess, s.removePeer))
	getPost(clusterPrefix+"transfer-leader", s.api(writeAccess, s.transferLeader))
	r.GET(clusterPrefix+"snapshot", s.api(writeAccess, s.backup)) // the whole state: not for the read-only key
	r.POST(clusterPrefix+"snapshot", s.api(writeAccess, s.restore))

	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(m, "/healthz", s.healthz)
		r.Handle(m, "/readyz", s.readyz)
	}
	r.GET("/metrics", gin.WrapH(s.metrics.handler))
	return r
}

// access is what a call needs to be let in.
type access int

const (
	openAccess  access = iota // trigger: no key, as in the original
	readAccess                // the auth key or the read-only key
	writeAccess               // the auth key
)

// api parses the query string once, checks the key the command needs, and removes
// auth_key so that the parameter checks never see it (a server without a key accepts
// and ignores one). A read-only key on a command that changes something is 403.
func (s *server) api(level access, h func(*gin.Context, *params)) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := parseQuery(c.Request.URL.RawQuery)
		if level != openAccess && s.authKey != "" {
			key, _ := p.first("auth_key")
			switch {
			case keyIs(key, s.authKey):
			case s.readOnlyKey != "" && keyIs(key, s.readOnlyKey):
				if level == writeAccess {
					s.writeError(c, http.StatusForbidden, msgReadOnly)
					return
				}
			default:
				s.writeError(c, http.StatusUnauthorized, msgUnauthorized)
				return
			}
		}
		p.remove("auth_key")
		h(c, p)
	}
}

// keyIs compares a key in constant time.
func keyIs(given, want string) bool {
	return subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}

// shortTrigger is the original's special case: /<8 lower-case letters> triggers the
// canary with that id, any comment in the query string, no auth key.
func (s *server) shortTrigger(c *gin.Context) {
	id := c.Param("id")
	if !fsm.ValidID(id) {
		s.writeError(c, http.StatusNotFound, msgNotFound)
		return
	}
	s.api(openAccess, func(c *gin.Context, p *params) {
		// Appended last, as the original appends id=... to the query string, so the
		// id in the path wins over one in the query.
		p.add("id", id)
		s.ping(c, p, pingForm{})
	})(c)
}

func (s *server) healthz(c *gin.Context) {
	s.write(c, okReply(okBody))
}

// readyzReply is /readyz's answer when the node is ready, with what is wrong with its
// settings, if anything.
type readyzReply struct {
	Status   string   `json:"status"`
	Warnings []string `json:"warnings,omitempty"`
}

func (s *server) readyz(c *gin.Context) {
	if !s.reads.Ready() {
		s.writeError(c, http.StatusServiceUnavailable, "not ready: no leader known, or committed entries not yet applied")
		return
	}
	s.write(c, okReply(readyzReply{Status: "ok", Warnings: s.warnings}))
}
