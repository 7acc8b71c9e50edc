package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Back ends a Client speaks to.
const (
	// BackendOllama is Ollama's native API (/api/chat), where num_ctx is
	// sent with every request and an over-long prompt is refused.
	BackendOllama = "ollama"
	// BackendOpenAI is the OpenAI-compatible chat-completions API
	// (/v1/chat/completions) of vLLM, SGLang, llama.cpp's server, LM Studio,
	// gateways in front of them, and Ollama's own /v1.
	BackendOpenAI = "openai"
)

// Client is what the probe needs from a model server.
type Client interface {
	// Chat sends one conversation and returns the whole answer. An answer
	// counts only when the server said it was done; a stream that ended
	// early is ErrIncomplete.
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
	// Show describes a model the server has; ErrModelNotFound if it has not.
	Show(ctx context.Context, model string) (*ModelInfo, error)
	// Version is the server's version.
	Version(ctx context.Context) (string, error)
	// Pull downloads a model, reporting progress to fn.
	Pull(ctx context.Context, model string, fn func(Progress)) error
	// Host names the server in messages.
	Host() string
}

// Message is one turn of a conversation.
type Message struct {
	Role     string
	Content  string
	Thinking string
}

// ChatRequest is one chat call.
type ChatRequest struct {
	Model    string
	Messages []Message
	// Options are the server's sampling and load options; num_ctx belongs
	// here and must be set.
	Options map[string]any
	// Think is nil (server default), a bool, or a level string.
	Think     any
	KeepAlive time.Duration
	// Format, when set, is a JSON schema the answer must follow.
	Format json.RawMessage
	// CacheKey groups requests that share a prompt prefix (the model and
	// system prompt), so that Hosts sends them to a host whose cache
	// already holds it. Empty means the model and the first message.
	CacheKey string
	// Stream, when set, is given every piece of the answer as it arrives,
	// from the goroutine that sends the request; the whole answer still
	// comes back from Chat. Pieces of an attempt that failed have been
	// shown already: a chunk with a higher Attempt starts the answer anew.
	Stream func(Chunk)
}

// Chunk is a piece of an answer as it streams in.
type Chunk struct {
	Content  string
	Thinking string
	// Attempt is the attempt of Policy.Chat that sent it, from 1; 0 when
	// the request was sent by Client.Chat alone.
	Attempt int
}

// ChatResponse is a complete answer.
type ChatResponse struct {
	Content    string
	Thinking   string
	DoneReason string
	// PromptTokens counts the whole prompt, cached or not.
	PromptTokens int
	OutputTokens int
	// CachedTokens is the part of PromptTokens the server says it took
	// from its cache; 0 when it does not say (Ollama's native API reports
	// PromptEval instead).
	CachedTokens int
	PromptEval   time.Duration
	Eval         time.Duration
	Load         time.Duration

	// Backend and Host name the server that answered (Host is its base
	// URL), and Model is the model id it reported, for the record.
	Backend string
	Host    string
	Model   string
}

// ModelInfo is what the server says about a model.
type ModelInfo struct {
	// Model is the name asked for; ID is the server's own id for it (its
	// canonical Ollama name, or the id in an OpenAI-compatible /v1/models).
	Model string
	ID    string
	// Digest identifies the weights; empty when the server does not say
	// (OpenAI-compatible servers).
	Digest string
	// Backend and Host name the server (Host is its base URL; for several
	// hosts, all of them, comma-separated).
	Backend string
	Host    string
	// ContextLength is the context the model was trained for; 0 if unknown.
	ContextLength int
	Thinking      bool
	// NoChat is set when the server lists what the model can do and chat
	// ("completion") is not among it: an embedding model.
	NoChat       bool
	Family       string
	Parameters   string
	Quantization string
}

// Progress is one step of a pull.
type Progress struct {
	Status    string
	Digest    string
	Total     int64
	Completed int64
}

// Errors the runner tells apart. They are wrapped with the details.
var (
	// ErrUnreachable means no connection to the server could be made.
	ErrUnreachable = errors.New("server not reachable")
	// ErrModelNotFound means the server does not have the model.
	ErrModelNotFound = errors.New("model not found")
	// ErrContextExceeded means the prompt is longer than num_ctx and the
	// server refused it rather than cut it.
	ErrContextExceeded = errors.New("prompt exceeds the context length")
	// ErrIncomplete means the answer stream ended before the server said
	// it was done.
	ErrIncomplete = errors.New("answer stream ended before it was done")
	// ErrBadRequest means the server rejected the request as malformed for
	// this model (for example thinking on a model that cannot think).
	ErrBadRequest = errors.New("request rejected by the server")
	// ErrServer means the server failed while answering.
	ErrServer = errors.New("server error")
)

// Retryable reports whether trying the same request again may succeed:
// the server could not be reached, failed, or cut its answer short. A
// deadline that passed (ErrTimeout) is not counted here; Policy decides.
func Retryable(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrIncomplete) || errors.Is(err, ErrServer)
}

// ServerError carries the HTTP status of a failed request.
type ServerError struct {
	Status int
	Msg    string
	kind   error
}

func (e *ServerError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Msg) }

// Unwrap lets errors.Is match the error's kind.
func (e *ServerError) Unwrap() error { return e.kind }
