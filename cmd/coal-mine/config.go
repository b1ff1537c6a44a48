package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/ini.v1"

	"github.com/coal-mine/coal-mine/alerting"
	"github.com/coal-mine/coal-mine/cluster"
)

// configName and configDirs are the original's search path for coal-mine.ini.
const configName = "coal-mine.ini"

var configDirs = []string{".", "/etc", "/usr/local/etc"}

// Config is every setting of the daemon. Flags win over environment variables, which
// win over coal-mine.ini, which wins over the defaults.
type Config struct {
	Port              int
	Bind              string
	AuthKey           string
	ReadOnlyKey       string
	DataDir           string
	NodeID            string
	HTTPAdvertise     string
	RaftAddr          string
	RaftAdvertise     string
	GossipAddr        string
	GossipAdvertise   string
	Join              []string
	BootstrapExpect   int
	DeadServerCleanup time.Duration

	// ClusterKeys (base64, the first the primary) or a file of them prove this node a
	// member; InsecureCluster lets a node without them listen beyond loopback.
	ClusterKeys     []string
	ClusterKeyFile  string
	InsecureCluster bool
	// TLS: the API's certificate and key (HTTPS); with a CA, also the node's
	// certificate for Raft and the nodes' RPC, and, with VerifyIncoming, the CA API
	// clients' certificates must chain to.
	TLSCertFile    string
	TLSKeyFile     string
	TLSCAFile      string
	VerifyIncoming bool

	EmailSender string
	// AdminEmails receive the cluster's own events; OutageAfter is the gap without
	// writes that counts as an outage.
	AdminEmails []string
	OutageAfter time.Duration
	// PublicURL is the server as users reach it (links in messages); HeartbeatURL an
	// outside dead man's switch the leader pings every HeartbeatInterval.
	PublicURL string
	// PublicBadges serves the status badges (/badge/<id>.svg) without a key.
	PublicBadges      bool
	HeartbeatURL      string
	HeartbeatInterval time.Duration
	SMTPHost          string
	SMTPPort          int
	SMTPUsername      string
	SMTPPassword      string

	LogFile        string
	LogRotate      bool
	LogMaxSize     int64
	LogBackupCount int
	LogLevel       string

	// DebugAddr serves Go's pprof profiles; empty (the default) serves nothing.
	DebugAddr string

	// Warnings found while loading, logged once the logger exists.
	Warnings []string
	// Files is the list of INI files that were read.
	Files []string
}

func defaults() Config {
	return Config{
		Port:              8080,
		DataDir:           "./coal-mine-data",
		RaftAddr:          "127.0.0.1:8300",
		BootstrapExpect:   1,
		SMTPHost:          "localhost",
		SMTPPort:          25,
		LogMaxSize:        1048576,
		LogBackupCount:    5,
		LogLevel:          "info",
		OutageAfter:       alerting.DefaultOutageAfter,
		HeartbeatInterval: alerting.DefaultHeartbeatInterval,
	}
}

// setting is one configurable value with its three sources.
type setting struct {
	flag    string
	env     string
	section string
	key     string
	usage   string
	set     func(c *Config, v string) error
	def     func(c *Config) string
}

