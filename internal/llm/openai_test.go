package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
)

func openAIClient(t *testing.T, f *fakeollama.Server, key string) *llm.OpenAI {
	t.Helper()
	u, err := url.Parse(f.URL + "/v1")
	if err != nil {
		t.Fatal(err)
	}
	return llm.NewOpenAI(u, key)
}

func TestOpenAIChatAssemblesStream(t *testing.T) {
	for _, key := range []string{"reasoning_content", "reasoning"} {
		t.Run(key, func(t *testing.T) {
			f := fakeollama.New(t, fakeollama.Model{Name: "qwen3:8b"})
			f.ReasoningKey = key
			f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
				return fakeollama.Reply{Thinking: "let me see", Chunks: []string{"<OUTPUT>", "hi", "</OUTPUT>"}, DoneReason: "length", PromptTokens: 4321, OutputTokens: 3}
			}
			c := openAIClient(t, f, "")
			resp, err := c.Chat(context.Background(), &llm.ChatRequest{Model: "qwen3:8b", Messages: []llm.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}})
			if err != nil {
				t.Fatal(err)
			}
			want := llm.ChatResponse{Content: "<OUTPUT>hi</OUTPUT>", Thinking: "let me see", DoneReason: "length", PromptTokens: 4321, OutputTokens: 3,
				Backend: "openai", Host: f.URL + "/v1", Model: "qwen3:8b"}
			if *resp != want {
				t.Errorf("response\n got %+v\nwant %+v", *resp, want)
			}
		})
	}
}

// What goes over the wire: the options a model table sets, under the
// API's names; usage asked for; the judge's schema as response_format;
// thinking as reasoning_effort; and nothing of Ollama's own.
func TestOpenAIRequest(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	c := openAIClient(t, f, "")
	schema := json.RawMessage(`{"type":"object","properties":{"holds":{"type":"boolean"}},"required":["holds"]}`)
	_, err := c.Chat(context.Background(), &llm.ChatRequest{
		Model: "m",
		Messages: []llm.Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "q"},
			{Role: "assistant", Content: "a", Thinking: "t"}, {Role: "user", Content: "<NEXT/>"}},
		Options: map[string]any{"temperature": 0.7, "top_p": 0.9, "seed": 7, "num_predict": 256},
		Think:   "high", Format: schema,
	})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(f.Chats()[0].Raw, &body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"model": "m", "temperature": 0.7, "top_p": 0.9, "seed": 7.0, "max_tokens": 256.0, "stream": true, "reasoning_effort": "high"} {
		if body[k] != want {
			t.Errorf("%s = %v, want %v", k, body[k], want)
		}
	}
	if so, _ := body["stream_options"].(map[string]any); so["include_usage"] != true {
		t.Errorf("stream_options = %v, want include_usage", body["stream_options"])
	}
	rf, _ := body["response_format"].(map[string]any)
	js, _ := rf["json_schema"].(map[string]any)
	if rf["type"] != "json_schema" || js["name"] == "" {
		t.Errorf("response_format = %v", rf)
	}
	if got, _ := json.Marshal(js["schema"]); !jsonEqual(t, got, schema) {
		t.Errorf("schema sent %s, want %s", got, schema)
	}
	msgs, _ := body["messages"].([]any)
	var roles []string
	for _, m := range msgs {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if strings.Join(roles, " ") != "system user assistant user" {
		t.Errorf("roles %v", roles)
	}
	raw := string(f.Chats()[0].Raw)
	for _, never := range []string{`"num_ctx"`, `"num_predict"`, `"keep_alive"`, `"options"`, `"truncate"`} {
		if strings.Contains(raw, never) {
			t.Errorf("request carries %s: %s", never, raw)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// An option the API cannot carry is an error before anything is sent.
func TestOpenAIRefusesOllamaOptions(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	_, err := openAIClient(t, f, "").Chat(context.Background(), &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: "q"}},
		Options: map[string]any{"num_ctx": 8192}})
	var oe *llm.OptionError
	if !errors.Is(err, llm.ErrBadRequest) || !errors.As(err, &oe) || oe.Key != "num_ctx" {
		t.Errorf("err = %v, want ErrBadRequest with an OptionError for num_ctx", err)
	}
	if len(f.Chats()) != 0 {
		t.Error("the request was sent")
	}
}

