package fakeollama

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// openAIRequest is the part of a chat-completions request the fake reads.
type openAIRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content any    `json:"content"`
	} `json:"messages"`
	MaxTokens       *int64   `json:"max_tokens"`
	Temperature     *float64 `json:"temperature"`
	TopP            *float64 `json:"top_p"`
	Seed            *int64   `json:"seed"`
	ReasoningEffort *string  `json:"reasoning_effort"`
	ResponseFormat  *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// chatRequest reads r into the fake's ChatRequest; options keep their JSON
// numbers (float64), as on the native path.
func (r openAIRequest) chatRequest() ChatRequest {
	req := ChatRequest{Model: r.Model, Options: map[string]any{}, Stream: &r.Stream, API: "openai"}
	for _, m := range r.Messages {
		c, _ := m.Content.(string)
		req.Messages = append(req.Messages, Message{Role: m.Role, Content: c})
	}
	if r.MaxTokens != nil {
		req.Options["num_predict"] = float64(*r.MaxTokens)
	}
	if r.Temperature != nil {
		req.Options["temperature"] = *r.Temperature
	}
	if r.TopP != nil {
		req.Options["top_p"] = *r.TopP
	}
	if r.Seed != nil {
		req.Options["seed"] = float64(*r.Seed)
	}
	if r.ReasoningEffort != nil {
		req.Think = *r.ReasoningEffort
	}
	if r.ResponseFormat != nil && r.ResponseFormat.JSONSchema != nil {
		req.Format = r.ResponseFormat.JSONSchema.Schema
	}
	return req
}

func openAIError(status int, msg string) any {
	typ := "invalid_request_error"
	switch {
	case status == 404:
		typ = "not_found_error"
	case status >= 500:
		typ = "api_error"
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}}
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		writeJSON(w, 401, openAIError(401, "invalid api key"))
		return false
	}
	return true
}

func (s *Server) openAIModels(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	var data []map[string]any
	for n, m := range s.models {
		d := map[string]any{"id": n, "object": "model", "created": 1767225600, "owned_by": "library"}
		if m.ContextLength > 0 {
			d["max_model_len"] = m.ContextLength // as vLLM reports it
		}
		data = append(data, d)
	}
	s.mu.Unlock()
	sort.Slice(data, func(i, j int) bool { return data[i]["id"].(string) < data[j]["id"].(string) })
	writeJSON(w, 200, map[string]any{"object": "list", "data": data})
}

func (s *Server) openAIChat(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// The connection went away while the request arrived: a test
		// closed the server's connections. Nobody is left to answer.
		return
	}
	var or openAIRequest
	if err := json.Unmarshal(body, &or); err != nil || !or.Stream {
		s.t.Errorf("fakeollama: bad /v1 chat request (the fake serves streams only): %v: %s", err, body)
		writeJSON(w, 400, openAIError(400, "bad request"))
		return
	}
	req := or.chatRequest()
	req.Raw = body
	rep, ok := s.receive(w, r, req, openAIError)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	event := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1767225600, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
	}
	if rep.Thinking != "" {
		event(chunk(map[string]any{"role": "assistant", s.ReasoningKey: rep.Thinking}, nil))
	}
	for _, c := range rep.Chunks {
		event(chunk(map[string]any{"role": "assistant", "content": c}, nil))
	}
	if rep.StreamError != "" {
		event(map[string]any{"error": map[string]any{"message": rep.StreamError}})
		return
	}
	if rep.Cut {
		cut(w)
		return
	}
	reason := rep.doneReason()
	event(chunk(map[string]any{}, reason))
	if or.StreamOptions != nil && or.StreamOptions.IncludeUsage {
		event(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1767225600, "model": req.Model, "choices": []any{},
			"usage": map[string]any{"prompt_tokens": rep.PromptTokens, "completion_tokens": rep.OutputTokens, "total_tokens": rep.PromptTokens + rep.OutputTokens},
		})
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

// PromptText joins a chat request's message contents, for a Chat function
// that counts prompt tokens the way a byte-level model would.
func PromptText(req ChatRequest) string {
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString(m.Content)
	}
	return b.String()
}