func settings() []setting {
	return []setting{
		{"port", "WSGI_PORT", "wsgi", "port", "HTTP port", setInt(func(c *Config) *int { return &c.Port }), func(c *Config) string { return strconv.Itoa(c.Port) }},
		{"bind", "COAL_MINE_BIND", "wsgi", "bind", "HTTP bind address (empty: all interfaces)", setString(func(c *Config) *string { return &c.Bind }), func(c *Config) string { return c.Bind }},
		{"auth-key", "WSGI_AUTH_KEY", "wsgi", "auth_key", "key required on every API call but trigger", setString(func(c *Config) *string { return &c.AuthKey }), func(*Config) string { return "" }},
		{"read-only-key", "COAL_MINE_READ_ONLY_KEY", "wsgi", "read_only_key", "key that may get, list and read cluster status but change nothing (needs --auth-key)", setString(func(c *Config) *string { return &c.ReadOnlyKey }), func(*Config) string { return "" }},
		{"cluster-key", "COAL_MINE_CLUSTER_KEY", "cluster", "key", "cluster keys, base64, comma separated: the first encrypts and signs, all are accepted (make one with coal-mine keygen)", setList(func(c *Config) *[]string { return &c.ClusterKeys }), func(*Config) string { return "" }},
		{"cluster-key-file", "COAL_MINE_CLUSTER_KEY_FILE", "cluster", "key_file", "file of cluster keys, one per line, the first the primary (for an orchestrator's secrets)", setString(func(c *Config) *string { return &c.ClusterKeyFile }), func(c *Config) string { return c.ClusterKeyFile }},
		{"insecure-cluster", "COAL_MINE_INSECURE_CLUSTER", "cluster", "insecure", "let a node without a cluster key listen beyond loopback (a network you trust)", setBool(func(c *Config) *bool { return &c.InsecureCluster }), func(c *Config) string { return strconv.FormatBool(c.InsecureCluster) }},
		{"tls-cert-file", "COAL_MINE_TLS_CERT_FILE", "tls", "cert_file", "serve the API over HTTPS with this certificate (PEM; reloaded on SIGHUP)", setString(func(c *Config) *string { return &c.TLSCertFile }), func(c *Config) string { return c.TLSCertFile }},
		{"tls-key-file", "COAL_MINE_TLS_KEY_FILE", "tls", "key_file", "the key of --tls-cert-file (PEM)", setString(func(c *Config) *string { return &c.TLSKeyFile }), func(c *Config) string { return c.TLSKeyFile }},
		{"tls-ca-file", "COAL_MINE_TLS_CA_FILE", "tls", "ca_file", "CA of the nodes' certificates: Raft and the nodes' RPC then use --tls-cert-file instead of certificates derived from the cluster key", setString(func(c *Config) *string { return &c.TLSCAFile }), func(c *Config) string { return c.TLSCAFile }},
		{"verify-incoming", "COAL_MINE_VERIFY_INCOMING", "tls", "verify_incoming", "API clients must show a certificate signed by --tls-ca-file", setBool(func(c *Config) *bool { return &c.VerifyIncoming }), func(c *Config) string { return strconv.FormatBool(c.VerifyIncoming) }},
		{"data-dir", "COAL_MINE_DATA_DIR", "cluster", "data_dir", "directory of the Raft log, snapshots and node id", setString(func(c *Config) *string { return &c.DataDir }), func(c *Config) string { return c.DataDir }},
		{"node-id", "COAL_MINE_NODE_ID", "cluster", "node_id", "this node's id (default: generated once and kept in the data dir)", setString(func(c *Config) *string { return &c.NodeID }), func(c *Config) string { return c.NodeID }},
		{"http-advertise", "COAL_MINE_HTTP_ADVERTISE", "cluster", "http_advertise", "host:port other nodes use to forward writes here (default: raft advertise host + --port)", setString(func(c *Config) *string { return &c.HTTPAdvertise }), func(c *Config) string { return c.HTTPAdvertise }},
		{"raft-addr", "COAL_MINE_RAFT_ADDR", "cluster", "raft_addr", "Raft bind host:port", setString(func(c *Config) *string { return &c.RaftAddr }), func(c *Config) string { return c.RaftAddr }},
		{"raft-advertise", "COAL_MINE_RAFT_ADVERTISE", "cluster", "raft_advertise", "Raft host:port other nodes dial (default: --raft-addr)", setString(func(c *Config) *string { return &c.RaftAdvertise }), func(c *Config) string { return c.RaftAdvertise }},
		{"gossip-addr", "COAL_MINE_GOSSIP_ADDR", "cluster", "gossip_addr", "memberlist bind host:port (required for a cluster)", setString(func(c *Config) *string { return &c.GossipAddr }), func(c *Config) string { return c.GossipAddr }},
		{"gossip-advertise", "COAL_MINE_GOSSIP_ADVERTISE", "cluster", "gossip_advertise", "memberlist host:port other nodes dial", setString(func(c *Config) *string { return &c.GossipAdvertise }), func(c *Config) string { return c.GossipAdvertise }},
		{"join", "COAL_MINE_JOIN", "cluster", "join", "gossip addresses of other nodes, comma separated", setList(func(c *Config) *[]string { return &c.Join }), func(c *Config) string { return strings.Join(c.Join, ",") }},
		{"bootstrap-expect", "COAL_MINE_BOOTSTRAP_EXPECT", "cluster", "bootstrap_expect", "servers to wait for before the first election", setInt(func(c *Config) *int { return &c.BootstrapExpect }), func(c *Config) string { return strconv.Itoa(c.BootstrapExpect) }},
		{"dead-server-cleanup", "COAL_MINE_DEAD_SERVER_CLEANUP", "cluster", "dead_server_cleanup", "remove a failed voter after this long if quorum allows (0: never)", setDuration(func(c *Config) *time.Duration { return &c.DeadServerCleanup }), func(c *Config) string { return c.DeadServerCleanup.String() }},
		{"email-sender", "EMAIL_SENDER", "email", "sender", "From address of notifications (empty: notifications are only logged)", setString(func(c *Config) *string { return &c.EmailSender }), func(c *Config) string { return c.EmailSender }},
		{"admin-email", "COAL_MINE_ADMIN_EMAIL", "email", "admin", "addresses that receive the cluster's own events (an outage), comma separated", setList(func(c *Config) *[]string { return &c.AdminEmails }), func(c *Config) string { return strings.Join(c.AdminEmails, ",") }},
		{"public-url", "COAL_MINE_PUBLIC_URL", "wsgi", "public_url", "the server's URL as its users reach it: every message links to the canary", setString(func(c *Config) *string { return &c.PublicURL }), func(c *Config) string { return c.PublicURL }},
		{"public-badges", "COAL_MINE_PUBLIC_BADGES", "wsgi", "public_badges", "serve the status badges (/badge/<id>.svg and .json) without a key, for READMEs and wikis", setBool(func(c *Config) *bool { return &c.PublicBadges }), func(c *Config) string { return strconv.FormatBool(c.PublicBadges) }},
		{"heartbeat-url", "COAL_MINE_HEARTBEAT_URL", "cluster", "heartbeat_url", "an outside dead man's switch the leader alone pings every --heartbeat-interval", setString(func(c *Config) *string { return &c.HeartbeatURL }), func(*Config) string { return "" }},
		{"heartbeat-interval", "COAL_MINE_HEARTBEAT_INTERVAL", "cluster", "heartbeat_interval", "how often the leader pings --heartbeat-url", setDuration(func(c *Config) *time.Duration { return &c.HeartbeatInterval }), func(c *Config) string { return c.HeartbeatInterval.String() }},
		{"outage-after", "COAL_MINE_OUTAGE_AFTER", "cluster", "outage_after", "a time without any write longer than this is an outage: deadlines that fell in it move by its length", setDuration(func(c *Config) *time.Duration { return &c.OutageAfter }), func(c *Config) string { return c.OutageAfter.String() }},
		{"smtp-host", "SMTP_HOST", "email", "host", "SMTP host", setString(func(c *Config) *string { return &c.SMTPHost }), func(c *Config) string { return c.SMTPHost }},
		{"smtp-port", "SMTP_PORT", "email", "port", "SMTP port", setInt(func(c *Config) *int { return &c.SMTPPort }), func(c *Config) string { return strconv.Itoa(c.SMTPPort) }},
		{"smtp-username", "SMTP_USERNAME", "email", "username", "SMTP user name", setString(func(c *Config) *string { return &c.SMTPUsername }), func(c *Config) string { return c.SMTPUsername }},
		{"smtp-password", "SMTP_PASSWORD", "email", "password", "SMTP password", setString(func(c *Config) *string { return &c.SMTPPassword }), func(*Config) string { return "" }},
		{"log-file", "COAL_MINE_LOG_FILE", "logging", "file", "log file (default: stderr)", setString(func(c *Config) *string { return &c.LogFile }), func(c *Config) string { return c.LogFile }},
		{"log-rotate", "COAL_MINE_LOG_ROTATE", "logging", "rotate", "rotate the log file when it gets too large", setBool(func(c *Config) *bool { return &c.LogRotate }), func(c *Config) string { return strconv.FormatBool(c.LogRotate) }},
		{"log-max-size", "COAL_MINE_LOG_MAX_SIZE", "logging", "max_size", "log size in bytes before rotating", setInt64(func(c *Config) *int64 { return &c.LogMaxSize }), func(c *Config) string { return strconv.FormatInt(c.LogMaxSize, 10) }},
		{"log-backup-count", "COAL_MINE_LOG_BACKUP_COUNT", "logging", "backup_count", "rotated log files to keep", setInt(func(c *Config) *int { return &c.LogBackupCount }), func(c *Config) string { return strconv.Itoa(c.LogBackupCount) }},
		{"debug-addr", "COAL_MINE_DEBUG_ADDR", "logging", "debug_addr", "host:port serving Go's pprof profiles for diagnosis (default: off; keep it on loopback)", setString(func(c *Config) *string { return &c.DebugAddr }), func(c *Config) string { return c.DebugAddr }},
		{"log-level", "COAL_MINE_LOG_LEVEL", "logging", "level", "debug, info, warn or error", setString(func(c *Config) *string { return &c.LogLevel }), func(c *Config) string { return c.LogLevel }},
	}
}

