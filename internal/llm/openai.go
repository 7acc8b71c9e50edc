package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/respjson"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAI is a Client for an OpenAI-compatible server, through the official
// client: vLLM, SGLang, llama.cpp's server, LM Studio, a gateway in front of
// them, or Ollama's own /v1. It streams chat completions, keeps the
// reasoning such servers send beside the answer, and asks for structured
// output through response_format. Such a server sets its context length
// when it starts, and some cut a longer prompt silently: check it with
// CheckTruncation before a run.
type OpenAI struct {
	chat   openai.ChatCompletionService
	models openai.ModelService
	base   *url.URL
}

// NewOpenAI returns a client for the API at base (e.g.
// "http://gpu-1:8000/v1"), sending apiKey as a bearer token unless it is
// empty. It reads no OPENAI_* variable of the environment: the server and
// the key come from the configuration only, so a key meant for one server
// never goes to another. It makes a single attempt per call; Policy
// retries.
func NewOpenAI(base *url.URL, apiKey string) *OpenAI {
	opts := []option.RequestOption{
		option.WithBaseURL(base.String()),
		option.WithHTTPClient(httpClient()),
		option.WithMaxRetries(0),
	}
	if apiKey != "" {
		opts = append(opts, option.WithAPIKey(apiKey))
	}
	// The services are built directly, not through openai.NewClient, which
	// would add OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_CUSTOM_HEADERS
	// from the environment.
	return &OpenAI{chat: openai.NewChatCompletionService(opts...), models: openai.NewModelService(opts...), base: base}
}

// Host returns the base URL.
func (o *OpenAI) Host() string { return o.base.String() }

// Chat streams one chat completion and assembles the answer. An answer is
// whole only when the server gave it a finish_reason; usage, asked for with
// stream_options.include_usage, gives the token counts.
func (o *OpenAI) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	params, err := openAIParams(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", req.Model, ErrBadRequest, err)
	}
	var resp *http.Response
	stream := o.chat.NewStreaming(ctx, params, capture(&resp))
	defer stream.Close()
	out := ChatResponse{Backend: BackendOpenAI, Host: o.Host()}
	var content, reasoning strings.Builder
	done := false
	for stream.Next() {
		ch := stream.Current()
		if ch.Model != "" {
			out.Model = ch.Model
		}
		if ch.JSON.Usage.Valid() {
			out.PromptTokens = int(ch.Usage.PromptTokens)
			out.OutputTokens = int(ch.Usage.CompletionTokens)
			out.CachedTokens = int(ch.Usage.PromptTokensDetails.CachedTokens)
		}
		for _, c := range ch.Choices {
			if c.Index != 0 {
				continue
			}
			think := reasoningText(c.Delta.JSON.ExtraFields)
			content.WriteString(c.Delta.Content)
			reasoning.WriteString(think)
			if req.Stream != nil && (c.Delta.Content != "" || think != "") {
				req.Stream(Chunk{Content: c.Delta.Content, Thinking: think})
			}
			if c.FinishReason != "" {
				out.DoneReason, done = c.FinishReason, true
			}
		}
	}
	out.Content, out.Thinking = content.String(), reasoning.String()
	if err := stream.Err(); err != nil {
		return &out, o.wrap(err, resp, req.Model)
	}
	if !done {
		return &out, fmt.Errorf("%s: %w", req.Model, ErrIncomplete)
	}
	return &out, nil
}

// reasoningText is the reasoning in a streamed delta: vLLM and SGLang send
// it as reasoning_content, Ollama's /v1 and newer vLLM as reasoning.
func reasoningText(extra map[string]respjson.Field) string {
	for _, k := range []string{"reasoning_content", "reasoning"} {
		var s string
		if f, ok := extra[k]; ok && json.Unmarshal([]byte(f.Raw()), &s) == nil {
			return s
		}
	}
	return ""
}

// openAIParams maps a request to the chat-completions API; options it
// cannot carry are an error (see CheckOptions), never dropped.
func openAIParams(req *ChatRequest) (openai.ChatCompletionNewParams, error) {
	p := openai.ChatCompletionNewParams{
		Model:         shared.ChatModel(req.Model),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	if err := CheckOptions(BackendOpenAI, req.Options); err != nil {
		return p, err
	}
	if err := CheckThink(BackendOpenAI, req.Think); err != nil {
		return p, err
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			p.Messages = append(p.Messages, openai.SystemMessage(m.Content))
		case "user":
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		case "assistant":
			// Reasoning is not sent back: these servers neither expect nor
			// read it in the history.
			p.Messages = append(p.Messages, openai.AssistantMessage(m.Content))
		default:
			return p, fmt.Errorf("message role %q has no OpenAI-compatible form", m.Role)
		}
	}
	for k, v := range req.Options {
		switch k {
		case "temperature":
			f, _ := asFloat(v)
			p.Temperature = openai.Float(f)
		case "top_p":
			f, _ := asFloat(v)
			p.TopP = openai.Float(f)
		case "seed":
			n, _ := asInt(v)
			p.Seed = openai.Int(n)
		case "num_predict":
			// Ollama reads a negative num_predict as no bound, which the
			// API says by leaving max_tokens out.
			if n, _ := asInt(v); n > 0 {
				p.MaxTokens = openai.Int(n)
			}
		}
	}
	// KeepAlive has no form here: such a server keeps its models loaded.
	if effort, ok := reasoningEffort(req.Think); ok {
		p.ReasoningEffort = shared.ReasoningEffort(effort)
	}
	if len(req.Format) > 0 {
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "answer", Schema: req.Format},
			},
		}
	}
	return p, nil
}

