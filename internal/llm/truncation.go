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
// It returns the first prompt's length in tokens as the server counts it.
func CheckTruncation(ctx context.Context, c Client, req *ChatRequest) (int, error) {
	hs, ok := c.(*Hosts)
	if !ok {
		return checkTruncation(ctx, c, req)
	}
	tokens := 0
	for _, m := range hs.live() {
		n, err := checkTruncation(ctx, m.c, req)
		if err != nil {
			return 0, err
		}
		tokens = max(tokens, n)
	}
	return tokens, nil
}

func checkTruncation(ctx context.Context, c Client, req *ChatRequest) (int, error) {
	if len(req.Messages) == 0 {
		return 0, errors.New("check truncation: no messages")
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
			return 0, fmt.Errorf("the longest prompt does not fit the context of %s (%s): %w", c.Host(), raiseContext(promptBytes(req), answer), err)
		}
		return 0, fmt.Errorf("check that %s keeps whole prompts: %w", c.Host(), err)
	}
	longer := one
	longer.Messages = append([]Message(nil), req.Messages...)
	last := &longer.Messages[len(longer.Messages)-1]
	last.Content += "\n\n" + padding()
	second, err := c.Chat(ctx, &longer)
	switch {
	case errors.Is(err, ErrContextExceeded):
		return first.PromptTokens, nil // it refuses rather than cuts
	case err != nil:
		return 0, fmt.Errorf("check that %s keeps whole prompts: %w", c.Host(), err)
	case first.PromptTokens <= 0 || second.PromptTokens <= 0:
		return 0, fmt.Errorf("%s reports no usage.prompt_tokens: %w; use a server that reports them (vLLM, SGLang, llama.cpp and Ollama do)", c.Host(), ErrCannotCheck)
	case second.PromptTokens <= first.PromptTokens:
		return 0, fmt.Errorf("%w: %s counted %d prompt tokens for the longest prompt and %d with %d more characters, so it cut both to its context and dropped their beginning, the system prompt; %s",
			ErrTruncating, c.Host(), first.PromptTokens, second.PromptTokens, len(last.Content)-len(req.Messages[len(req.Messages)-1].Content),
			raiseContext(promptBytes(req), answer))
	}
	return first.PromptTokens, nil
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

// padding is about PadChars characters of plain text, words a tokenizer
// cannot fold into a few tokens.
func padding() string {
	const line = "This line only makes the prompt longer, to see whether the server counts it. "
	return strings.Repeat(line, (PadChars+len(line)-1)/len(line))
}