// loadConfig reads coal-mine.ini (from --config, or the original's search path), then
// the environment, then the flags.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	cfg := defaults()
	all := settings()

	fl := pflag.NewFlagSet("coal-mine", pflag.ContinueOnError)
	configFile := fl.String("config", "", "coal-mine.ini to read (default: search ./, /etc, /usr/local/etc)")
	flagValues := make(map[string]*string, len(all))
	for _, s := range all {
		flagValues[s.flag] = fl.String(s.flag, s.def(&cfg), s.usage+" ["+s.env+"]")
	}
	fl.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: coal-mine [flags]\n       coal-mine repair-log [flags]\n       coal-mine keygen\n       coal-mine init-secrets --dir DIR --hosts HOST,...\n\nRuns a coal-mine node. With no settings at all it is a single node on port 8080\nwith its data in ./coal-mine-data. repair-log rebuilds the Raft log of a stopped node\nthat refuses to start because its log is damaged. keygen prints a new cluster key.\ninit-secrets writes a cluster key, a private CA and a certificate it signs into DIR,\nunless they are there (for a deployment without a PKI of its own).\n\nFlags (environment variable in brackets):\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return cfg, err
	}
	if fl.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fl.Args(), " "))
	}

	if err := cfg.readINI(*configFile, all); err != nil {
		return cfg, err
	}
	if getenv("MONGODB_URI") != "" {
		cfg.Warnings = append(cfg.Warnings, "MONGODB_URI is ignored: coal-mine keeps its state in its own Raft log under the data directory")
	}
	for _, s := range all {
		if v := getenv(s.env); v != "" {
			if err := s.set(&cfg, v); err != nil {
				return cfg, fmt.Errorf("environment variable %s: %w", s.env, err)
			}
		}
	}
	for _, s := range all {
		if fl.Changed(s.flag) {
			if err := s.set(&cfg, *flagValues[s.flag]); err != nil {
				return cfg, fmt.Errorf("flag --%s: %w", s.flag, err)
			}
		}
	}
	return cfg, cfg.validate()
}

