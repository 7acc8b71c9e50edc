package ollamatest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
)

// TestWriteTinyModel needs no server: it decodes the file with Ollama's own
// GGUF reader.
func TestWriteTinyModel(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, seed uint64) string {
		p := filepath.Join(dir, name)
		if err := WriteTinyModel(p, seed, TinyOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a1, a2, b := write("a1.gguf", 1), write("a2.gguf", 1), write("b.gguf", 2)

	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	da1, da2, db := read(a1), read(a2), read(b)
	if len(da1) >= 1<<20 {
		t.Errorf("file is %d bytes, want under 1 MB", len(da1))
	}
	if !bytes.Equal(da1, da2) {
		t.Error("the same seed gave different files")
	}
	if bytes.Equal(da1, db) {
		t.Error("different seeds gave the same file")
	}
	if len(da1) != len(db) {
		t.Errorf("sizes differ: %d and %d bytes", len(da1), len(db))
	}

	f, err := os.Open(a1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	kv := m.KV()
	if got := kv.Architecture(); got != "llama" {
		t.Errorf("architecture %q, want llama", got)
	}
	for key, want := range map[string]uint32{
		"block_count": 2, "context_length": 32768, "embedding_length": 64, "feed_forward_length": 128,
		"attention.head_count": 4, "attention.head_count_kv": 4, "rope.dimension_count": 16,
		"tokenizer.ggml.bos_token_id": TinyBOS, "tokenizer.ggml.eos_token_id": TinyEOS,
	} {
		if got := kv.Uint(key); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
	if got := kv.String("tokenizer.ggml.model"); got != "gpt2" {
		t.Errorf("tokenizer.ggml.model = %q", got)
	}
	if got := kv.String("tokenizer.ggml.pre"); got != "default" {
		t.Errorf("tokenizer.ggml.pre = %q", got)
	}
	if got := kv.ContextLength(); got != 32768 {
		t.Errorf("ContextLength() = %d", got)
	}

	tokens := kv.Strings("tokenizer.ggml.tokens")
	types := kv.Ints("tokenizer.ggml.token_type")
	if len(tokens) != TinyVocabSize || len(types) != TinyVocabSize {
		t.Fatalf("%d tokens and %d token types, want %d", len(tokens), len(types), TinyVocabSize)
	}
	seen := map[string]bool{}
	for i, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %d %q is a duplicate", i, tok)
		}
		seen[tok] = true
	}
	// GPT-2 spells space, newline and "A" as "Ġ", "Ċ" and "A".
	for id, want := range map[int]string{' ': "Ġ", '\n': "Ċ", 'A': "A", 0xFF: "ÿ", TinyBOS: "<s>", TinyEOS: "</s>"} {
		if tokens[id] != want {
			t.Errorf("token %d = %q, want %q", id, tokens[id], want)
		}
	}
	if types['A'] != 1 || types[TinyBOS] != 3 || types[TinyEOS] != 3 {
		t.Errorf("token types: 'A' %d, BOS %d, EOS %d; want 1, 3, 3", types['A'], types[TinyBOS], types[TinyEOS])
	}
	if merges, ok := kv["tokenizer.ggml.merges"]; !ok {
		t.Error("tokenizer.ggml.merges missing (llama.cpp requires it for gpt2 vocabularies)")
	} else if n := len(kv.Strings("tokenizer.ggml.merges")); n != 0 {
		t.Errorf("%d merges (%T), want none", n, merges)
	}

	ts := m.Tensors()
	if got, want := len(ts.Items()), 3+9*2; got != want {
		t.Errorf("%d tensors, want %d", got, want)
	}
	shapes := map[string][]uint64{
		"token_embd.weight":        {64, TinyVocabSize},
		"output.weight":            {64, TinyVocabSize},
		"output_norm.weight":       {64},
		"blk.1.attn_k.weight":      {64, 64},
		"blk.1.ffn_down.weight":    {128, 64},
		"blk.0.ffn_gate.weight":    {64, 128},
		"blk.0.attn_output.weight": {64, 64},
	}
	for _, tt := range ts.Items() {
		if tt.Kind != 0 {
			t.Errorf("%s has kind %d, want 0 (F32)", tt.Name, tt.Kind)
		}
		if want, ok := shapes[tt.Name]; ok {
			if !equalShape(tt.Shape, want) {
				t.Errorf("%s has shape %v, want %v", tt.Name, tt.Shape, want)
			}
			delete(shapes, tt.Name)
		}
	}
	for name := range shapes {
		t.Errorf("tensor %s missing", name)
	}
}

func TestWriteTinyModelOptions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteTinyModel(p, 7, TinyOptions{Blocks: 1, Heads: 4, HeadsKV: 2, ContextLength: 1024}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.KV().Uint("attention.head_count_kv"); got != 2 {
		t.Errorf("head_count_kv = %d, want 2", got)
	}
	if got := m.KV().ContextLength(); got != 1024 {
		t.Errorf("context_length = %d, want 1024", got)
	}
	for _, tt := range m.Tensors().Items() {
		if tt.Name == "blk.0.attn_v.weight" && !equalShape(tt.Shape, []uint64{64, 32}) {
			t.Errorf("attn_v shape %v, want [64 32] (2 KV heads of 16)", tt.Shape)
		}
	}

	if err := WriteTinyModel(p, 1, TinyOptions{Embedding: 60, Heads: 8}); err == nil {
		t.Error("embedding 60 with 8 heads: no error")
	}
	if err := WriteTinyModel(p, 1, TinyOptions{Heads: 4, HeadsKV: 3}); err == nil {
		t.Error("4 heads with 3 KV heads: no error")
	}
}

func equalShape(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriteTinyModelSays(t *testing.T) {
	says := []string{"<SCRATCHPAD_REASONING>", "<hmm/>", "<so/>"}
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteTinyModel(p, 3, TinyOptions{Says: says}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	tokens := m.KV().Strings("tokenizer.ggml.tokens")
	merges := m.KV().Strings("tokenizer.ggml.merges")
	// "<SCRATCHPAD_REASONING>" takes 21 merges; "<hmm/>" 5 and "<so/>" 4.
	if len(merges) != 30 || len(tokens) != TinyVocabSize+30 {
		t.Errorf("%d merges and %d tokens, want 30 and %d", len(merges), len(tokens), TinyVocabSize+30)
	}
	for _, text := range says {
		if !slices.Contains(tokens, text) {
			t.Errorf("%q is not a token", text)
		}
	}
	// The merges never apply inside a prompt: "<" and a letter are never
	// in one word for the server's pre-tokenizer.
	text := "Reason in <SCRATCHPAD_REASONING> tags; say <hmm/> or <so/>, then answer in <OUTPUT>."
	if got := len(Tokenize(text, merges)); got != len(text) {
		t.Errorf("%d tokens for %d bytes with the merges of Says, want one a byte", got, len(text))
	}
	for _, bad := range [][]string{{"<a>", "<b>"}, {"<a>", "<b>", "<b>"}, {"</s>", "<a>", "<b>"}} {
		if err := WriteTinyModel(p, 3, TinyOptions{Says: bad}); err == nil {
			t.Errorf("Says %q: no error", bad)
		}
	}
}
