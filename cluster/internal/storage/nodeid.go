package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// NodeIDFile is where a node's identity is kept, so a restarted node rejoins
// as itself even when nobody configured an id.
const NodeIDFile = "node-id"

// MaxNodeIDLen keeps the id well inside memberlist's metadata limit.
const MaxNodeIDLen = 128

// NodeID returns the node id for dataDir: the one stored there, else
// the configured one, else a new hostname-derived one. The result is stored.
// A configured id that differs from the stored one is an error: the Raft
// data in dataDir belongs to the stored identity.
func NodeID(dataDir, configured string) (string, error) {
	path := filepath.Join(dataDir, NodeIDFile)
	stored, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(stored))
		if err := checkNodeID(id); err != nil {
			return "", fmt.Errorf("%w: %s is damaged (%v): it holds the id this node is known by; write that id back into it "+
				"(the other nodes list it: cmcli cluster status), or remove the file and start the node with --node-id <that id>",
				ErrDamagedData, path, err)
		}
		if configured != "" && configured != id {
			return "", fmt.Errorf("node id %q does not match %q stored in %s (the data directory belongs to that node)", configured, id, path)
		}
		return id, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read node id %s: %w", path, err)
	}

	id := configured
	if id == "" {
		if id, err = generateNodeID(); err != nil {
			return "", err
		}
	}
	if err := checkNodeID(id); err != nil {
		return "", err
	}
	if err := writeFileSync(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("store node id: %w", err)
	}
	return id, nil
}

// checkNodeID rejects ids that would be awkward in logs, URLs or gossip.
func checkNodeID(id string) error {
	if id == "" {
		return errors.New("node id is empty")
	}
	if len(id) > MaxNodeIDLen {
		return fmt.Errorf("node id is longer than %d bytes", MaxNodeIDLen)
	}
	for _, r := range id {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' {
			return fmt.Errorf("node id %q contains %q", id, r)
		}
	}
	return nil
}

// generateNodeID derives an id from the hostname plus a random suffix: the
// suffix keeps several nodes on one machine apart.
func generateNodeID() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	host = strings.ToLower(host)
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, host)
	if len(host) > 64 {
		host = host[:64]
	}
	suffix := make([]byte, 2)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("generate node id: %w", err)
	}
	return host + "-" + hex.EncodeToString(suffix), nil
}

// writeFileSync writes a small file atomically and durably.
func writeFileSync(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	_ = syncDir(filepath.Dir(path)) // best effort, as it has always been here
	return nil
}
