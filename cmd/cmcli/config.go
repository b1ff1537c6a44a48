package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/ini.v1"
)

// The CLI's configuration lives where the original kept it, in the same format, so
// one file serves both the old and the new cmcli.
const (
	configFileName = ".coal-mine.ini"
	configSection  = "coal-mine"
	configEnvVar   = "COAL_MINE_CONFIG" // overrides ~/.coal-mine.ini (tests, several servers)
	defaultHost    = "localhost"
)

// Config is what `cmcli configure` stores. A zero Port means "not set": the URL then
// carries no port and the scheme's default (80 or 443) applies, as in the original.
type Config struct {
	Host    string
	Port    int
	AuthKey string
	// CAFile is the CA that the server's HTTPS certificate is checked against (a
	// self-signed one); empty: the system's CAs.
	CAFile string
}

// configPath chooses the configuration file: an explicit --config, then
// $COAL_MINE_CONFIG, then ~/.coal-mine.ini ($HOME is honoured).
func configPath(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := getenv(configEnvVar); p != "" {
		return p, nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("locating the configuration file: %w", err)
		}
	}
	return filepath.Join(home, configFileName), nil
}

// loadConfigFile reads the file; a missing file is an empty configuration.
func loadConfigFile(path string) (*ini.File, error) {
	opts := ini.LoadOptions{
		// Python's configparser (the original cmcli) keeps '#' and ';' inside values.
		IgnoreInlineComment: true,
		Insensitive:         true,
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ini.Empty(opts), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	file, err := ini.LoadSources(opts, data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return file, nil
}

// LoadConfig reads the coal-mine section of the file at path.
func LoadConfig(path string) (Config, error) {
	file, err := loadConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	return configFromFile(file, path)
}

func configFromFile(file *ini.File, path string) (Config, error) {
	cfg := Config{Host: defaultHost}
	section, err := file.GetSection(configSection)
	if err != nil { // no such section: defaults
		return cfg, nil
	}
	if v := section.Key("host").String(); v != "" {
		cfg.Host = v
	}
	if v := section.Key("port").String(); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 0 || port > 65535 {
			return Config{}, fmt.Errorf("%s: [%s] port %q is not a port number", path, configSection, v)
		}
		cfg.Port = port
	}
	cfg.AuthKey = section.Key("auth-key").String()
	cfg.CAFile = section.Key("ca-file").String()
	return cfg, nil
}

// ConfigChange is what one `cmcli configure` asks for; nil fields are left alone.
type ConfigChange struct {
	Host      *string
	Port      *int // 0 removes the stored port
	AuthKey   *string
	NoAuthKey bool
	CAFile    *string // "" removes the stored one
}

// SaveConfig applies change to the file at path, keeping any other sections and keys,
// and leaves the file readable by its owner only (it holds the auth key in clear).
func SaveConfig(path string, change ConfigChange) (Config, error) {
	file, err := loadConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	section := file.Section(configSection)
	// The original always writes the host, so a configured file names its server.
	host := section.Key("host").String()
	if change.Host != nil {
		host = *change.Host
	}
	if host == "" {
		host = defaultHost
	}
	section.Key("host").SetValue(host)
	if change.Port != nil {
		if *change.Port == 0 {
			section.DeleteKey("port")
		} else {
			section.Key("port").SetValue(strconv.Itoa(*change.Port))
		}
	}
	switch {
	case change.NoAuthKey:
		section.DeleteKey("auth-key")
	case change.AuthKey != nil:
		section.Key("auth-key").SetValue(*change.AuthKey)
	}
	if change.CAFile != nil {
		if *change.CAFile == "" {
			section.DeleteKey("ca-file")
		} else {
			section.Key("ca-file").SetValue(*change.CAFile)
		}
	}
	if err := writeConfigFile(path, file); err != nil {
		return Config{}, err
	}
	return configFromFile(file, path)
}

func writeConfigFile(path string, file *ini.File) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// An existing file keeps its mode on open; tighten it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("restricting %s to its owner: %w", path, err)
	}
	if _, err := file.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