func (c *Config) readINI(explicit string, all []setting) error {
	var files []string
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		files = []string{explicit}
	} else {
		for _, dir := range configDirs {
			p := filepath.Join(dir, configName)
			if _, err := os.Stat(p); err == nil {
				files = append(files, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("config file %s: %w", p, err)
			}
		}
	}
	if len(files) == 0 {
		return nil
	}
	// Like the original (configparser.read), every file found is read and later files
	// override earlier ones.
	sources := make([]any, 0, len(files)-1)
	for _, f := range files[1:] {
		sources = append(sources, f)
	}
	file, err := ini.LoadSources(ini.LoadOptions{Insensitive: false}, files[0], sources...)
	if err != nil {
		return fmt.Errorf("read %s: %w", strings.Join(files, ", "), err)
	}
	c.Files = files
	if file.HasSection("mongodb") {
		c.Warnings = append(c.Warnings, "the [mongodb] section of coal-mine.ini is not used: coal-mine keeps its state in its own Raft log under the data directory (--data-dir)")
	}
	for _, s := range all {
		if !file.HasSection(s.section) {
			continue
		}
		// HasKey before Key: Key creates the key it is asked for.
		section := file.Section(s.section)
		if !section.HasKey(s.key) {
			continue
		}
		if err := s.set(c, section.Key(s.key).String()); err != nil {
			return fmt.Errorf("%s: [%s] %s: %w", strings.Join(files, ", "), s.section, s.key, err)
		}
	}
	return nil
}