// Show finds model in the server's /v1/models. The id there is what the
// server reports; vLLM also gives its context length (max_model_len). No
// digest: the API does not say which weights stand behind an id.
func (o *OpenAI) Show(ctx context.Context, model string) (*ModelInfo, error) {
	var resp *http.Response
	page, err := o.models.List(ctx, capture(&resp))
	if err != nil {
		return nil, o.wrap(err, resp, model)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
		if !SameModel(m.ID, model) {
			continue
		}
		info := &ModelInfo{Model: model, ID: m.ID, Backend: BackendOpenAI, Host: o.Host()}
		if f, ok := m.JSON.ExtraFields["max_model_len"]; ok {
			var n int
			if json.Unmarshal([]byte(f.Raw()), &n) == nil {
				info.ContextLength = n
			}
		}
		return info, nil
	}
	e := &ServerError{Status: http.StatusNotFound, Msg: "not in /v1/models", kind: ErrModelNotFound}
	return nil, fmt.Errorf("model %q is not served at %s (it serves: %s): %w", model, o.Host(), listOr(ids, "nothing"), e)
}

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	if len(s) > 10 {
		s = append(s[:10:10], "...")
	}
	return strings.Join(s, ", ")
}

// Version returns "", since the API has no version call; it still asks the
// server for its models, so that a server that is down is found here as it
// is with Ollama.
func (o *OpenAI) Version(ctx context.Context) (string, error) {
	var resp *http.Response
	if _, err := o.models.List(ctx, capture(&resp)); err != nil {
		return "", o.wrap(err, resp, "")
	}
	return "", nil
}

// Pull fails: the API cannot download models; the server's operator loads
// them.
func (o *OpenAI) Pull(ctx context.Context, model string, fn func(Progress)) error {
	return fmt.Errorf("pull %s: %w: an OpenAI-compatible server loads its models when it starts; start it with %s", model, errors.ErrUnsupported, model)
}

// capture keeps the HTTP response of a request, so that an error whose body
// the client could not read (an "error" that is a string, or a message at
// the top level as older vLLM and SGLang send it) still gives its status and
// message.
func capture(dst **http.Response) option.RequestOption {
	return option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		*dst = resp
		return resp, err
	})
}

// wrap turns the client's errors into this package's kinds; resp is the
// HTTP response when there was one.
func (o *OpenAI) wrap(err error, resp *http.Response, model string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ae *openai.Error
	status, msg, code := 0, "", ""
	switch {
	case errors.As(err, &ae):
		status, msg, code = ae.StatusCode, ae.Message, ae.Code
		if msg == "" {
			msg = bodyMessage(ae.Response)
		}
	case resp != nil && resp.StatusCode >= 400:
		status, msg = resp.StatusCode, bodyMessage(resp)
	}
	if status != 0 {
		return o.statusError(status, msg, code, model)
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %s: %w", model, se.Message, ErrServer)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
		cause := error(opErr)
		if opErr == nil {
			cause = err
		}
		return &unreachableError{server: "the OpenAI-compatible server", host: o.Host(), cause: cause,
			hint: "start it, or correct the model's host in models.toml (the API's base URL, e.g. http://gpu-1:8000/v1)"}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &unreachableError{server: "the OpenAI-compatible server", host: o.Host(), cause: dnsErr, hint: "check the model's host in models.toml"}
	}
	// The connection was cut while the answer streamed.
	return fmt.Errorf("%s: %v: %w", model, err, ErrServer)
}

// statusError gives an HTTP error its kind. Servers word a prompt that does
// not fit in their own ways; these are the wordings of vLLM ("maximum
// context length", "longer than the maximum model length"), SGLang ("longer
// than the model's context length", "exceeds the maximum allowed length"),
// llama.cpp ("exceeds the available context size"), Ollama and OpenAI
// (code context_length_exceeded).
func (o *OpenAI) statusError(status int, msg, code, model string) error {
	e := &ServerError{Status: status, Msg: msg}
	low := strings.ToLower(msg)
	switch {
	case status == http.StatusNotFound && strings.Contains(low, "model"):
		e.kind = ErrModelNotFound
		return fmt.Errorf("model %q is not served at %s: %w", model, o.Host(), e)
	case status == http.StatusNotFound:
		e.kind = ErrBadRequest
		return fmt.Errorf("%s: is %s the API's base URL (usually ending in /v1)? %w", model, o.Host(), e)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.kind = ErrBadRequest
		return fmt.Errorf("%s: the server at %s refused the API key (set api_key_env to the variable that holds it): %w", model, o.Host(), e)
	case code == "context_length_exceeded" || containsAny(low, "context length", "maximum model length", "max_model_len",
		"context size", "maximum allowed length", "context window"):
		e.kind = ErrContextExceeded
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status == http.StatusTooManyRequests || status >= 500:
		e.kind = ErrServer
	default:
		e.kind = ErrBadRequest
	}
	return fmt.Errorf("%s: %w", model, e)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// bodyMessage reads the message of an error response, whatever its shape:
// {"error": {"message": ...}}, {"error": "..."}, {"message": ...} or
// {"detail": ...}; else the start of the body.
func bodyMessage(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  any             `json:"detail"`
	}
	if json.Unmarshal(b, &v) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			return s
		case v.Message != "":
			return v.Message
		case v.Detail != nil:
			return fmt.Sprint(v.Detail)
		}
	}
	// A page of HTML or a stack trace: its start says enough.
	return strings.ToValidUTF8(strings.TrimSpace(string(b[:min(len(b), 300)])), "")
}
