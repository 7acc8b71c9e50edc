package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/probe-eval/probe/internal/record"
)

// Ollama is a Client for an Ollama server, through the official client.
type Ollama struct {
	c    *api.Client
	base *url.URL
}

// DialTimeout bounds connecting to the server, so a host that is down or
// unroutable fails within seconds instead of hanging.
const DialTimeout = 5 * time.Second

// NewOllama returns a client for the server at base.
func NewOllama(base *url.URL) *Ollama {
	return &Ollama{c: api.NewClient(base, httpClient()), base: base}
}

// httpClient is the HTTP client of every back end: a host that is down or
// unroutable fails within DialTimeout, and nothing else is bounded here,
// since a long prompt may take minutes before its first token; the caller's
// context bounds the whole request.
func httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 0
	return &http.Client{Transport: tr}
}

// Host returns the server's address.
func (o *Ollama) Host() string { return o.base.String() }

// Chat streams one chat and assembles the answer.
func (o *Ollama) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content, Thinking: m.Thinking}
	}
	no := false
	ar := &api.ChatRequest{
		Model:    req.Model,
		Messages: msgs,
		Options:  req.Options,
		Format:   req.Format,
		// Refuse an over-long prompt instead of silently dropping its
		// beginning, and stop at the end of the window instead of shifting
		// the system prompt out of it.
		Truncate: &no,
		Shift:    &no,
	}
	if req.KeepAlive > 0 {
		ar.KeepAlive = &api.Duration{Duration: req.KeepAlive}
	}
	if req.Think != nil {
		ar.Think = &api.ThinkValue{Value: req.Think}
	}
	var (
		content, thinking strings.Builder
		done              bool
	)
	out := ChatResponse{Backend: BackendOllama, Host: o.Host()}
	err := o.c.Chat(ctx, ar, func(r api.ChatResponse) error {
		content.WriteString(r.Message.Content)
		thinking.WriteString(r.Message.Thinking)
		if req.Stream != nil && (r.Message.Content != "" || r.Message.Thinking != "") {
			req.Stream(Chunk{Content: r.Message.Content, Thinking: r.Message.Thinking})
		}
		if r.Done {
			done = true
			out.DoneReason = r.DoneReason
			out.PromptTokens = r.PromptEvalCount
			out.OutputTokens = r.EvalCount
			out.PromptEval = r.PromptEvalDuration
			out.Eval = r.EvalDuration
			out.Load = r.LoadDuration
			out.Model = r.Model
		}
		return nil
	})
	out.Content, out.Thinking = content.String(), thinking.String()
	if err != nil {
		return &out, o.wrap(err, req.Model)
	}
	if !done {
		// The official client returns nil when the connection drops mid
		// stream; only a final chunk makes an answer whole.
		return &out, fmt.Errorf("%s: %w", req.Model, ErrIncomplete)
	}
	return &out, nil
}

// Show describes a model, with its digest from the server's list.
func (o *Ollama) Show(ctx context.Context, model string) (*ModelInfo, error) {
	sr, err := o.c.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return nil, o.wrap(err, model)
	}
	info := &ModelInfo{
		Model:        model,
		ID:           record.CanonicalModel(model),
		Backend:      BackendOllama,
		Host:         o.Host(),
		Family:       sr.Details.Family,
		Parameters:   sr.Details.ParameterSize,
		Quantization: sr.Details.QuantizationLevel,
	}
	for k, v := range sr.ModelInfo {
		if strings.HasSuffix(k, ".context_length") {
			if f, ok := v.(float64); ok {
				info.ContextLength = int(f)
			}
		}
	}
	chat := len(sr.Capabilities) == 0
	for _, c := range sr.Capabilities {
		switch string(c) {
		case "thinking":
			info.Thinking = true
		case "completion":
			chat = true
		}
	}
	info.NoChat = !chat
	lr, err := o.c.List(ctx)
	if err != nil {
		return nil, o.wrap(err, model)
	}
	for _, m := range lr.Models {
		if SameModel(m.Name, model) || SameModel(m.Model, model) {
			info.Digest, info.ID = m.Digest, m.Name
			break
		}
	}
	return info, nil
}

// Local is a model an Ollama server lists.
type Local struct {
	// Name is the model as the server lists it, e.g. "llama3.2:3b".
	Name string
	// Size is its size on disk in bytes.
	Size int64
	// Remote is set for a model the server only forwards to another host
	// (Ollama's cloud models), which needs the network.
	Remote     bool
	Family     string
	Parameters string
}

// List returns the models the server has, in the server's order.
func (o *Ollama) List(ctx context.Context) ([]Local, error) {
	lr, err := o.c.List(ctx)
	if err != nil {
		return nil, o.wrap(err, "")
	}
	out := make([]Local, 0, len(lr.Models))
	for _, m := range lr.Models {
		out = append(out, Local{
			Name: m.Name, Size: m.Size, Remote: m.RemoteHost != "" || m.RemoteModel != "",
			Family: m.Details.Family, Parameters: m.Details.ParameterSize,
		})
	}
	return out, nil
}

// Version returns the server's version.
func (o *Ollama) Version(ctx context.Context) (string, error) {
	v, err := o.c.Version(ctx)
	if err != nil {
		return "", o.wrap(err, "")
	}
	return v, nil
}

// Pull downloads model.
func (o *Ollama) Pull(ctx context.Context, model string, fn func(Progress)) error {
	err := o.c.Pull(ctx, &api.PullRequest{Model: model}, func(p api.ProgressResponse) error {
		if fn != nil {
			fn(Progress{Status: p.Status, Digest: p.Digest, Total: p.Total, Completed: p.Completed})
		}
		return nil
	})
	if err != nil {
		return o.wrap(err, model)
	}
	return nil
}

// wrap turns the client's errors into this package's kinds.
func (o *Ollama) wrap(err error, model string) error {
	var se api.StatusError
	if errors.As(err, &se) {
		e := &ServerError{Status: se.StatusCode, Msg: se.ErrorMessage}
		switch {
		case se.StatusCode == http.StatusNotFound:
			e.kind = ErrModelNotFound
			return fmt.Errorf("model %q is not on the Ollama server at %s; pull it with: ollama pull %s (or run probe check --pull): %w", model, o.Host(), model, e)
		case se.StatusCode == http.StatusBadRequest && strings.Contains(se.ErrorMessage, "exceeds the context length"):
			e.kind = ErrContextExceeded
		case se.StatusCode >= 500:
			e.kind = ErrServer
		case se.StatusCode >= 400:
			e.kind = ErrBadRequest
		}
		return fmt.Errorf("%s: %w", model, e)
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", model, &ServerError{Status: ae.StatusCode, Msg: "unauthorized", kind: ErrBadRequest})
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
		cause := error(opErr)
		if opErr == nil {
			cause = err
		}
		return &unreachableError{server: "Ollama", host: o.Host(), cause: cause, hint: "start it with `ollama serve`, or point OLLAMA_HOST or --host at it"}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &unreachableError{server: "Ollama", host: o.Host(), cause: dnsErr, hint: "check OLLAMA_HOST or --host"}
	}
	// A connection cut while the answer streamed, or an error line in the
	// stream: the server failed mid answer.
	return fmt.Errorf("%s: %v: %w", model, err, ErrServer)
}

// unreachableError says which server could not be reached, why, and what
// to do; it matches ErrUnreachable.
type unreachableError struct {
	server, host, hint string
	cause              error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s at %s (%v): %s", e.server, e.host, e.cause, e.hint)
}

func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }

func (e *unreachableError) Unwrap() error { return e.cause }
