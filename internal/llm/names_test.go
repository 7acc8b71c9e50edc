package llm_test

import (
	"testing"

	"github.com/probe-eval/probe/internal/llm"
)

func TestSameModel(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"llama3", "llama3:latest", true},
		{"llama3:8b", "llama3:latest", false},
		{"me/m", "me/m:latest", true},
		{"host:5000/me/m", "host:5000/me/m:latest", true},
		{"Qwen/Qwen3-8B", "Qwen/Qwen3-8B", true},
		{"Qwen/Qwen3-8B", "Qwen/Qwen3-4B", false},
	} {
		if got := llm.SameModel(tt.a, tt.b); got != tt.want {
			t.Errorf("SameModel(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSizeContext(t *testing.T) {
	tests := []struct {
		bytes, answer, floor, trained int
		want                          int
	}{
		{30000, 1024, 4096, 0, 11264},     // 10000 + 1024, rounded up to 1024
		{0, 1024, 4096, 0, 4096},          // the floor
		{90000, 4096, 4096, 16384, 16384}, // capped at the trained context
		{3000, 4096, 4096, 2048, 2048},    // the cap wins over the floor
		{300, 24, 0, 0, 1024},             // a short prompt and answer
		{24576, 0, 0, 0, 8192},            // exactly a multiple of 1024
		{24579, 0, 0, 0, 9216},            // one token more
	}
	for _, tt := range tests {
		if got := llm.SizeContext(tt.bytes, tt.answer, tt.floor, tt.trained); got != tt.want {
			t.Errorf("SizeContext(%d, %d, %d, %d) = %d, want %d", tt.bytes, tt.answer, tt.floor, tt.trained, got, tt.want)
		}
	}
}
