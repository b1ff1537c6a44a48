package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildNode compiles cmd/coal-mine, static (CGO_ENABLED=0), into dir.
func buildNode(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "coal-mine")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/coal-mine")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build coal-mine: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the go.mod of the working directory's module.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the campaign from inside the coal-mine module")
	}
	return filepath.Dir(gomod), nil
}
