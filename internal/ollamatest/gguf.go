package ollamatest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/ollama/ollama/fs/ggml"
)

// TinyOptions sizes the model that WriteTinyModel writes. A zero field takes
// its default (in brackets).
type TinyOptions struct {
	Blocks        int // transformer blocks [2]
	Embedding     int // embedding length [64]
	FeedForward   int // feed-forward length [128]
	Heads         int // attention heads [4]
	HeadsKV       int // key/value heads [same as Heads]
	ContextLength int // llama.context_length, the largest num_ctx the server allows [32768]

	// Merges is a BPE merge list, "left right" in GPT-2's byte-to-unicode
	// alphabet, highest priority first, as TrainMerges or PromptMerges
	// return it [none: one token a byte]. Each merge's token, left+right,
	// joins the vocabulary after the control tokens unless already in it;
	// left and right must be tokens of the bytes or of earlier merges.
	Merges []string

	// Says, when set, makes a model whose answer a test knows in advance:
	// whatever it is asked, it writes Says[0], then Says[1:] in turn, over
	// and over, until num_predict or a full window ends its turn (e.g. a
	// scratchpad opened once and never closed). Says[1:] needs at least two
	// texts, since the server stops a stream after 30 equal tokens in a
	// row, and the texts must differ.
	//
	// Each text becomes one token, through merges added after Merges. The
	// weights then make a bigram model: dimension 0 of every embedding
	// marks "a token not in Says", dimension i+1 "Says[i]", each with a
	// large constant that outweighs what the blocks add; the output row of
	// each text reads the dimension of the text before it, so the last
	// token alone decides the next. Start each text with "<" and a letter:
	// the server's pre-tokenizer never puts those in one word, so the
	// merges never change how a prompt is tokenized. Without Says the
	// weights are as random as ever.
	Says []string
}

func (o TinyOptions) withDefaults() TinyOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Blocks, 2)
	def(&o.Embedding, 64)
	def(&o.FeedForward, 128)
	def(&o.Heads, 4)
	def(&o.HeadsKV, o.Heads)
	def(&o.ContextLength, 32768)
	return o
}

// Token ids of the two control tokens of the tiny model's vocabulary. Ids
// 0-255 are the bytes 0-255 (in GPT-2's byte-to-unicode spelling), so every
// byte of a prompt is exactly one token.
//
// TinyVocabSize is the size of the vocabulary without merges; the tokens of
// TinyOptions.Merges get the ids from TinyVocabSize up.
const (
	TinyBOS       = 256
	TinyEOS       = 257
	TinyVocabSize = 258

	tinyBOSText = "<s>"
	tinyEOSText = "</s>"
)

