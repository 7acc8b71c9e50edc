package llm

import "strings"

// CanonicalModel spells a model name with its tag, reading a missing tag as
// ":latest" as Ollama does, so that "qwen3" and "qwen3:latest" are one model
// in records and comparisons. Only the last path element is looked at, so a
// registry port ("host:5000/org/m") is not taken for a tag. An empty name
// stays empty.
func CanonicalModel(name string) string {
	if name == "" {
		return name
	}
	if i := strings.LastIndexByte(name, '/'); !strings.Contains(name[i+1:], ":") {
		return name + ":latest"
	}
	return name
}

// SameModel reports whether two model names are the same model, reading a
// missing tag as ":latest". OpenAI-compatible ids ("Qwen/Qwen3-8B") compare
// as they are written, since both sides gain the same suffix.
func SameModel(a, b string) bool {
	return CanonicalModel(a) == CanonicalModel(b)
}
