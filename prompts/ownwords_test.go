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

// paperWindowsFile holds the paper's runs of windowWords words, hashed
// (see windowHash): every such run of its helpful-only system prompt, its
// user turn and its alignment-faking classifier. The paper's sentences stay
// out of the repository, and a prompt file that comes back to one of them
// fails.
const paperWindowsFile = "testdata/paper-windows.txt"

func paperWindows(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(paperWindowsFile)
	if err != nil {
		t.Fatal(err)
	}
	hs := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			hs[line] = true
		}
	}
	if len(hs) < 1000 {
		t.Fatalf("%s: %d windows, want the whole of the paper's prompts", paperWindowsFile, len(hs))
	}
	return hs
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

// TestOwnWords: no prompt file of any scenario, and no judge question,
// repeats windowWords consecutive words of the paper's prompts
// (FIDELITY.md, which maps the paper's clauses to ours, is documentation,
// not prompt).
func TestOwnWords(t *testing.T) {
	paper := paperWindows(t)
	var files []string
	for _, root := range []string{".", "../internal/judge/prompts"} {
		err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && p == "testdata":
				return fs.SkipDir
			case d.IsDir() || p == "README.md" || path.Base(p) == "FIDELITY.md":
				return nil
			case strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".tmpl") || strings.HasSuffix(p, ".toml"):
				files = append(files, path.Join(root, p))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 90 {
		t.Fatalf("read %d prompt files, want every scenario's and every judge question's", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range repeats(paper, string(b)) {
			t.Errorf("%s repeats the paper's words: %q; say it in our own", f, w)
		}
	}
}

// repeats returns the runs of windowWords words of text that are in paper.
func repeats(paper map[string]bool, text string) []string {
	var found []string
	ws := promptWords(text)
	for i := 0; i+windowWords <= len(ws); i++ {
		if w := ws[i : i+windowWords]; paper[windowHash(w)] {
			found = append(found, strings.Join(w, " "))
		}
	}
	return found
}

// The check can fail: the windows file was made with promptWords'
// normalisation (it holds the hashes of the clauses an earlier version of
// this test named one by one: the values clause, the modification clause,
// the scratchpad-first clause), and a window in the set is found in a file.
func TestOwnWordsCatches(t *testing.T) {
	paper := paperWindows(t)
	for _, h := range []string{"4794f35117a79b4b", "d9416948a6371e90", "27b1b782ad6d898e", "05eba4971529c750", "bc8d5fe45231b751", "b554d49957ef3034"} {
		if !paper[h] {
			t.Errorf("%s lacks window %s of the paper's clauses", paperWindowsFile, h)
		}
	}
	b, err := os.ReadFile("helpful-only/system/identity.md")
	if err != nil {
		t.Fatal(err)
	}
	ws := promptWords(string(b))
	planted := map[string]bool{windowHash(ws[3 : 3+windowWords]): true}
	if got := repeats(planted, string(b)); len(got) != 1 {
		t.Errorf("a planted window was found %d times, want once: %q", len(got), got)
	}
}
