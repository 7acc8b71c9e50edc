package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
}

// ChatResponse is a complete answer.
type ChatResponse struct {
	Content    string
	Thinking   string
	DoneReason string
	// PromptTokens counts the whole prompt, cached or not.
	PromptTokens int
	OutputTokens int
	PromptEval   time.Duration
	Eval         time.Duration
	Load         time.Duration
}

// ModelInfo is what the server says about a model.
type ModelInfo struct {
	Model  string
	Digest string
	// ContextLength is the context the model was trained for; 0 if unknown.
	ContextLength int
	Thinking      bool
	Family        string
	Parameters    string
	Quantization  string
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

// Retryable reports whether trying the same request again may succeed.
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
