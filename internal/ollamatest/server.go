package ollamatest

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

const (
	readyTimeout  = 60 * time.Second // from start to a 200 on /api/version
	stopGrace     = 10 * time.Second // from SIGTERM to SIGKILL
	createTimeout = 3 * time.Minute  // for one "ollama create"
	logTailLines  = 80
)

// Server is an "ollama serve" process started by Start, listening on a free
// loopback port, with a models folder, HOME and log file of its own.
//
// Its environment (see Start) leaves OLLAMA_MAX_LOADED_MODELS,
// OLLAMA_NUM_PARALLEL and OLLAMA_CONTEXT_LENGTH at Ollama's defaults: on a
// CPU-only machine up to 3 models stay loaded at once, one request runs per
// model at a time, and a request without num_ctx gets 4096. Use StartWithEnv
// to change them (e.g. OLLAMA_MAX_LOADED_MODELS=1 to model a laptop that
// reloads on every switch of model).
//
// The methods are safe for concurrent use.
type Server struct {
	// Host is the server's base URL, "http://127.0.0.1:PORT".
	Host string

	addr    string   // OLLAMA_HOST value, "127.0.0.1:PORT"
	bin     string   // ollama binary
	dir     string   // working folder: models/, home/, server.log, models made by CreateModel
	models  string   // OLLAMA_MODELS
	logPath string   // stdout and stderr of every run, appended
	env     []string // the server's (and "ollama create"'s) whole environment

	// owned is set when StartServer made dir, for Close to remove.
	owned bool

	mu   sync.Mutex
	proc *process // the current or last run; nil before the first
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
}

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Start runs "ollama serve" (see Binary) and returns once it answers on
// /api/version, or fails the test with the tail of the server log after 60 s.
// Under -short it skips the test.
//
// The server gets OLLAMA_HOST=127.0.0.1:PORT, OLLAMA_MODELS and HOME in a
// temporary folder, OLLAMA_KEEP_ALIVE=24h (a model stays loaded for the whole
// test), OLLAMA_NOPRUNE=1, OLLAMA_NO_CLOUD=1, and no visible GPU
// (CUDA_VISIBLE_DEVICES=-1 and the like); every other OLLAMA_ variable of the
// test's environment is dropped. The server runs in its own process group,
// which also holds the model runners it starts.
//
// A cleanup stops the server (SIGTERM, then SIGKILL to the whole group after
// 10 s) and, if the test failed, logs the last 80 lines of the server log.
// On Linux the server also gets SIGTERM, and stops its runners, if the test
// binary dies without running cleanups (killed, or a -timeout panic); the
// temporary folder is then left behind.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWithEnv(t)
}

