package llm

import "github.com/probe-eval/probe/internal/record"

// SameModel reports whether two model names are the same model, reading a
// missing tag as ":latest" (record.CanonicalModel, the one spelling of
// model names, which lives with the records so that reading them needs no
// model client). OpenAI-compatible ids ("Qwen/Qwen3-8B") compare as they
// are written, since both sides gain the same suffix.
func SameModel(a, b string) bool {
	return record.CanonicalModel(a) == record.CanonicalModel(b)
}
