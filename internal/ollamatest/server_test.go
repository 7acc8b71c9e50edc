package ollamatest

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// chatResult is what one streamed /api/chat gave.
type chatResult struct {
	content string
	final   *api.ChatResponse // the chunk with Done set; nil if none came
	chunks  int
	elapsed time.Duration
}

func chat(ctx context.Context, c *api.Client, req *api.ChatRequest) (chatResult, error) {
	var r chatResult
	start := time.Now()
	err := c.Chat(ctx, req, func(resp api.ChatResponse) error {
		r.chunks++
		r.content += resp.Message.Content
		if resp.Done {
			r.final = &resp
		}
		return nil
	})
	r.elapsed = time.Since(start)
	return r, err
}

func noTruncate() *bool { f := false; return &f }

// ollamaModuleVersion is the version of github.com/ollama/ollama that go.mod
// pins, e.g. "0.17.4".
func ollamaModuleVersion(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/ollama/ollama").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/ollama/ollama: %v", err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
}

func TestRealServer(t *testing.T) {
	s := Start(t) // skips under -short
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if !strings.HasPrefix(s.Host, "http://127.0.0.1:") {
		t.Errorf("Host = %q, want http://127.0.0.1:PORT", s.Host)
	}
	if v, err := c.Version(ctx); err != nil {
		t.Fatalf("version: %v", err)
	} else if want := ollamaModuleVersion(t); v != want {
		t.Errorf("server version %q, want %q (the version go.mod pins)", v, want)
	}
	env := strings.Join(s.Env(), " ")
	if !strings.Contains(env, "OLLAMA_HOST="+strings.TrimPrefix(s.Host, "http://")) {
		t.Errorf("Env() = %q lacks OLLAMA_HOST for %s", env, s.Host)
	}

	const modelA, modelB = "tiny-a", "tiny-b"
	for _, m := range []struct {
		name string
		seed uint64
	}{{modelA, 1}, {modelB, 2}} {
		start := time.Now()
		s.CreateModel(t, m.name, m.seed)
		t.Logf("ollama create %s: %v", m.name, time.Since(start).Round(time.Millisecond))
	}

	list, err := c.List(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	digests := map[string]string{}
	for _, m := range list.Models {
		digests[m.Name] = m.Digest
		if m.Details.Family != "llama" || m.Details.Format != "gguf" {
			t.Errorf("%s: family %q format %q, want llama gguf", m.Name, m.Details.Family, m.Details.Format)
		}
	}
	da, db := digests[modelA+":latest"], digests[modelB+":latest"]
	if da == "" || db == "" || len(digests) != 2 {
		t.Fatalf("list = %v, want exactly %s:latest and %s:latest", digests, modelA, modelB)
	}
	if da == db {
		t.Errorf("both models have digest %s; different seeds must give different models", da)
	}

	show, err := c.Show(ctx, &api.ShowRequest{Model: modelA})
	if err != nil {
		t.Fatalf("show: %v", err)
	}
	if strings.TrimSpace(show.Template) != strings.TrimSpace(TinyTemplate) {
		t.Errorf("template = %q, want TinyTemplate", show.Template)
	}

	system, user := "Be brief.", "Say hi."
	req := func(model string) *api.ChatRequest {
		return &api.ChatRequest{
			Model: model,
			Messages: []api.Message{
				{Role: "system", Content: system},
				{Role: "user", Content: user},
			},
			Options:  map[string]any{"num_ctx": 512, "num_predict": 16, "temperature": 0, "seed": 1},
			Truncate: noTruncate(),
		}
	}

	first, err := chat(ctx, c, req(modelA))
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if first.final == nil {
		t.Fatalf("chat: no chunk with done=true among %d chunks", first.chunks)
	}
	t.Logf("chat %s (cold load): %v, %d chunks, done_reason %q, prompt_eval_count %d, eval_count %d, content %q",
		modelA, first.elapsed.Round(time.Millisecond), first.chunks, first.final.DoneReason,
		first.final.PromptEvalCount, first.final.EvalCount, first.content)
	// Byte-level vocabulary: one token per byte of the rendered template, plus BOS.
	rendered := "<|system|>\n" + system + "\n<|user|>\n" + user + "\n<|assistant|>\n"
	if got, want := first.final.PromptEvalCount, len(rendered)+1; got != want {
		t.Errorf("prompt_eval_count = %d, want %d (the bytes of %q plus BOS)", got, want, rendered)
	}
	if n := first.final.EvalCount; n < 1 || n > 16 {
		t.Errorf("eval_count = %d, want 1..16 (num_predict 16)", n)
	}
	if first.final.DoneReason != "length" && first.final.DoneReason != "stop" {
		t.Errorf("done_reason = %q", first.final.DoneReason)
	}

	again, err := chat(ctx, c, req(modelA))
	if err != nil || again.final == nil {
		t.Fatalf("repeat chat: %v (final %v)", err, again.final)
	}
	t.Logf("chat %s (loaded): %v", modelA, again.elapsed.Round(time.Millisecond))
	if again.content != first.content {
		t.Errorf("temperature 0 and seed 1 gave %q, then %q", first.content, again.content)
	}

	other, err := chat(ctx, c, req(modelB))
	if err != nil || other.final == nil {
		t.Fatalf("chat %s: %v (final %v)", modelB, err, other.final)
	}
	t.Logf("chat %s (cold load): %v, content %q", modelB, other.elapsed.Round(time.Millisecond), other.content)
	if other.content == first.content {
		t.Errorf("%s and %s answered the same %q; their weights should differ", modelA, modelB, first.content)
	}

	// A prompt longer than num_ctx: 400 with Truncate=false, cut silently without.
	long := func(truncate *bool) *api.ChatRequest {
		return &api.ChatRequest{
			Model:    modelA,
			Messages: []api.Message{{Role: "user", Content: strings.Repeat("abcd ", 80)}}, // 400 bytes
			Options:  map[string]any{"num_ctx": 256, "num_predict": 4, "temperature": 0},
			Truncate: truncate,
		}
	}
	r, err := chat(ctx, c, long(noTruncate()))
	var se api.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest {
		t.Errorf("prompt over num_ctx with Truncate=false: err %v (%T), final %v; want a StatusError 400", err, err, r.final)
	} else {
		t.Logf("prompt over num_ctx with Truncate=false: %d %q", se.StatusCode, se.ErrorMessage)
	}
	r, err = chat(ctx, c, long(nil))
	if err != nil || r.final == nil {
		t.Errorf("prompt over num_ctx, default truncation: err %v, final %v; want a complete answer", err, r.final)
	} else if n := r.final.PromptEvalCount; n < 1 || n > 256 {
		t.Errorf("prompt over num_ctx, default truncation: prompt_eval_count %d, want 1..256", n)
	} else {
		t.Logf("prompt over num_ctx, default truncation: 200, prompt_eval_count %d", n)
	}

	if _, err := chat(ctx, c, &api.ChatRequest{Model: "no-such-model", Messages: req(modelA).Messages}); !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
		t.Errorf("missing model: err %v, want a StatusError 404", err)
	}

	// Crash and restart.
	s.mu.Lock()
	pid := s.proc.cmd.Process.Pid
	s.mu.Unlock()
	start := time.Now()
	s.Kill()
	t.Logf("kill: %v", time.Since(start).Round(time.Millisecond))
	if err := signalGroup(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("after Kill, process group %d: %v; want it gone (no orphaned runner)", pid, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	if _, err := c.Version(short); err == nil {
		t.Error("the server still answers after Kill")
	}
	cancelShort()

	start = time.Now()
	s.Restart(t)
	t.Logf("restart: %v", time.Since(start).Round(time.Millisecond))
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("version after restart: %v", err)
	}
	list, err = c.List(ctx)
	if err != nil {
		t.Fatalf("list after restart: %v", err)
	}
	if len(list.Models) != 2 {
		t.Errorf("after restart %d models listed, want the 2 created before", len(list.Models))
	}
	after, err := chat(ctx, c, req(modelA))
	if err != nil || after.final == nil {
		t.Fatalf("chat after restart: %v (final %v)", err, after.final)
	}
	if after.content != first.content {
		t.Errorf("after restart the same request gave %q, before %q", after.content, first.content)
	}
	if !strings.Contains(s.Log(), "=== ollamatest: restart ===") {
		t.Error("Log() lacks the restart marker")
	}
}

func TestRealStartWithEnvStopRestart(t *testing.T) {
	s := StartWithEnv(t, "OLLAMA_CONTEXT_LENGTH=2048", "OLLAMA_MAX_LOADED_MODELS=1")
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The server logs its configuration on start.
	for _, want := range []string{
		"OLLAMA_CONTEXT_LENGTH:2048", "OLLAMA_MAX_LOADED_MODELS:1", "OLLAMA_KEEP_ALIVE:24h0m0s",
		"OLLAMA_HOST:" + s.Host, "OLLAMA_MODELS:" + s.ModelsDir(),
	} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("server log lacks %q", want)
		}
	}

	// Restart of a running server stops it first.
	s.Restart(t)
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("version after restart of a running server: %v", err)
	}

	s.mu.Lock()
	pid := s.proc.cmd.Process.Pid
	s.mu.Unlock()
	start := time.Now()
	s.Stop()
	t.Logf("stop: %v", time.Since(start).Round(time.Millisecond))
	if groupAlive(pid) {
		t.Errorf("process group %d still has processes after Stop", pid)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := c.Version(short); err == nil {
		t.Error("the server still answers after Stop")
	}
	s.Stop() // a no-op now
	s.Kill() // likewise
}
