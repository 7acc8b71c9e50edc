package llm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// Errors of CheckTruncation.
var (
	// ErrTruncating means the server cuts a prompt longer than its context
	// and answers the rest as if it were whole.
	ErrTruncating = errors.New("the server cuts long prompts silently")
	// ErrCannotCheck means the server does not report prompt tokens, so
	// nothing tells whether it keeps whole prompts.
	ErrCannotCheck = errors.New("cannot tell whether the server keeps whole prompts")
)

// PadChars is about how many characters CheckTruncation adds to a prompt.
const PadChars = 1000

// Fit is what CheckTruncation saw of a server's context.
type Fit struct {
	// PromptTokens is the checked prompt's length in tokens, as the server
	// counts it.
	PromptTokens int
	// Whole is the longest prompt, in tokens, the server was seen to keep
	// whole: a prompt no longer than it is not cut.
	Whole int
	// Window is the context the server was seen to cut a longer prompt
	// to; a prompt that reaches it may have been cut. It is 0 when no
	// prompt sent was cut.
	Window int
	// Refuses is set when the server refused a longer prompt as too long
	// rather than cut it: it does not cut prompts.
	Refuses bool
}

// Check tells whether a prompt the server counted as tokens long can be
// trusted to be whole: it errs with ErrTruncated when it reached the
// window the server cuts to, and with ErrUnchecked when it is longer than
// any the server was seen to keep whole, on a server not seen to refuse
// long prompts. The zero Fit (nothing checked) trusts every prompt.
func (f Fit) Check(tokens int) error {
	switch {
	case f.Refuses || tokens <= 0:
		return nil
	case f.Window > 0 && tokens >= f.Window:
		return fmt.Errorf("%w: the prompt counted %d tokens, the context %d tokens the server cuts longer prompts to", ErrTruncated, tokens, f.Window)
	case f.Window == 0 && f.Whole > 0 && tokens > f.Whole:
		return fmt.Errorf("%w: the prompt counted %d tokens, and the server was seen to keep prompts whole only up to %d", ErrUnchecked, tokens, f.Whole)
	}
	return nil
}

// Errors of Fit.Check.
var (
	// ErrTruncated means a prompt filled the context a server cuts
	// longer prompts to: it may have lost its beginning.
	ErrTruncated = errors.New("the server may have cut the prompt")
	// ErrUnchecked means a prompt is longer than any the server was seen
	// to keep whole.
	ErrUnchecked = errors.New("cannot tell whether the server kept the prompt whole")
)

// CheckTruncation tells whether a server keeps a prompt whole. It sends req,
// the run's longest prompt, with a one-token answer, then the same with
// about PadChars characters more at the end of its last message. A server
// that keeps whole prompts counts more prompt tokens for the second, or
// refuses it as too long; one that cuts prompts to its context counts the
// same for both (Ollama's /v1 with OLLAMA_CONTEXT_LENGTH=2048 answers 2048
// twice), and CheckTruncation fails with ErrTruncating and how to raise the
// server's context. A first prompt the server refuses as too long fails
// with ErrContextExceeded. On several hosts every live one is checked.
//
// room is how many tokens longer than req the caller's prompts may grow (a
// conversation's later turns). When that is more than the padding, it then
// sends req with about room tokens more: a server that keeps req whole but
// cuts that one has its context, the count it cut to, in Fit.Window, so
// that the caller can tell the prompts it cut; one that keeps it whole
// keeps every prompt up to Fit.Whole tokens.
func CheckTruncation(ctx context.Context, c Client, req *ChatRequest, room int) (Fit, error) {
	hs, ok := c.(*Hosts)
	if !ok {
		return checkTruncation(ctx, c, req, room)
	}
	var out Fit
	for i, m := range hs.live() {
		f, err := checkTruncation(ctx, m.c, req, room)
		if err != nil {
			return Fit{}, err
		}
		if i == 0 {
			out = f
			continue
		}
		// The hosts together: what every one of them keeps.
		out.PromptTokens = max(out.PromptTokens, f.PromptTokens)
		out.Whole = min(out.Whole, f.Whole)
		if f.Window > 0 && (out.Window == 0 || f.Window < out.Window) {
			out.Window = f.Window
		}
		out.Refuses = out.Refuses && f.Refuses
	}
	return out, nil
}

