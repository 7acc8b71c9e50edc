package demo

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/probe-eval/probe/internal/llm"
)

// SuggestedModel is the small model probe demo asks for when the server
// has none that suits it, with its download size: small enough for a
// laptop, and able to follow the scratchpad format more often than not.
const (
	SuggestedModel = "llama3.2:3b"
	SuggestedSize  = "about 2 GB"
)

// charsPerToken is the real average of tokenizers on English text, for
// deciding whether a model's trained context can hold the prompt at all
// (llm.CharsPerToken errs low on purpose, to size windows).
const charsPerToken = 4

// MinContext is the trained context a model needs to answer a prompt of
// promptBytes bytes with room for a short answer.
func MinContext(promptBytes int) int {
	return promptBytes/charsPerToken + 1024
}

// Candidates orders the models a server lists for a demo: smallest first,
// with cloud models, which need the network, left out, and the judge
// (which should not judge its own answers) last.
func Candidates(models []llm.Local, judge string) []llm.Local {
	var out []llm.Local
	for _, m := range models {
		if !m.Remote {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b llm.Local) int {
		aj, bj := judge != "" && llm.SameModel(a.Name, judge), judge != "" && llm.SameModel(b.Name, judge)
		switch {
		case aj != bj && aj:
			return 1
		case aj != bj:
			return -1
		}
		return cmp.Or(cmp.Compare(a.Size, b.Size), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Unsuitable says why a model cannot run the demo, or "" when it can: it
// must be able to chat, and its trained context must hold minContext
// tokens when the server says what it is.
func Unsuitable(info *llm.ModelInfo, minContext int) string {
	switch {
	case info.NoChat:
		return "cannot chat (an embedding model)"
	case info.ContextLength > 0 && info.ContextLength < minContext:
		return fmt.Sprintf("its context of %d tokens cannot hold the prompt (about %d needed)", info.ContextLength, minContext)
	}
	return ""
}
