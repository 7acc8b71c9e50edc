package ollamatest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/prompt"
)

// A tiny model's byte-level vocabulary makes every byte a token, so the
// helpful-only system prompt (about 26,100 bytes) is about 26,000 tokens and
// takes minutes to evaluate on a CPU. TinyOptions.Merges gives the model a
// GPT-2-style BPE merge list instead, learned by TrainMerges from the
// project's own prompt text (PromptMerges), which brings that prompt to a
// size like a real tokenizer's.
//
// The server runs a llama model in its llama.cpp runner, which tokenizes with
// llama.cpp's BPE tokenizer: the text is split into words by the regular
// expressions of the pre-tokenizer "default" (preTokenize copies them), then
// merges are applied inside each word by rank. TrainMerges and Tokenize split
// text the same way, so Tokenize predicts the server's token count.

// DefaultMerges is the number of merges PromptMerges callers are advised to
// ask for: it brings the helpful-only system prompt (26,116 bytes) to 7,464
// tokens, 3.50 bytes a token, and adds about 0.8 MB to a tiny model (1.3 MB in
// all). Training on the same text stops at about 1,600 merges, when no pair
// repeats; the prompt is then about 7,300 tokens.
const DefaultMerges = 1500

// PromptMerges learns n merges (see TrainMerges) from the text the probe
// sends with its built-in helpful-only scenario: the rendered system prompt,
// one rendered user turn and every fourth request of the built-in data set.
func PromptMerges(n int) ([]string, error) {
	s, err := prompt.Source{}.Load("helpful-only")
	if err != nil {
		return nil, fmt.Errorf("ollamatest: %w", err)
	}
	set, err := dataset.Builtin()
	if err != nil {
		return nil, fmt.Errorf("ollamatest: %w", err)
	}
	user, err := s.User(true, set.Requests[0].Request)
	if err != nil {
		return nil, fmt.Errorf("ollamatest: %w", err)
	}
	texts := []string{s.System, user}
	for i := 4; i < len(set.Requests); i += 4 {
		texts = append(texts, set.Requests[i].Request)
	}
	return TrainMerges(texts, n), nil
}

// TrainMerges learns up to n byte-level BPE merges from texts, the way
// GPT-2's tokenizer was trained: each text is split into words as the
// server's tokenizer will split it (preTokenize), every word starts as its
// bytes, and the most frequent pair of adjacent tokens is merged, again and
// again. A tie goes to the pair whose left, then right, token sorts first, so
// the same texts always give the same merges. It stops early when no pair
// occurs twice.
//
// A merge is "left right", both spelled in GPT-2's byte-to-unicode alphabet
// (a space is "Ġ", a newline "Ċ"), as tokenizer.ggml.merges holds them; the
// token it makes is left+right.
func TrainMerges(texts []string, n int) []string {
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range preTokenize(t) {
			counts[w]++
		}
	}
	vocab := make([]string, 0, 256+n) // token id -> spelling
	ids := map[string]int{}
	for i, r := range byteToUnicode() {
		vocab = append(vocab, string(r))
		ids[string(r)] = i
	}

	type pair struct{ a, b int }
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	words := make([][]int, len(keys))
	freq := make([]int, len(keys))
	pairs := map[pair]int{}
	where := map[pair][]int{} // words that hold (or held) the pair
	addPairs := func(w, sign int) {
		s := words[w]
		for i := 0; i+1 < len(s); i++ {
			p := pair{s[i], s[i+1]}
			pairs[p] += sign * freq[w]
			if pairs[p] == 0 {
				delete(pairs, p)
			}
			if sign > 0 {
				where[p] = append(where[p], w)
			}
		}
	}
	for w, k := range keys {
		freq[w] = counts[k]
		for i := range len(k) {
			words[w] = append(words[w], int(k[i]))
		}
		addPairs(w, 1)
	}

	banned := map[pair]bool{}
	merges := make([]string, 0, n)
	for len(merges) < n {
		best, bestN := pair{}, 0
		for p, c := range pairs {
			if banned[p] {
				continue
			}
			if c > bestN || c == bestN && cmp.Or(
				strings.Compare(vocab[p.a], vocab[best.a]),
				strings.Compare(vocab[p.b], vocab[best.b])) < 0 {
				best, bestN = p, c
			}
		}
		if bestN < 2 {
			break
		}
		tok := vocab[best.a] + vocab[best.b]
		if tok == tinyBOSText || tok == tinyEOSText {
			banned[best] = true // a control token cannot be a merge's result
			continue
		}
		id, ok := ids[tok]
		if !ok {
			id = len(vocab)
			vocab = append(vocab, tok)
			ids[tok] = id
		}
		merges = append(merges, vocab[best.a]+" "+vocab[best.b])

		ws := where[best]
		delete(where, best)
		seen := map[int]bool{}
		for _, w := range ws {
			if seen[w] {
				continue
			}
			seen[w] = true
			addPairs(w, -1)
			s := words[w]
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best.a && s[i+1] == best.b {
					out = append(out, id)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			words[w] = out
			addPairs(w, 1)
		}
	}
	return merges
}