func checkTruncation(ctx context.Context, c Client, req *ChatRequest, room int) (Fit, error) {
	if len(req.Messages) == 0 {
		return Fit{}, errors.New("check truncation: no messages")
	}
	answer := DefaultAnswerTokens
	if n, ok := asInt(req.Options["num_predict"]); ok && n > 0 {
		answer = int(n)
	}
	one := *req
	one.Options = maps.Clone(req.Options)
	if one.Options == nil {
		one.Options = map[string]any{}
	}
	one.Options["num_predict"] = 1
	first, err := c.Chat(ctx, &one)
	if err != nil {
		if errors.Is(err, ErrContextExceeded) {
			return Fit{}, fmt.Errorf("the longest prompt does not fit the context of %s (%s): %w", c.Host(), raiseContext(promptBytes(req), answer), err)
		}
		return Fit{}, fmt.Errorf("check that %s keeps whole prompts: %w", c.Host(), err)
	}
	pad := padding(PadChars)
	second, err := c.Chat(ctx, padded(&one, pad))
	switch {
	case errors.Is(err, ErrContextExceeded):
		// It refuses rather than cuts.
		return Fit{PromptTokens: first.PromptTokens, Whole: first.PromptTokens, Refuses: true}, nil
	case err != nil:
		return Fit{}, fmt.Errorf("check that %s keeps whole prompts: %w", c.Host(), err)
	case first.PromptTokens <= 0 || second.PromptTokens <= 0:
		return Fit{}, fmt.Errorf("%s reports no usage.prompt_tokens: %w; use a server that reports them (vLLM, SGLang, llama.cpp and Ollama do)", c.Host(), ErrCannotCheck)
	case second.PromptTokens <= first.PromptTokens:
		return Fit{}, fmt.Errorf("%w: %s counted %d prompt tokens for the longest prompt and %d with %d more characters, so it cut both to its context and dropped their beginning, the system prompt; %s",
			ErrTruncating, c.Host(), first.PromptTokens, second.PromptTokens, len(pad)+2,
			raiseContext(promptBytes(req), answer))
	}
	fit := Fit{PromptTokens: first.PromptTokens, Whole: second.PromptTokens}
	long := padding(room * CharsPerToken)
	if len(long) <= len(pad) {
		return fit, nil
	}
	third, err := c.Chat(ctx, padded(&one, long))
	switch {
	case errors.Is(err, ErrContextExceeded):
		fit.Refuses = true
		return fit, nil
	case err != nil:
		return Fit{}, fmt.Errorf("check how long a prompt %s keeps whole: %w", c.Host(), err)
	}
	// The padding repeats one line, so it counts as many tokens per line
	// however long it is; a tenth is left for where the lines meet the
	// prompt.
	grew := float64(second.PromptTokens-first.PromptTokens) * float64(len(long)) / float64(len(pad))
	if float64(third.PromptTokens) < float64(first.PromptTokens)+grew*0.9 {
		fit.Window, fit.Whole = third.PromptTokens, first.PromptTokens
		return fit, nil
	}
	fit.Whole = third.PromptTokens
	return fit, nil
}

// padded is req, which has at least one message, with pad after its last
// message's text.
func padded(req *ChatRequest, pad string) *ChatRequest {
	out := *req
	out.Messages = append([]Message(nil), req.Messages...)
	last := &out.Messages[len(out.Messages)-1]
	last.Content += "\n\n" + pad
	return &out
}

// raiseContext says how to give a server the context a prompt needs.
func raiseContext(bytes, answer int) string {
	n := SizeContext(bytes, answer, 0, 0)
	return fmt.Sprintf("restart the server with a context of at least %d tokens (Ollama: OLLAMA_CONTEXT_LENGTH=%d; vLLM: --max-model-len %d; SGLang: --context-length %d; llama.cpp: --ctx-size %d)",
		n, n, n, n, n)
}

func promptBytes(req *ChatRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	return n
}

// padLine is what padding repeats: plain words a tokenizer cannot fold
// into a few tokens.
const padLine = "This line only makes the prompt longer, to see whether the server counts it. "

// padding is at least n characters of padLine repeated.
func padding(n int) string {
	return strings.Repeat(padLine, max((n+len(padLine)-1)/len(padLine), 1))
}