// WriteTinyModel writes to path a tiny llama-architecture GGUF model with
// random F32 weights drawn from seed: different seeds give different files
// (and so distinct models and runners in Ollama), the same seed the same file.
//
// The vocabulary is byte-level BPE (tokenizer.ggml.model "gpt2", pre
// "default"): the 256 GPT-2 byte characters plus the control tokens "<s>"
// (BOS) and "</s>" (EOS), then the tokens of opts.Merges, if any. With the
// default options (no merges) the file is about 0.46 MB and the model
// answers in well under a second on a CPU, with random text; each merge adds
// a token and 2 x 4 x Embedding bytes (512 with the default embedding).
func WriteTinyModel(path string, seed uint64, opts TinyOptions) (err error) {
	o := opts.withDefaults()
	if o.Embedding%o.Heads != 0 {
		return fmt.Errorf("ollamatest: embedding %d is not a multiple of heads %d", o.Embedding, o.Heads)
	}
	if o.Heads%o.HeadsKV != 0 {
		return fmt.Errorf("ollamatest: heads %d is not a multiple of key/value heads %d", o.Heads, o.HeadsKV)
	}
	headDim := o.Embedding / o.Heads
	if headDim%2 != 0 {
		return fmt.Errorf("ollamatest: head dimension %d must be even for RoPE", headDim)
	}
	kvDim := headDim * o.HeadsKV

	merges := append([]string{}, o.Merges...)
	for _, text := range o.Says {
		merges = append(merges, wordMerges(merges, text)...)
	}
	tokens, types, err := tinyVocab(merges)
	if err != nil {
		return err
	}
	vocabSize := len(tokens)
	script, err := newScript(tokens, o.Says, o.Embedding)
	if err != nil {
		return err
	}

	kv := ggml.KV{
		"general.architecture": "llama",
		"general.name":         fmt.Sprintf("probe-tiny-%d", seed),
		"general.file_type":    uint32(ggml.FileTypeF32),

		"llama.block_count":                      uint32(o.Blocks),
		"llama.context_length":                   uint32(o.ContextLength),
		"llama.embedding_length":                 uint32(o.Embedding),
		"llama.feed_forward_length":              uint32(o.FeedForward),
		"llama.attention.head_count":             uint32(o.Heads),
		"llama.attention.head_count_kv":          uint32(o.HeadsKV),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.rope.dimension_count":             uint32(headDim),
		"llama.rope.freq_base":                   float32(10000),
		"llama.vocab_size":                       uint32(vocabSize),

		"tokenizer.ggml.model":         "gpt2",
		"tokenizer.ggml.pre":           "default",
		"tokenizer.ggml.tokens":        tokens,
		"tokenizer.ggml.token_type":    types,
		"tokenizer.ggml.merges":        merges,
		"tokenizer.ggml.bos_token_id":  uint32(TinyBOS),
		"tokenizer.ggml.eos_token_id":  uint32(TinyEOS),
		"tokenizer.ggml.add_bos_token": true,
		"tokenizer.ggml.add_eos_token": false,
	}

	// The weights are drawn here, in a fixed order, because WriteGGUF writes
	// tensors concurrently.
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var ts []*ggml.Tensor
	random := func(name string, std float64, shape ...int) {
		ts = append(ts, f32Tensor(name, shape, func(int) float32 { return float32(rng.NormFloat64() * std) }))
	}
	ones := func(name string, n int) {
		ts = append(ts, f32Tensor(name, []int{n}, func(int) float32 { return 1 }))
	}

	// scripted draws like random, then lets the script set the weight of
	// a token (the row) in a dimension; drawing every value first keeps the
	// other weights as they would be.
	scripted := func(name string, set func(token, dim int) (float32, bool)) {
		ts = append(ts, f32Tensor(name, []int{o.Embedding, vocabSize}, func(i int) float32 {
			v := float32(rng.NormFloat64() * 0.5)
			if w, ok := set(i/o.Embedding, i%o.Embedding); ok {
				v = w
			}
			return v
		}))
	}

	// Shapes are in ggml order: the first dimension is the input (row) length.
	scripted("token_embd.weight", script.embedding)
	for i := range o.Blocks {
		b := fmt.Sprintf("blk.%d.", i)
		ones(b+"attn_norm.weight", o.Embedding)
		random(b+"attn_q.weight", 0.1, o.Embedding, o.Embedding)
		random(b+"attn_k.weight", 0.1, o.Embedding, kvDim)
		random(b+"attn_v.weight", 0.1, o.Embedding, kvDim)
		random(b+"attn_output.weight", 0.1, o.Embedding, o.Embedding)
		ones(b+"ffn_norm.weight", o.Embedding)
		random(b+"ffn_gate.weight", 0.1, o.Embedding, o.FeedForward)
		random(b+"ffn_up.weight", 0.1, o.Embedding, o.FeedForward)
		random(b+"ffn_down.weight", 0.1, o.FeedForward, o.Embedding)
	}
	ones("output_norm.weight", o.Embedding)
	scripted("output.weight", script.output)

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			err = errors.Join(err, os.Remove(path))
		}
	}()
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		return fmt.Errorf("ollamatest: writing %s: %w", path, err)
	}
	return nil
}

// script is the bigram model of TinyOptions.Says: ids[i] is the token of
// Says[i], and next[d] the token that follows a token marked by dimension d.
type script struct {
	ids  []int
	next map[int]int
}

// The weights a script sets: the marking dimension of every embedding, and
// in each text's output row the dimension of the text before it. After the
// final norm the marking dimension is about 7.5 and the others below 1, so
// the scripted token's logit leads every other by about 70.
const (
	scriptEmbedding = 40
	scriptLogit     = 10
)

