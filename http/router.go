package http

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// Paths of the API. The v1 canary commands keep the original's URLs.
const (
	canaryPrefix  = "/coal-mine/v1/canary/"
	clusterPrefix = "/coal-mine/v1/cluster/"
)

// server holds what every handler needs.
type server struct {
	authKey         string
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
}

// NewHandler builds the whole router: the v1 API, the short trigger URL, the cluster
// endpoints, /healthz, /readyz and /metrics.
func NewHandler(cfg Config) http.Handler {
	cfg.setDefaults()
	s := &server{
		authKey:         cfg.AuthKey,
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
	}
	return s.routes()
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
	getPost(canaryPrefix+"create", s.api(true, s.create))
	getPost(canaryPrefix+"delete", s.api(true, s.delete))
	getPost(canaryPrefix+"update", s.api(true, s.update))
	getPost(canaryPrefix+"get", s.api(true, s.get))
	getPost(canaryPrefix+"list", s.api(true, s.list))
	getPost(canaryPrefix+"trigger", s.api(false, s.trigger))
	getPost(canaryPrefix+"pause", s.api(true, s.pause))
	getPost(canaryPrefix+"unpause", s.api(true, s.unpause))
	r.POST(canaryPrefix+"import", s.api(true, s.importCanaries))
	getPost("/:id", s.shortTrigger)

	r.GET(clusterPrefix+"status", s.api(true, s.clusterStatus))
	getPost(clusterPrefix+"remove-peer", s.api(true, s.removePeer))
	getPost(clusterPrefix+"transfer-leader", s.api(true, s.transferLeader))
	r.GET(clusterPrefix+"snapshot", s.api(true, s.backup))
	r.POST(clusterPrefix+"snapshot", s.api(true, s.restore))

	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(m, "/healthz", s.healthz)
		r.Handle(m, "/readyz", s.readyz)
	}
	r.GET("/metrics", gin.WrapH(s.metrics.handler))
	return r
}

// api parses the query string once, checks the auth key when the command needs it,
// and removes auth_key so that the parameter checks never see it (a server without a
// key accepts and ignores one).
func (s *server) api(auth bool, h func(*gin.Context, *params)) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := parseQuery(c.Request.URL.RawQuery)
		if auth && s.authKey != "" {
			key, _ := p.first("auth_key")
			if subtle.ConstantTimeCompare([]byte(key), []byte(s.authKey)) != 1 {
				s.writeError(c, http.StatusUnauthorized, msgUnauthorized)
				return
			}
		}
		p.remove("auth_key")
		h(c, p)
	}
}

// shortTrigger is the original's special case: /<8 lower-case letters> triggers the
// canary with that id, any comment in the query string, no auth key.
func (s *server) shortTrigger(c *gin.Context) {
	id := c.Param("id")
	if !fsm.ValidID(id) {
		s.writeError(c, http.StatusNotFound, msgNotFound)
		return
	}
	s.api(false, func(c *gin.Context, p *params) {
		// Appended last, as the original appends id=... to the query string, so the
		// id in the path wins over one in the query.
		p.add("id", id)
		s.trigger(c, p)
	})(c)
}

func (s *server) healthz(c *gin.Context) {
	s.write(c, okReply(okBody))
}

func (s *server) readyz(c *gin.Context) {
	if !s.reads.Ready() {
		s.writeError(c, http.StatusServiceUnavailable, "not ready: no leader known, or committed entries not yet applied")
		return
	}
	s.write(c, okReply(okBody))
}
