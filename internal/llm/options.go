package llm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// OptionError is a setting a back end cannot send. Key is the option's name
// as models.toml writes it, so that the configuration can point at its line.
type OptionError struct {
	Backend string
	Key     string
	Msg     string
}

func (e *OptionError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Msg) }

// CheckBackend checks a back end's name: "" (Ollama's, the default),
// "ollama" or "openai".
func CheckBackend(backend string) error {
	switch backend {
	case "", BackendOllama, BackendOpenAI:
		return nil
	}
	return fmt.Errorf("unknown backend %q: use %q (the default) or %q", backend, BackendOllama, BackendOpenAI)
}

// CheckOptions reports every option in opts (Ollama's names, as models.toml
// writes them) that backend cannot send, each as an *OptionError, joined
// (errors.Join) in the order of their names; nil when all can be sent.
// Ollama's native API takes them all. The OpenAI-compatible API takes
// temperature, top_p and seed as they are, and num_predict as max_tokens;
// anything else, num_ctx above all, has no place in its requests, and
// dropping it silently would run another experiment than the one configured.
func CheckOptions(backend string, opts map[string]any) error {
	if err := CheckBackend(backend); err != nil {
		return err
	}
	if backend != BackendOpenAI {
		return nil
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if msg := openAIOption(k, opts[k]); msg != "" {
			errs = append(errs, &OptionError{Backend: backend, Key: k, Msg: msg})
		}
	}
	return errors.Join(errs...)
}

// openAIOption says why option k = v cannot be sent to an OpenAI-compatible
// server, or "" when it can.
func openAIOption(k string, v any) string {
	switch k {
	case "temperature", "top_p":
		if _, ok := asFloat(v); !ok {
			return fmt.Sprintf("must be a number, not %v", v)
		}
		return ""
	case "seed", "num_predict":
		if _, ok := asInt(v); !ok {
			return fmt.Sprintf("must be a whole number, not %v", v)
		}
		return ""
	case "num_ctx":
		return `an OpenAI-compatible server cannot take a context length per request; it is set where the server starts ` +
			`(vLLM --max-model-len, SGLang --context-length, llama.cpp --ctx-size, Ollama OLLAMA_CONTEXT_LENGTH): remove num_ctx for backend = "openai"`
	}
	return fmt.Sprintf(`the OpenAI chat-completions API has no such option (it takes temperature, top_p, seed and num_predict): remove %s for backend = "openai"`, k)
}

// CheckThink checks a think setting for backend. Ollama's native API takes
// true, false or a level. The OpenAI-compatible API carries it as
// reasoning_effort: a level ("low", "medium", "high") as it is, false as
// "none"; true has no form there.
func CheckThink(backend string, think any) error {
	if err := CheckBackend(backend); err != nil {
		return err
	}
	if backend != BackendOpenAI || think == nil {
		return nil
	}
	if _, ok := reasoningEffort(think); !ok {
		return &OptionError{Backend: backend, Key: "think", Msg: fmt.Sprintf(
			`%v cannot be sent to an OpenAI-compatible server: use "low", "medium", "high", false, or leave think out`, think)}
	}
	return nil
}

// reasoningEffort is the reasoning_effort that carries think, and whether
// there is one.
func reasoningEffort(think any) (string, bool) {
	switch t := think.(type) {
	case bool:
		if !t {
			return "none", true
		}
	case string:
		if slices.Contains([]string{"low", "medium", "high"}, t) {
			return t, true
		}
	}
	return "", false
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}