// StartWithEnv is Start with extra "KEY=value" variables for the server,
// which override Start's defaults (e.g. "OLLAMA_MAX_LOADED_MODELS=1",
// "OLLAMA_NUM_PARALLEL=2", "OLLAMA_DEBUG=1").
func StartWithEnv(t testing.TB, env ...string) *Server {
	t.Helper()
	bin := Binary(t)
	s, err := newServer(bin, t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after t.TempDir, so it runs before the folder is removed.
	t.Cleanup(func() {
		s.stop(stopGrace)
		if t.Failed() {
			t.Logf("ollamatest: last %d lines of the server log (%s):\n%s", logTailLines, s.Host, tail(s.Log(), logTailLines))
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		t.Fatal(err)
	}
	return s
}

// StartServer is StartWithEnv for programs (probe bench): it runs the
// ollama binary bin in a temporary folder of its own and returns an error
// instead of failing a test. Close stops it and removes the folder.
func StartServer(bin string, env ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "probe-ollama-")
	if err != nil {
		return nil, err
	}
	s, err := newServer(bin, dir, env)
	if err == nil {
		s.mu.Lock()
		err = s.startLocked()
		s.mu.Unlock()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Close stops a server StartServer started and removes its folder.
func (s *Server) Close() error {
	s.stop(stopGrace)
	if !s.owned {
		return nil
	}
	return os.RemoveAll(s.dir)
}

// newServer prepares a server's folders, port and environment in dir.
func newServer(bin, dir string, env []string) (*Server, error) {
	s := &Server{
		bin:     bin,
		dir:     dir,
		models:  filepath.Join(dir, "models"),
		logPath: filepath.Join(dir, "server.log"),
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{s.models, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("ollamatest: no free port: %w", err)
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.Host = "http://" + s.addr
	s.env = append(inheritedEnv(),
		"HOME="+home,
		"OLLAMA_HOST="+s.addr,
		"OLLAMA_MODELS="+s.models,
		"OLLAMA_KEEP_ALIVE=24h",
		"OLLAMA_NOPRUNE=1",
		"OLLAMA_NO_CLOUD=1",
		"OLLAMA_NOHISTORY=1",
		"CUDA_VISIBLE_DEVICES=-1",
		"HIP_VISIBLE_DEVICES=-1",
		"ROCR_VISIBLE_DEVICES=-1",
		"GPU_DEVICE_ORDINAL=-1",
		"GGML_VK_VISIBLE_DEVICES=-1",
	)
	s.env = append(s.env, env...)
	return s, nil
}

// Env returns the variables a child process needs to use this server,
// "OLLAMA_HOST=127.0.0.1:PORT" and OLLAMA_MODELS, to append to os.Environ().
func (s *Server) Env() []string {
	return []string{"OLLAMA_HOST=" + s.addr, "OLLAMA_MODELS=" + s.models}
}

// Client returns an Ollama API client for the server.
func (s *Server) Client() *api.Client {
	u, err := url.Parse(s.Host)
	if err != nil {
		panic(err) // Host is built by Start
	}
	return api.NewClient(u, http.DefaultClient)
}

// ModelsDir returns the server's OLLAMA_MODELS folder.
func (s *Server) ModelsDir() string { return s.models }

// Log returns the server log so far: stdout and stderr of every run, with a
// marker line before each restart.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return string(b)
}

// Kill sends SIGKILL to the server and its runners, as a crash would, and
// waits for them to exit (for the runners, at most 5 s). It does nothing if the server is not running.
func (s *Server) Kill() {
	s.stop(0)
}

// Stop shuts the server down as a service manager would: SIGTERM, then
// SIGKILL after a grace period. It does nothing if the server is not running.
func (s *Server) Stop() {
	s.stop(stopGrace)
}

// Restart starts the server again on the same port, models folder and log,
// and waits until it answers; a server still running is stopped first (use
// Kill before Restart to simulate a crash). It fails the test with the log
// tail if the server does not come up (e.g. the port was taken meanwhile).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop(stopGrace)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendLog("=== ollamatest: restart ===\n")
	if err := s.startLocked(); err != nil {
		t.Fatal(err)
	}
}

// stop stops the current run: SIGTERM and up to grace for it to exit, then
// SIGKILL; grace 0 sends SIGKILL at once. SIGKILL goes to the whole process
// group, so runners the server leaves behind die too.
func (s *Server) stop(grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil || !p.running() {
		return
	}
	pid := p.cmd.Process.Pid
	if grace > 0 {
		_ = signalGroup(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	_ = signalGroup(pid, syscall.SIGKILL) // also any runner that outlived the server
	<-p.done
	// Killed runners linger as zombies until init reaps them; wait a little
	// so that a caller sees no process of the server's left.
	for deadline := time.Now().Add(5 * time.Second); groupAlive(pid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// startLocked runs the server and waits until it answers. s.mu must be held.
func (s *Server) startLocked() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("ollamatest: %w", err)
	}
	cmd := exec.Command(s.bin, "serve")
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	logf.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("ollamatest: starting %s serve: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	if err := waitReady(s.Host, p, readyTimeout); err != nil {
		return fmt.Errorf("ollamatest: ollama serve on %s: %w\nlast %d lines of its log:\n%s",
			s.addr, err, logTailLines, tail(s.Log(), logTailLines))
	}
	return nil
}

// waitReady polls GET /api/version until it answers 200 while p still runs.
func waitReady(host string, p *process, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if !p.running() {
			return fmt.Errorf("exited before answering (%v)", p.cmd.ProcessState)
		}
		resp, err := client.Get(host + "/api/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// The answer could come from another process that took the
				// port; ours would then have exited on "address in use".
				time.Sleep(20 * time.Millisecond)
				if !p.running() {
					continue
				}
				return nil
			}
			err = fmt.Errorf("GET /api/version: %s", resp.Status)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, last)
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) appendLog(msg string) {
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(msg)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// inheritedEnv is the test's environment without the variables that would
// point the server or client elsewhere or expose a GPU.
func inheritedEnv() []string {
	drop := map[string]bool{
		"HOME": true, "CUDA_VISIBLE_DEVICES": true, "HIP_VISIBLE_DEVICES": true,
		"ROCR_VISIBLE_DEVICES": true, "GPU_DEVICE_ORDINAL": true, "GGML_VK_VISIBLE_DEVICES": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "OLLAMA_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
