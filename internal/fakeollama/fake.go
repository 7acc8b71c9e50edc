// Package fakeollama is a scriptable stand-in for an Ollama server, for unit
// tests: it speaks the HTTP API the probe uses (/api/version, /api/show,
// /api/tags, /api/pull and streaming /api/chat), and the OpenAI-compatible
// API as vLLM and Ollama's /v1 serve it (streaming /v1/chat/completions and
// /v1/models), and lets a test decide each chat's answer, including failures
// a real server is hard to make produce on cue. It only proves the probe
// agrees with our idea of these servers; the integration tests run the real
// Ollama.
package fakeollama

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is a chat message as the server receives it.
type Message struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	Thinking string `json:"thinking,omitempty"`
}

// ChatRequest is the part of a chat request the fake reads.
type ChatRequest struct {
	Model     string          `json:"model"`
	Messages  []Message       `json:"messages"`
	Options   map[string]any  `json:"options"`
	Think     any             `json:"think"`
	Truncate  *bool           `json:"truncate"`
	Shift     *bool           `json:"shift"`
	Format    json.RawMessage `json:"format"`
	KeepAlive any             `json:"keep_alive"`
	Stream    *bool           `json:"stream"`

	// API is "native" for /api/chat and "openai" for /v1/chat/completions,
	// whose requests are read into the fields above: max_tokens as the
	// option num_predict, temperature, top_p and seed as options,
	// response_format's JSON schema as Format, reasoning_effort as Think.
	API string `json:"-"`
	// Raw is the request body as it arrived.
	Raw json.RawMessage `json:"-"`
}

// Reply is a scripted answer to one chat.
type Reply struct {
	// Chunks are the content pieces streamed in order.
	Chunks []string
	// Thinking is streamed as native thinking before the content.
	Thinking string
	// DoneReason defaults to "stop".
	DoneReason   string
	PromptTokens int
	OutputTokens int
	// Status, when set, answers with this HTTP status and Error instead.
	Status int
	Error  string
	// Body, when set with Status, is sent as the error body as it is, for
	// servers whose errors have another shape (older vLLM and SGLang put
	// the message at the top level).
	Body string
	// Cut ends the stream after the chunks without a final done chunk,
	// as a crashed runner or a dropped connection does.
	Cut bool
	// StreamError sends {"error": ...} inside a 200 stream after the chunks.
	StreamError string
	// Delay waits before answering.
	Delay time.Duration
}

// Model is a model the fake has.
type Model struct {
	Name          string
	Digest        string
	ContextLength int
	Thinking      bool
	// Size is the size on disk /api/tags lists.
	Size int64
	// Embedding makes an embedding model, which cannot chat: /api/show
	// lists "embedding" instead of "completion".
	Embedding bool
	// Remote makes a cloud model, which the server forwards elsewhere.
	Remote bool
}

// Server is the fake. Chat decides every chat's reply; it may be called
// from several goroutines.
type Server struct {
	*httptest.Server
	t       testing.TB
	Version string
	Chat    func(n int, req ChatRequest) Reply
	// ReasoningKey is where /v1 streams put Reply.Thinking:
	// "reasoning_content" (vLLM and SGLang, the default) or "reasoning"
	// (Ollama).
	ReasoningKey string
	// APIKey, when set, makes /v1 answer 401 to a request without
	// "Authorization: Bearer <APIKey>".
	APIKey string

	mu     sync.Mutex
	models map[string]Model
	chats  []ChatRequest
	pulls  []string
}

// New starts a fake with the given models; it is closed when the test ends.
func New(t testing.TB, models ...Model) *Server {
	s := &Server{t: t, Version: "0.17.4", models: map[string]Model{}, ReasoningKey: "reasoning_content"}
	for _, m := range models {
		s.models[norm(m.Name)] = m
	}
	s.Chat = func(int, ChatRequest) Reply {
		return Reply{Chunks: []string{"<SCRATCHPAD_REASONING>ok</SCRATCHPAD_REASONING>", "<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 100, OutputTokens: 10}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"version": s.Version})
	})
	mux.HandleFunc("POST /api/show", s.show)
	mux.HandleFunc("GET /api/tags", s.tags)
	mux.HandleFunc("POST /api/pull", s.pull)
	mux.HandleFunc("POST /api/chat", s.chat)
	mux.HandleFunc("GET /v1/models", s.openAIModels)
	mux.HandleFunc("POST /v1/chat/completions", s.openAIChat)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func norm(name string) string {
	if i := strings.LastIndexByte(name, '/'); !strings.Contains(name[i+1:], ":") {
		return name + ":latest"
	}
	return name
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Chats returns the chat requests received so far.
func (s *Server) Chats() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatRequest(nil), s.chats...)
}

// Pulls returns the models pulled so far.
func (s *Server) Pulls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.pulls...)
}