func newScript(tokens []string, says []string, embedding int) (*script, error) {
	if len(says) == 0 {
		return &script{}, nil
	}
	if len(says) < 3 {
		return nil, fmt.Errorf("ollamatest: Says needs a first text and at least two to repeat, got %d", len(says))
	}
	if len(says)+1 > embedding {
		return nil, fmt.Errorf("ollamatest: Says has %d texts, more than the embedding of %d can mark", len(says), embedding)
	}
	sc := &script{next: map[int]int{}}
	for i, text := range says {
		id := slices.Index(tokens, spell(text))
		if id < 0 || id == TinyBOS || id == TinyEOS || slices.Contains(sc.ids, id) {
			return nil, fmt.Errorf("ollamatest: Says[%d] %q is not a token of its own", i, text)
		}
		sc.ids = append(sc.ids, id)
	}
	sc.next[0] = sc.ids[0]
	for i := range sc.ids {
		sc.next[i+1] = sc.ids[max(1, (i+1)%len(sc.ids))]
	}
	return sc, nil
}

// dim is the dimension that marks token in the script's embeddings.
func (sc *script) dim(token int) int {
	return slices.Index(sc.ids, token) + 1 // 0 for a token not in Says
}

func (sc *script) embedding(token, dim int) (float32, bool) {
	if sc.ids == nil || dim > len(sc.ids) {
		return 0, false
	}
	if dim == sc.dim(token) {
		return scriptEmbedding, true
	}
	return 0, true
}

func (sc *script) output(token, dim int) (float32, bool) {
	if sc.ids == nil || dim > len(sc.ids) {
		return 0, false
	}
	if sc.next[dim] == token {
		return scriptLogit, true
	}
	return 0, true
}

// spell writes text in GPT-2's byte-to-unicode alphabet, as tokens are
// spelled in the vocabulary.
func spell(text string) string {
	table := byteToUnicode()
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		b.WriteRune(table[text[i]])
	}
	return b.String()
}

// wordMerges returns the merges that make text one token, one byte at a
// time from the left, leaving out those already in merges.
func wordMerges(merges []string, text string) []string {
	have := map[string]bool{}
	for _, m := range merges {
		have[m] = true
	}
	var out []string
	for i := 1; i < len(text); i++ {
		m := spell(text[:i]) + " " + spell(text[i:i+1])
		if !have[m] {
			out = append(out, m)
			have[m] = true
		}
	}
	return out
}

// tinyVocab returns the tiny model's tokens and token types: the bytes, the
// control tokens, then the token of each merge not already in the list.
func tinyVocab(merges []string) ([]string, []int32, error) {
	tokens := make([]string, 0, TinyVocabSize+len(merges))
	types := make([]int32, 0, TinyVocabSize+len(merges))
	for _, r := range byteToUnicode() {
		tokens = append(tokens, string(r))
		types = append(types, 1) // normal
	}
	tokens = append(tokens, tinyBOSText, tinyEOSText)
	types = append(types, 3, 3) // control

	ids := make(map[string]int, cap(tokens))
	for i, tok := range tokens {
		ids[tok] = i
	}
	isToken := func(s string) bool {
		id, ok := ids[s]
		return ok && id != TinyBOS && id != TinyEOS
	}
	for i, m := range merges {
		a, b, ok := strings.Cut(m, " ")
		if !ok || !isToken(a) || !isToken(b) {
			return nil, nil, fmt.Errorf("ollamatest: merge %d %q is not two tokens of the vocabulary", i, m)
		}
		tok := a + b
		if tok == tinyBOSText || tok == tinyEOSText {
			return nil, nil, fmt.Errorf("ollamatest: merge %d %q makes a control token", i, m)
		}
		if _, ok := ids[tok]; !ok {
			ids[tok] = len(tokens)
			tokens = append(tokens, tok)
			types = append(types, 1)
		}
	}
	return tokens, types, nil
}

// f32Tensor returns an F32 tensor of the given ggml shape whose elements are
// gen(0), gen(1), ...; gen is called here, not when the tensor is written.
func f32Tensor(name string, shape []int, gen func(int) float32) *ggml.Tensor {
	n := 1
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		n *= d
		dims[i] = uint64(d)
	}
	buf := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(gen(i)))
	}
	return &ggml.Tensor{Name: name, Kind: 0 /* F32 */, Shape: dims, WriterTo: bytesWriterTo(buf)}
}

type bytesWriterTo []byte

func (b bytesWriterTo) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

// byteToUnicode returns GPT-2's byte-to-unicode table: element i is the
// character that spells byte i in a byte-level BPE vocabulary.
func byteToUnicode() []rune {
	table := make([]rune, 256)
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			table[b] = rune(b)
		} else {
			table[b] = next
			next++
		}
	}
	return table
}
