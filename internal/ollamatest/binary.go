// Package ollamatest runs a real Ollama server for integration tests.
//
// Binary finds (or builds, once) the ollama executable at the version go.mod
// pins; Start runs "ollama serve" on a free loopback port with its own models
// folder; Server.CreateModel imports a tiny random llama model written by
// WriteTinyModel. Every entry point that needs the real server skips the test
// under "go test -short". FindBinary, StartServer and Server.Create do the
// same for a program (probe bench), returning errors instead of failing a
// test.
//
// Environment:
//
//	PROBE_OLLAMA_BIN  path of an ollama binary to use instead of building one
//	PROBE_CACHE       cache folder of scripts/ollama-server.sh
//	                  (default $XDG_CACHE_HOME/probe or ~/.cache/probe)
package ollamatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SkipMessage is the reason integration tests give when skipped under -short.
const SkipMessage = "integration test: needs a real Ollama server; run without -short"

const howToGet = "build it once with scripts/ollama-server.sh from the repository root " +
	"(needs gcc, g++, apt-get or the headers nlohmann-json3-dev and libstb-dev, and the Go module proxy; " +
	"about 6-10 minutes on 2 cores; it caches the binary), or set PROBE_OLLAMA_BIN to an ollama binary " +
	"of the version go.mod pins; or run go test -short to skip integration tests"

// Binary returns the path of the ollama binary: $PROBE_OLLAMA_BIN if set,
// else the path printed by scripts/ollama-server.sh, which builds the binary
// on first use (6-10 minutes; mind go test's default 10-minute -timeout) and
// caches it. Concurrent test binaries take a file lock so that only one of
// them builds. Under -short it skips the test; if the binary cannot be had it
// fails the test with instructions.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip(SkipMessage)
	}
	start := time.Now()
	path, err := FindBinary(func(msg string) { t.Log(msg) })
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Logf("ollamatest: built %s in %v", path, d.Round(time.Second))
	}
	return path
}

// FindBinary is Binary for programs (probe bench): it returns the error
// instead of failing a test, and tells note when it waits for another
// process that is building the binary.
func FindBinary(note func(string)) (string, error) {
	if p := os.Getenv("PROBE_OLLAMA_BIN"); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("ollamatest: PROBE_OLLAMA_BIN: %w; unset it or point it to an ollama binary", err)
		}
		return p, nil
	}

	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("ollamatest: cannot find the repository root: %w; %s", err, howToGet)
	}
	script := filepath.Join(root, "scripts", "ollama-server.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("ollamatest: %w; %s", err, howToGet)
	}

	unlock, err := lockFile(filepath.Join(os.TempDir(), "probe-ollama-server.lock"), func() {
		if note != nil {
			note("ollamatest: waiting for another process running scripts/ollama-server.sh")
		}
	})
	if err != nil {
		return "", fmt.Errorf("ollamatest: %w", err)
	}
	defer unlock()

	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	path := strings.TrimSpace(lines[len(lines)-1])
	if err == nil && path == "" {
		err = errors.New("it printed no path")
	}
	if err == nil {
		err = checkExecutable(path)
	}
	if err != nil {
		return "", fmt.Errorf("ollamatest: scripts/ollama-server.sh failed: %w\n%s\n%s", err, tail(stderr.String(), 40), howToGet)
	}
	return path, nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// repoRoot returns the folder of the main module's go.mod: from "go env
// GOMOD", else by walking up from the working directory.
func repoRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
