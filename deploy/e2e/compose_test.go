//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// errNoCompose means neither `docker compose` nor `docker-compose` is installed.
var errNoCompose = errors.New("neither `docker compose` nor `docker-compose` is available")

// commandTimeout bounds one docker or compose command; `down` waits for graceful stops.
const commandTimeout = 3 * time.Minute

// composeProject is the repository's docker-compose.yml started under a project name
// and host ports of its own, so that it never touches a developer's cluster.
type composeProject struct {
	name    string
	file    string
	command []string // "docker compose" where the plugin exists, else "docker-compose"
	env     []string
	ports   map[string]int // service -> published host port
}

// newComposeProject prepares (but does not start) the project, with free host ports for
// the three nodes and the mail sink and the given auth key.
func newComposeProject(name, authKey string) (*composeProject, error) {
	command, err := composeCommand()
	if err != nil {
		return nil, err
	}
	file, err := composeFile()
	if err != nil {
		return nil, err
	}
	services := []string{"node1", "node2", "node3", "mailsink"}
	free, err := freePorts(len(services))
	if err != nil {
		return nil, err
	}
	p := &composeProject{name: name, file: file, command: command, ports: map[string]int{}}
	p.env = append(os.Environ(),
		"WSGI_AUTH_KEY="+authKey,
		"EMAIL_SENDER=coal-mine-e2e@localhost",
		"COAL_MINE_LOG_LEVEL=debug",
	)
	for i, service := range services {
		p.ports[service] = free[i]
		variable := "COAL_MINE_" + strings.ToUpper(service) + "_PORT"
		if service == "mailsink" {
			variable = "COAL_MINE_MAILSINK_PORT"
		}
		p.env = append(p.env, variable+"="+strconv.Itoa(free[i]))
	}
	return p, nil
}

func composeCommand() ([]string, error) {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, nil
	}
	if path, err := exec.LookPath("docker-compose"); err == nil {
		return []string{path}, nil
	}
	return nil, errNoCompose
}

// composeFile is the repository's docker-compose.yml, two directories above this file.
func composeFile() (string, error) {
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the test's source directory")
	}
	file := filepath.Join(filepath.Dir(here), "..", "..", "docker-compose.yml")
	if _, err := os.Stat(file); err != nil {
		return "", fmt.Errorf("compose file: %w", err)
	}
	return filepath.Clean(file), nil
}

// freePorts asks the kernel for n free loopback ports. They are released before compose
// binds them; another process taking one in between is unlikely and fails loudly.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// run runs one compose subcommand of this project.
func (p *composeProject) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	full := append(append(append([]string{}, p.command[1:]...), "--project-name", p.name, "--file", p.file), args...)
	cmd := exec.CommandContext(ctx, p.command[0], full...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", strings.Join(p.command, " "), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// container is the id of the service's container.
func (p *composeProject) container(service string) (string, error) {
	out, err := p.run("ps", "-q", service)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(out)
	if id == "" || strings.Contains(id, "\n") {
		return "", fmt.Errorf("service %s: want one container, compose ps says %q", service, id)
	}
	return id, nil
}

// docker runs one docker command.
func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// containerNetworks lists the networks a container is attached to.
func containerNetworks(container string) ([]string, error) {
	out, err := docker("inspect", "--format", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", container)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