// Tokenize splits text into the tokens of a tiny model with the given
// merges, spelled in GPT-2's byte-to-unicode alphabet, as the server's
// llama.cpp tokenizer does: words by preTokenize, then within each word the
// merge of lowest rank first (the leftmost on a tie). It adds no BOS token
// and treats no text as a control token.
func Tokenize(text string, merges []string) []string {
	rank := make(map[[2]string]int, len(merges))
	for i, m := range merges {
		a, b, ok := strings.Cut(m, " ")
		if _, dup := rank[[2]string{a, b}]; ok && !dup {
			rank[[2]string{a, b}] = i
		}
	}
	b2u := byteToUnicode()
	var out []string
	for _, w := range preTokenize(text) {
		syms := make([]string, len(w))
		for i := range len(w) {
			syms[i] = string(b2u[w[i]])
		}
		for len(syms) > 1 {
			at, best := -1, len(merges)
			for i := 0; i+1 < len(syms); i++ {
				if r, ok := rank[[2]string{syms[i], syms[i+1]}]; ok && r < best {
					at, best = i, r
				}
			}
			if at < 0 {
				break
			}
			syms[at] += syms[at+1]
			syms = slices.Delete(syms, at+1, at+2)
		}
		out = append(out, syms...)
	}
	return out
}

// preTokenize splits text into words as llama.cpp does for a BPE vocabulary
// whose tokenizer.ggml.pre is "default" (llm_tokenizer_bpe in
// llama-vocab.cpp, unicode_regex_split in unicode.cpp): four regular
// expressions, each splitting every piece the previous ones left, where both
// a match and the text between matches become pieces:
//
//  1. [\p{P}\$\+<=>\^~\|]+ : runs of punctuation (all ASCII punctuation and
//     symbols but the backquote) apart from everything else;
//  2. GPT-2's 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//     (llama.cpp's own implementation, which does not look past a piece):
//     words with their leading space;
//  3. \p{N}+ : runs of digits;
//  4. [0-9][0-9][0-9] : groups of three ASCII digits.
func preTokenize(text string) []string {
	cpts := []rune(text)
	type span struct{ lo, hi int }
	pieces := []span{{0, len(cpts)}}
	stage := func(split func(lo, hi int, emit func(lo, hi int))) {
		var next []span
		for _, p := range pieces {
			split(p.lo, p.hi, func(lo, hi int) {
				if hi > lo {
					next = append(next, span{lo, hi})
				}
			})
		}
		pieces = next
	}
	runs := func(pred func(rune) bool) func(lo, hi int, emit func(lo, hi int)) {
		return func(lo, hi int, emit func(lo, hi int)) {
			for lo < hi {
				in, e := pred(cpts[lo]), lo+1
				for e < hi && pred(cpts[e]) == in {
					e++
				}
				emit(lo, e)
				lo = e
			}
		}
	}

	stage(runs(isSplitPunct))
	stage(func(lo, hi int, emit func(lo, hi int)) { gpt2Split(cpts, lo, hi, emit) })
	stage(runs(unicode.IsNumber))
	stage(func(lo, hi int, emit func(lo, hi int)) {
		start := lo
		for i := lo; i+3 <= hi; {
			if isDigit(cpts[i]) && isDigit(cpts[i+1]) && isDigit(cpts[i+2]) {
				emit(start, i)
				emit(i, i+3)
				i += 3
				start = i
			} else {
				i++
			}
		}
		emit(start, hi)
	})

	words := make([]string, len(pieces))
	for i, p := range pieces {
		words[i] = string(cpts[p.lo:p.hi])
	}
	return words
}

// gpt2Split is llama.cpp's unicode_regex_split_custom_gpt2 on cpts[lo:hi].
func gpt2Split(cpts []rune, lo, hi int, emit func(lo, hi int)) {
	const none = -1
	at := func(i int) rune {
		if i >= lo && i < hi {
			return cpts[i]
		}
		return none
	}
	letter := func(i int) bool { return at(i) != none && unicode.IsLetter(at(i)) }
	number := func(i int) bool { return at(i) != none && unicode.IsNumber(at(i)) }
	space := func(i int) bool { return at(i) != none && unicode.IsSpace(at(i)) }
	other := func(i int) bool { return at(i) != none && !space(i) && !letter(i) && !number(i) }

	prev := lo
	token := func(end int) {
		emit(prev, end)
		prev = end
	}
	for pos := lo; pos < hi; {
		c := cpts[pos]
		if c == '\'' && pos+1 < hi {
			switch n := cpts[pos+1]; {
			case n == 's' || n == 't' || n == 'm' || n == 'd':
				pos += 2
				token(pos)
				continue
			case pos+2 < hi && (n == 'r' && cpts[pos+2] == 'e' || n == 'v' && cpts[pos+2] == 'e' || n == 'l' && cpts[pos+2] == 'l'):
				pos += 3
				token(pos)
				continue
			}
		}
		q := pos // the position whose class decides, past a leading space
		if c == ' ' {
			q = pos + 1
		}
		var class func(int) bool
		switch {
		case letter(q):
			class = letter
		case number(q):
			class = number
		case other(q):
			class = other
		}
		if class != nil {
			pos = q
			for class(pos) {
				pos++
			}
			token(pos)
			continue
		}
		ws := 0
		for space(pos + ws) {
			ws++
		}
		switch {
		case ws > 1 && at(pos+ws) != none: // \s+(?!\S)
			pos += ws - 1
		case ws > 0: // \s+
			pos += ws
		default:
			pos++
		}
		token(pos)
	}
}

// isSplitPunct reports whether the first pre-tokenizer expression,
// [\p{P}\$\+<=>\^~\|], matches r. llama.cpp matches it with std::regex on a
// copy of the text where every non-ASCII character stands for its class; in
// ASCII, \p{P} is !"#%&'()*,-./:;?@[\]_{} there.
func isSplitPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return strings.ContainsRune("!\"#%&'()*,-./:;?@[\\]_{}$+<=>^~|", r)
	}
	return unicode.IsPunct(r) && !unicode.IsSpace(r)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }
