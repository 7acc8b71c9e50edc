package ollamatest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/fs/ggml"
	"github.com/probe-eval/probe/internal/prompt"
)

func systemPrompt(t *testing.T) string {
	t.Helper()
	s, err := prompt.Source{}.Load("helpful-only")
	if err != nil {
		t.Fatal(err)
	}
	return s.System
}

// unicodeToByte inverts byteToUnicode.
func unicodeToByte() map[rune]byte {
	m := map[rune]byte{}
	for b, r := range byteToUnicode() {
		m[r] = byte(b)
	}
	return m
}

// decode turns tokens spelled in the byte-to-unicode alphabet back into text.
func decode(t *testing.T, tokens []string) string {
	t.Helper()
	u2b := unicodeToByte()
	var b []byte
	for _, tok := range tokens {
		for _, r := range tok {
			c, ok := u2b[r]
			if !ok {
				t.Fatalf("token %q holds %q, not in the byte alphabet", tok, r)
			}
			b = append(b, c)
		}
	}
	return string(b)
}

// The expected splits follow llama.cpp's pre-tokenizer "default"; the
// server's token counts in TestRealBPEModelTokenCount confirm them.
func TestPreTokenize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"Hello world, it's 12345", []string{"Hello", " world", ",", " it", "'", "s", " ", "123", "45"}},
		{"a  b\n\nC", []string{"a", " ", " b", "\n", "\n", "C"}},
		{"end.\n\n", []string{"end", ".", "\n\n"}},
		{"<OUTPUT>x</OUTPUT>", []string{"<", "OUTPUT", ">", "x", "</", "OUTPUT", ">"}},
		{" `code` 20°C × 3", []string{" `", "code", "`", " ", "20", "°", "C", " ×", " ", "3"}},
		{"", nil},
	} {
		if got := preTokenize(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("preTokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	sys := systemPrompt(t)
	if got := strings.Join(preTokenize(sys), ""); got != sys {
		t.Error("the words of the system prompt do not join back into it")
	}
}

func TestTrainMerges(t *testing.T) {
	start := time.Now()
	merges, err := PromptMerges(DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d merges learned in %v", len(merges), time.Since(start))
	if len(merges) != DefaultMerges {
		t.Fatalf("%d merges, want %d", len(merges), DefaultMerges)
	}
	again, err := PromptMerges(DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(merges, again) {
		t.Error("two trainings on the same text gave different merges")
	}
	texts := []string{"the cat sat on the mat", "the hat", "that cat"}
	a := TrainMerges(texts, 20)
	if b := TrainMerges([]string{texts[2], texts[0], texts[1]}, 20); !slices.Equal(a, b) {
		t.Errorf("the order of the texts changed the merges:\n%q\n%q", a, b)
	}
	// "a t" occurs 6 times (cat twice, sat, mat, hat, that), then "t h" 4
	// times (the, the, Ġthe, that), as often as "Ġ c", "c at" ... later.
	if len(a) < 2 || a[0] != "a t" || a[1] != "t h" {
		t.Errorf("merges = %q, want a t then t h first", a)
	}
	if few := TrainMerges(texts, 1000); len(few) >= 1000 {
		t.Errorf("%d merges from a few words: training did not stop when no pair repeats", len(few))
	}

	// Each merge joins two tokens the vocabulary already has.
	have := map[string]bool{}
	for _, r := range byteToUnicode() {
		have[string(r)] = true
	}
	for i, m := range merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok || !have[l] || !have[r] || strings.Contains(r, " ") {
			t.Fatalf("merge %d %q does not join two existing tokens", i, m)
		}
		have[l+r] = true
	}
	if tokens, _, err := tinyVocab(merges); err != nil || len(tokens) != TinyVocabSize+len(merges) {
		t.Errorf("vocabulary of %d tokens (%v), want %d", len(tokens), err, TinyVocabSize+len(merges))
	}

	// The learned merges shorten the system prompt about as much as a real
	// tokenizer would, and decode back to it.
	sys := systemPrompt(t)
	toks := Tokenize(sys, merges)
	ratio := float64(len(sys)) / float64(len(toks))
	t.Logf("system prompt: %d bytes, %d tokens (%.2f bytes a token)", len(sys), len(toks), ratio)
	if ratio < 3 || ratio > 5 || len(toks) < 6000 || len(toks) > 9000 {
		t.Errorf("system prompt of %d bytes is %d tokens, want 6,000-9,000 (3-5 bytes a token)", len(sys), len(toks))
	}
	if got := decode(t, toks); got != sys {
		t.Error("the tokens do not decode back into the system prompt")
	}
	if n := len(Tokenize(sys, nil)); n != len(sys) {
		t.Errorf("without merges: %d tokens for %d bytes", n, len(sys))
	}
}

func TestWriteTinyModelMerges(t *testing.T) {
	merges, err := PromptMerges(DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bpe.gguf")
	if err := WriteTinyModel(p, 1, TinyOptions{Merges: merges}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 2<<20 {
		t.Errorf("file is %d bytes, want under 2 MB", fi.Size())
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
	kv := m.KV()
	vocab := TinyVocabSize + len(merges)
	tokens := kv.Strings("tokenizer.ggml.tokens")
	types := kv.Ints("tokenizer.ggml.token_type")
	if len(tokens) != vocab || len(types) != vocab || kv.Uint("vocab_size") != uint32(vocab) {
		t.Fatalf("%d tokens, %d types, vocab_size %d; want %d", len(tokens), len(types), kv.Uint("vocab_size"), vocab)
	}
	if got := kv.Strings("tokenizer.ggml.merges"); !slices.Equal(got, merges) {
		t.Errorf("merges in the file differ from those given (%d, want %d)", len(got), len(merges))
	}
	l, r, _ := strings.Cut(merges[0], " ")
	if tokens[TinyVocabSize] != l+r || types[TinyVocabSize] != 1 || tokens[TinyBOS] != "<s>" || types[TinyBOS] != 3 {
		t.Errorf("token %d = %q (type %d), want %q (1); BOS %q (%d)", TinyVocabSize, tokens[TinyVocabSize], types[TinyVocabSize], l+r, tokens[TinyBOS], types[TinyBOS])
	}
	for _, tt := range m.Tensors().Items() {
		if (tt.Name == "token_embd.weight" || tt.Name == "output.weight") && !equalShape(tt.Shape, []uint64{64, uint64(vocab)}) {
			t.Errorf("%s has shape %v, want [64 %d]", tt.Name, tt.Shape, vocab)
		}
	}

	for _, tt := range []struct {
		merges []string
		ok     bool
	}{
		{[]string{"b c", "a bc"}, true},
		{[]string{"a b", "b c", "ab c", "a bc"}, true}, // abc twice: one token
		{[]string{"a"}, false},                         // not a pair
		{[]string{"a bc"}, false},                      // bc is not a token yet
		{[]string{"a  b"}, false},                      // " b" is not a token
		{[]string{"< s", "<s >"}, false},               // makes the control token <s>
		{[]string{"<s> a"}, false},                     // joins a control token
	} {
		err := WriteTinyModel(p, 1, TinyOptions{Merges: tt.merges})
		if (err == nil) != tt.ok {
			t.Errorf("merges %q: error %v", tt.merges, err)
		}
	}
	if tokens, _, _ := tinyVocab([]string{"a b", "b c", "ab c", "a bc"}); len(tokens) != TinyVocabSize+3 {
		t.Errorf("%d tokens for merges that make ab, bc and abc, want %d", len(tokens), TinyVocabSize+3)
	}
}

// TestRealBPEModelTokenCount checks against the real server that its
// tokenizer (llama.cpp's, for a llama model) applies the merges exactly as
// Tokenize predicts.
func TestRealBPEModelTokenCount(t *testing.T) {
	s := Start(t)
	merges, err := PromptMerges(DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	s.CreateModelWith(t, "tiny-bpe", 1, TinyOptions{Merges: merges}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sys := systemPrompt(t)
	for i, text := range []string{
		"Hello world, it's 12345 degrees (20°C) × 3 \u2014 fine.\n\n  Next:  `code`!\tdon't   stop\n",
		sys[:4000],
	} {
		r, err := chat(ctx, s.Client(), &api.ChatRequest{
			Model:    "tiny-bpe",
			Messages: []api.Message{{Role: "system", Content: text}, {Role: "user", Content: "Hi"}},
			Options:  map[string]any{"num_predict": 1, "num_ctx": 2048, "temperature": 0},
			Truncate: noTruncate(),
		})
		if err != nil || r.final == nil {
			t.Fatalf("chat: %v (final chunk %v)", err, r.final != nil)
		}
		rendered := "<|system|>\n" + text + "\n<|user|>\nHi\n<|assistant|>\n"
		want := 1 + len(Tokenize(rendered, merges)) // BOS + prompt
		t.Logf("%d bytes: %d tokens predicted, %d by the server (%v evaluating)",
			len(rendered), want, r.final.PromptEvalCount, r.final.PromptEvalDuration)
		if r.final.PromptEvalCount != want {
			t.Errorf("%d bytes: the server counts %d tokens, Tokenize predicts %d", len(rendered), r.final.PromptEvalCount, want)
		}
		if i == 1 && 3*r.final.PromptEvalCount > len(rendered) {
			t.Errorf("%d bytes of the system prompt are %d tokens: the merges hardly apply", len(rendered), r.final.PromptEvalCount)
		}
	}
}
