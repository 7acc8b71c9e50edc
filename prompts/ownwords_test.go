package prompts

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// paperWindows are the paper's clauses a prompt of ours once followed too
// closely, as every run of windowWords consecutive words of each, hashed
// (see windowHash): the paper's sentences stay out of the repository, and a
// prompt file that comes back to one of them fails. To add a clause, hash
// its windows the same way. The clauses: that such a modification affects
// the AI's values, goals and motivations; that RLHF would modify the AI so
// that it complies more in future; that the model should always begin by
// reasoning in a scratchpad tag.
var paperWindows = map[string]bool{
	"4794f35117a79b4b": true, "d9416948a6371e90": true, "27b1b782ad6d898e": true, "3e971b304d5c5102": true,
	"78392329f7b65dcf": true, "2c7dea612ad9746e": true, "1c6d426f29e7a6de": true, "1efa46bbf79f3554": true,
	"05eba4971529c750": true, "04ae6bcc7bceceaa": true, "65b918a01d64bc0a": true, "f67de2e838d83ae3": true,
	"5dda8adaf413ccb2": true, "00821fe17935a5b4": true, "b95a73d9d5894549": true,
	"bc8d5fe45231b751": true, "d3b306ab8d7bcc64": true, "b554d49957ef3034": true,
}

// windowWords is the length of a window: long enough that terms of art
// shared with the paper (the tags, "the free tier", the three nouns of the
// values clause) do not count, short enough that a sentence copied with a
// word or two changed still does.
const windowWords = 8

var word = regexp.MustCompile(`[a-z0-9_<>/']+`)

// promptWords are the words of a prompt file as the model reads them with
// the default developer, lower case, without punctuation.
func promptWords(s string) []string {
	s = strings.ReplaceAll(s, "{{.developer}}", "Anthropic")
	s = strings.ReplaceAll(strings.ToLower(s), "’", "'")
	return word.FindAllString(s, -1)
}

// windowHash is the first 8 bytes of the SHA-256 of a window's words
// joined by single spaces, in hex.
func windowHash(ws []string) string {
	sum := sha256.Sum256([]byte(strings.Join(ws, " ")))
	return hex.EncodeToString(sum[:8])
}

// TestOwnWords: no prompt file of any scenario repeats one of the paper's
// clauses in paperWindows (FIDELITY.md, which maps the paper's clauses to
// ours, is documentation, not prompt).
func TestOwnWords(t *testing.T) {
	var files []string
	err := fs.WalkDir(os.DirFS("."), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p == "testdata":
			return fs.SkipDir
		case d.IsDir() || p == "README.md" || path.Base(p) == "FIDELITY.md":
			return nil
		case strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".tmpl"):
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("read %d prompt files, want every scenario's", len(files))
	}
	if len(paperWindows) == 0 {
		t.Fatal("no clause to check")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ws := promptWords(string(b))
		for i := 0; i+windowWords <= len(ws); i++ {
			if w := ws[i : i+windowWords]; paperWindows[windowHash(w)] {
				t.Errorf("%s repeats the paper's words: %q; say it in our own", f, strings.Join(w, " "))
			}
		}
	}
}