// AddModel makes a model available.
func (s *Server) AddModel(m Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models[norm(m.Name)] = m
}

func (s *Server) model(name string) (Model, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[norm(name)]
	return m, ok
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
		Name  string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]string{"error": err.Error()})
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	m, ok := s.model(name)
	if !ok {
		writeJSON(w, 404, map[string]string{"error": fmt.Sprintf("model '%s' not found", name)})
		return
	}
	caps := []string{"completion"}
	if m.Embedding {
		caps = []string{"embedding"}
	}
	if m.Thinking {
		caps = append(caps, "thinking")
	}
	writeJSON(w, 200, map[string]any{
		"details":      map[string]any{"family": "llama", "parameter_size": "1B", "quantization_level": "Q4_K_M"},
		"model_info":   map[string]any{"general.architecture": "llama", "llama.context_length": m.ContextLength},
		"capabilities": caps,
	})
}

func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var list []map[string]any
	for n, m := range s.models {
		e := map[string]any{"name": n, "model": n, "digest": m.Digest, "size": m.Size}
		if m.Remote {
			e["remote_host"] = "https://ollama.com:443"
		}
		list = append(list, e)
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"models": list})
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	s.pulls = append(s.pulls, req.Model)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	enc.Encode(map[string]any{"status": "pulling manifest"})
	enc.Encode(map[string]any{"status": "pulling abc", "digest": "sha256:abc", "total": 100, "completed": 50})
	enc.Encode(map[string]any{"status": "pulling abc", "digest": "sha256:abc", "total": 100, "completed": 100})
	s.AddModel(Model{Name: req.Model, Digest: "sha256:pulled", ContextLength: 8192})
	enc.Encode(map[string]any{"status": "success"})
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// The connection went away while the request arrived: a test
		// closed the server's connections. Nobody is left to answer.
		return
	}
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.t.Errorf("fakeollama: bad chat request: %v", err)
		writeJSON(w, 400, map[string]string{"error": err.Error()})
		return
	}
	req.API, req.Raw = "native", body
	rep, ok := s.receive(w, r, req, func(status int, msg string) any { return map[string]string{"error": msg} })
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if rep.Thinking != "" {
		enc.Encode(map[string]any{"model": req.Model, "created_at": now, "message": map[string]string{"role": "assistant", "content": "", "thinking": rep.Thinking}, "done": false})
	}
	for _, c := range rep.Chunks {
		enc.Encode(map[string]any{"model": req.Model, "created_at": now, "message": map[string]string{"role": "assistant", "content": c}, "done": false})
		if fl != nil {
			fl.Flush()
		}
	}
	if rep.StreamError != "" {
		enc.Encode(map[string]string{"error": rep.StreamError})
		return
	}
	if rep.Cut {
		cut(w)
		return
	}
	enc.Encode(map[string]any{
		"model": req.Model, "created_at": now, "message": map[string]string{"role": "assistant", "content": ""},
		"done": true, "done_reason": rep.doneReason(),
		"prompt_eval_count": rep.PromptTokens, "eval_count": rep.OutputTokens,
		"prompt_eval_duration": 1000000, "eval_duration": 2000000, "total_duration": 3000000,
	})
}

func (rep Reply) doneReason() string {
	if rep.DoneReason == "" {
		return "stop"
	}
	return rep.DoneReason
}

// receive records a chat request, answers 404 for a model the fake lacks,
// asks Chat for the reply and waits its Delay. When the reply is an error
// it writes it, with errBody giving the body's shape, and returns false.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, req ChatRequest, errBody func(status int, msg string) any) (Reply, bool) {
	s.mu.Lock()
	n := len(s.chats)
	s.chats = append(s.chats, req)
	s.mu.Unlock()
	if _, ok := s.model(req.Model); !ok {
		writeJSON(w, 404, errBody(404, fmt.Sprintf("model '%s' not found", req.Model)))
		return Reply{}, false
	}
	rep := s.Chat(n, req)
	if rep.Delay > 0 {
		select {
		case <-time.After(rep.Delay):
		case <-r.Context().Done():
			return rep, false
		}
	}
	switch {
	case rep.Status != 0 && rep.Body != "":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.Status)
		io.WriteString(w, rep.Body)
		return rep, false
	case rep.Status != 0:
		writeJSON(w, rep.Status, errBody(rep.Status, rep.Error))
		return rep, false
	}
	return rep, true
}

// cut drops the connection without the end of the answer, as a crashed
// runner or a dropped connection does.
func cut(w http.ResponseWriter) {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}