func (c *Config) validate() error {
	switch {
	case c.Port <= 0 || c.Port > 65535:
		return fmt.Errorf("port %d is out of range", c.Port)
	case c.DataDir == "":
		return errors.New("the data directory must not be empty")
	case c.BootstrapExpect < 0:
		return errors.New("bootstrap-expect must not be negative")
	case c.BootstrapExpect > 1 && c.GossipAddr == "":
		return errors.New("a cluster (bootstrap-expect > 1) needs --gossip-addr")
	case c.SMTPPort <= 0 || c.SMTPPort > 65535:
		return fmt.Errorf("SMTP port %d is out of range", c.SMTPPort)
	case (c.SMTPUsername == "") != (c.SMTPPassword == ""):
		return errors.New("SMTP username and password must be given together")
	case c.ReadOnlyKey != "" && c.AuthKey == "":
		return errors.New("a read-only key needs an auth key: without one, anybody may change anything")
	case c.ReadOnlyKey != "" && c.ReadOnlyKey == c.AuthKey:
		return errors.New("the read-only key must differ from the auth key")
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("--tls-cert-file and --tls-key-file must be given together")
	case c.TLSCAFile != "" && c.TLSCertFile == "":
		return errors.New("--tls-ca-file needs this node's --tls-cert-file and --tls-key-file")
	case c.VerifyIncoming && c.TLSCAFile == "":
		return errors.New("--verify-incoming needs --tls-ca-file, the CA that clients' certificates are signed by")
	case len(c.ClusterKeys) > 0 && c.ClusterKeyFile != "":
		return errors.New("give the cluster keys either directly or in a file, not both")
	case c.HeartbeatInterval < time.Second:
		return fmt.Errorf("heartbeat-interval %v is too short (at least 1s)", c.HeartbeatInterval)
	case c.OutageAfter < 5*time.Second:
		// Shorter, a leader's failover (a tick, then an election) would count as one.
		return fmt.Errorf("outage-after %v is too short (at least 5s)", c.OutageAfter)
	}
	for _, u := range []struct{ name, value string }{{"public-url", c.PublicURL}, {"heartbeat-url", c.HeartbeatURL}} {
		if u.value == "" {
			continue
		}
		if parsed, err := url.Parse(u.value); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return fmt.Errorf("%s must be an http or https URL", u.name) // not quoted: it may hold a secret
		}
	}
	for _, a := range c.AdminEmails {
		if _, err := mail.ParseAddress(a); err != nil || strings.ContainsAny(a, "\r\n") {
			return fmt.Errorf("admin e-mail %q is not an address", a)
		}
	}
	for i, key := range c.ClusterKeys {
		if _, err := cluster.ParseClusterKey(key); err != nil {
			return fmt.Errorf("cluster key %d: %w", i+1, err)
		}
	}
	return nil
}

// clusterKeys returns the cluster keys, read from the key file if there is one.
func (c *Config) clusterKeys() ([][]byte, error) {
	encoded := c.ClusterKeys
	if c.ClusterKeyFile != "" {
		data, err := os.ReadFile(c.ClusterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read the cluster key file: %w", err)
		}
		encoded = nil
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				encoded = append(encoded, line)
			}
		}
		if len(encoded) == 0 {
			return nil, fmt.Errorf("%s holds no cluster key", c.ClusterKeyFile)
		}
	}
	keys := make([][]byte, 0, len(encoded))
	for i, e := range encoded {
		key, err := cluster.ParseClusterKey(e)
		if err != nil {
			return nil, fmt.Errorf("cluster key %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func setString(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func setList(field func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		*field(c) = out
		return nil
	}
}

func setInt(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*field(c) = n
		return nil
	}
}

func setInt64(field func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*field(c) = n
		return nil
	}
}

// setBool accepts the original's spellings (configparser's getboolean).
func setBool(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "yes", "true", "on":
			*field(c) = true
		case "0", "no", "false", "off", "":
			*field(c) = false
		default:
			return fmt.Errorf("%q is not a boolean", v)
		}
		return nil
	}
}

func setDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30m", v)
		}
		*field(c) = d
		return nil
	}
}