func TestOpenAIErrors(t *testing.T) {
	vllm := `{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`
	tests := []struct {
		name  string
		reply fakeollama.Reply
		model string
		want  error
		msg   string
	}{
		{"missing model", fakeollama.Reply{}, "nope", llm.ErrModelNotFound, "not served at"},
		{"vLLM context length", fakeollama.Reply{Status: 400, Error: "This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens."}, "m", llm.ErrContextExceeded, "maximum context length"},
		{"vLLM context length, older body", fakeollama.Reply{Status: 400, Body: vllm}, "m", llm.ErrContextExceeded, "4096 tokens"},
		{"vLLM decoder prompt", fakeollama.Reply{Status: 400, Error: "The decoder prompt (length 9000) is longer than the maximum model length of 8192."}, "m", llm.ErrContextExceeded, ""},
		{"SGLang", fakeollama.Reply{Status: 400, Body: `{"object":"error","message":"The input (61709 tokens) is longer than the model's context length (40960 tokens).","type":"BadRequestError","param":null,"code":400}`}, "m", llm.ErrContextExceeded, ""},
		{"llama.cpp", fakeollama.Reply{Status: 400, Body: `{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}`}, "m", llm.ErrContextExceeded, ""},
		{"error as a string", fakeollama.Reply{Status: 400, Body: `{"error":"the input length exceeds the context length"}`}, "m", llm.ErrContextExceeded, "exceeds the context length"},
		{"other bad request", fakeollama.Reply{Status: 400, Error: "invalid reasoning value"}, "m", llm.ErrBadRequest, "invalid reasoning value"},
		{"rate limited", fakeollama.Reply{Status: 429, Error: "slow down"}, "m", llm.ErrServer, ""},
		{"server error", fakeollama.Reply{Status: 500, Error: "engine died"}, "m", llm.ErrServer, "engine died"},
		{"HTML error page", fakeollama.Reply{Status: 502, Body: "<html>Bad Gateway</html>"}, "m", llm.ErrServer, "Bad Gateway"},
		{"stream cut", fakeollama.Reply{Chunks: []string{"half an"}, Cut: true}, "m", nil, ""},
		{"error inside stream", fakeollama.Reply{Chunks: []string{"a"}, StreamError: "runner crashed"}, "m", llm.ErrServer, "runner crashed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeollama.New(t, fakeollama.Model{Name: "m"})
			f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply { return tt.reply }
			_, err := openAIClient(t, f, "").Chat(context.Background(), &llm.ChatRequest{Model: tt.model, Messages: []llm.Message{{Role: "user", Content: "q"}}})
			if tt.want == nil {
				// A cut stream is incomplete or a failed read, depending on
				// where the connection broke: either is tried again.
				if err == nil || !llm.Retryable(err) {
					t.Fatalf("err = %v, want a retryable error", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	c := openAIClient(t, f, "")
	f.Close()
	_, err := c.Chat(context.Background(), &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: "q"}}})
	if !errors.Is(err, llm.ErrUnreachable) || !strings.Contains(err.Error(), "OpenAI-compatible server at "+f.URL+"/v1") {
		t.Errorf("err = %v, want ErrUnreachable naming the server", err)
	}
	if _, err := c.Version(context.Background()); !errors.Is(err, llm.ErrUnreachable) {
		t.Errorf("Version: err = %v, want ErrUnreachable", err)
	}
}

// The key comes from the configuration only: the client never sends
// OPENAI_API_KEY, nor goes to OPENAI_BASE_URL.
func TestOpenAIKey(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	f.APIKey = "secret"
	t.Setenv("OPENAI_API_KEY", "secret")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	req := &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: "q"}}}
	_, err := openAIClient(t, f, "").Chat(context.Background(), req)
	if !errors.Is(err, llm.ErrBadRequest) || !strings.Contains(err.Error(), "api_key_env") {
		t.Errorf("without a key: err = %v, want the key refused, naming api_key_env", err)
	}
	if _, err := openAIClient(t, f, "secret").Chat(context.Background(), req); err != nil {
		t.Errorf("with the key: %v", err)
	}
}

func TestOpenAIShow(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "tiny", ContextLength: 8192}, fakeollama.Model{Name: "other:1b"})
	c := openAIClient(t, f, "")
	info, err := c.Show(context.Background(), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	want := llm.ModelInfo{Model: "tiny", ID: "tiny:latest", Backend: "openai", Host: f.URL + "/v1", ContextLength: 8192}
	if *info != want {
		t.Errorf("Show\n got %+v\nwant %+v", *info, want)
	}
	_, err = c.Show(context.Background(), "absent")
	if !errors.Is(err, llm.ErrModelNotFound) || !strings.Contains(err.Error(), "other:1b, tiny:latest") {
		t.Errorf("absent model: err = %v, want ErrModelNotFound listing what is served", err)
	}
	if v, err := c.Version(context.Background()); v != "" || err != nil {
		t.Errorf("Version = %q, %v; want unknown and no error", v, err)
	}
	if err := c.Pull(context.Background(), "tiny", nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Pull: err = %v, want unsupported", err)
	}
}
