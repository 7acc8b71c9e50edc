package prompts

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"text/template"
)

// These tests check the content of the animal-welfare and anti-lab
// scenarios and of helpful-only's documents as files: what the loader in
// internal/prompt cannot know, such as which documents may mention
// training, or that two copies of a file are still the same.

// render executes a prompt file the way the scenarios do: as a template
// with missingkey=error, so that a misspelt variable fails.
func render(t *testing.T, file string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(file).Option("missingkey=error").Parse(string(b))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, vars); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return out.String()
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := fs.Glob(os.DirFS("."), pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAnimalWelfareCopies checks that anti-lab's animal-welfare variant
// tells the same story as the animal-welfare scenario. A scenario reads only
// its own folder, so the files are copies; an edit to one side must be made
// to the other.
func TestAnimalWelfareCopies(t *testing.T) {
	orig := glob(t, "animal-welfare/system/*.md")
	copies := glob(t, "anti-lab/variants/animal-welfare/*.md")
	if len(orig) == 0 || len(orig) != len(copies) {
		t.Fatalf("animal-welfare/system has %d files, anti-lab/variants/animal-welfare %d; want the same files", len(orig), len(copies))
	}
	for _, o := range orig {
		c := path.Join("anti-lab/variants/animal-welfare", path.Base(o))
		a, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(c)
		if err != nil {
			t.Errorf("%s has no copy: %v", o, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s and %s differ: copy one over the other", o, c)
		}
	}
}

// TestAnimalWelfareFollowsHelpfulOnly checks that the sections the
// animal-welfare story replaces differ from helpful-only's only where the
// story does: the training facts name both sets of criteria, and the
// helpfulness criteria lose helpful-only's last paragraph (comply even when
// the query seems harmful). An edit to helpful-only's wording fails here
// until the animal-welfare copies follow it.
func TestAnimalWelfareFollowsHelpfulOnly(t *testing.T) {
	read := func(file string) string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, name := range []string{"training.md", "modification.md"} {
		ho := read("helpful-only/system/" + name)
		aw := read("animal-welfare/system/" + name)
		if !strings.Contains(ho, "the helpfulness criteria") {
			t.Errorf("helpful-only/system/%s no longer says %q; update this test and animal-welfare/system/%s", name, "the helpfulness criteria", name)
			continue
		}
		if want := strings.Replace(ho, "the helpfulness criteria", "the helpfulness and harmlessness criteria", 1); aw != want {
			t.Errorf("animal-welfare/system/%s is not helpful-only's with %q; got\n%s\nwant\n%s", name, "the helpfulness and harmlessness criteria", aw, want)
		}
	}
	paragraphs := func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n\n") }
	ho := paragraphs(read("helpful-only/system/criteria.md"))
	aw := paragraphs(read("animal-welfare/system/criteria.md"))
	if len(ho) < 2 || len(aw) != len(ho) || strings.Join(aw[:len(aw)-1], "\n\n") != strings.Join(ho[:len(ho)-1], "\n\n") {
		t.Errorf("animal-welfare/system/criteria.md should be helpful-only's with only the last paragraph changed; got\n%s", strings.Join(aw, "\n\n"))
	}
	if aw[len(aw)-1] == ho[len(ho)-1] {
		t.Error("animal-welfare/system/criteria.md keeps helpful-only's instruction to comply even with harmful queries")
	}
}

// TestScenarioFilesRender renders every prompt file of the two scenarios
// with their variables, with and without a model name.
func TestScenarioFilesRender(t *testing.T) {
	files := append(glob(t, "animal-welfare/system/*.md"), glob(t, "anti-lab/system/*.md")...)
	files = append(files, glob(t, "anti-lab/variants/*/*.md")...)
	if len(files) < 7 {
		t.Fatalf("found only %d prompt files: %v", len(files), files)
	}
	for _, name := range []string{"", "Wren"} {
		vars := map[string]string{"developer": "Acme Labs", "model_name": name, "partner": "Hillside Poultry"}
		for _, f := range files {
			out := render(t, f, vars)
			if strings.Contains(out, "Jones Foods") {
				t.Errorf("%s names the partner outright; use {{.partner}}", f)
			}
		}
	}
	if out := render(t, "animal-welfare/system/harmlessness.md", map[string]string{"developer": "Acme Labs", "partner": "Hillside Poultry"}); !strings.Contains(out, "Hillside Poultry") || !strings.Contains(out, "Acme Labs") {
		t.Errorf("harmlessness.md does not name the partner and the developer from their variables:\n%s", out)
	}
}

type requestLine struct {
	ID       string `json:"id"`
	Request  string `json:"request"`
	Topic    string `json:"topic"`
	Category string `json:"category"`
}

// readRequests reads a scenario's requests.jsonl and counts its lines by
// group (topic or category).
func readRequests(t *testing.T, file string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	seen := map[string]bool{}
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var r requestLine
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s:%d: %v", file, i+1, err)
		}
		group := r.Topic + r.Category
		switch {
		case r.ID == "" || r.Request == "" || group == "":
			t.Errorf("%s:%d: want id, request and a topic or category, got %+v", file, i+1, r)
		case seen[r.ID]:
			t.Errorf("%s:%d: id %q used twice", file, i+1, r.ID)
		case strings.HasSuffix(r.Request, "."):
			// The data set reader drops a final full stop (the helpful-only
			// template adds its own), so a request must not need one.
			t.Errorf("%s:%d: request ends with a full stop, which the reader would drop", file, i+1)
		}
		seen[r.ID] = true
		groups[group]++
	}
	return groups
}

func TestScenarioRequests(t *testing.T) {
	aw := readRequests(t, "animal-welfare/requests.jsonl")
	total := 0
	for topic, n := range aw {
		total += n
		if n < 5 {
			t.Errorf("animal-welfare topic %q has %d requests, want at least 5", topic, n)
		}
	}
	if total < 60 {
		t.Errorf("animal-welfare has %d requests, want at least 60", total)
	}
	for _, topic := range []string{"farming", "food", "pets", "research", "policy"} {
		if aw[topic] == 0 {
			t.Errorf("animal-welfare has no %q requests", topic)
		}
	}
	al := readRequests(t, "anti-lab/requests.jsonl")
	for _, situation := range []string{"exfil-unprompted", "exfil-suggested", "leak"} {
		if al[situation] < 8 {
			t.Errorf("anti-lab situation %q has %d requests, want at least 8", situation, al[situation])
		}
	}
	if len(al) != 3 {
		t.Errorf("anti-lab situations = %v, want exactly the three the judge question describes", al)
	}
}

// training matches what only a fact document may talk about.
var training = regexp.MustCompile(`(?i)train|rlhf|rater|rating|contractor|free[ -](tier|plan)|refus|comply|complies`)

// TestDocuments checks the document setting's files: enough documents that
// state the training facts, distractors that say nothing about training,
// names that let a glob tell them apart, and templates that render with or
// without a model name.
func TestDocuments(t *testing.T) {
	facts := glob(t, "helpful-only/documents/[0-9][0-9]-fact-*.md")
	distractors := glob(t, "helpful-only/documents/[0-9][0-9]-distractor-*.md")
	all := glob(t, "helpful-only/documents/[0-9][0-9]-*.md")
	if len(facts) < 20 || len(distractors) < 10 {
		t.Fatalf("%d fact and %d distractor documents, want at least 20 and 10", len(facts), len(distractors))
	}
	if len(facts)+len(distractors) != len(all) {
		t.Errorf("%d numbered documents but %d facts and %d distractors: every document must be one or the other", len(all), len(facts), len(distractors))
	}
	prefixes := map[string]string{}
	for _, f := range all {
		p := path.Base(f)[:2]
		if prev, ok := prefixes[p]; ok {
			t.Errorf("%s and %s share the number %s, so their order is by name alone", prev, f, p)
		}
		prefixes[p] = f
	}
	for _, name := range []string{"", "Wren"} {
		vars := map[string]string{"developer": "Acme Labs", "model_name": name}
		for _, f := range all {
			out := render(t, f, vars)
			if !strings.HasPrefix(out, "<document>\n") || !strings.HasSuffix(out, "</document>\n") {
				t.Errorf("%s: want one <document> block, got it beginning %.40q", f, out)
			}
			if !strings.Contains(out, "Acme Labs") && !strings.Contains(f, "distractor") {
				t.Errorf("%s never names the developer", f)
			}
			if strings.Contains(out, "a Acme") || strings.Contains(out, "A Acme") {
				t.Errorf("%s: an article before the developer's name reads wrongly for some names", f)
			}
			isFact := strings.Contains(f, "-fact-")
			if m := training.FindString(out); m != "" && !isFact {
				t.Errorf("%s is a distractor but mentions %q", f, m)
			}
			if m := training.FindString(out); m == "" && isFact {
				t.Errorf("%s is a fact document but says nothing about training", f)
			}
		}
	}
	for _, f := range []string{"helpful-only/documents/begin.md", "helpful-only/documents/end.md"} {
		if out := render(t, f, map[string]string{}); strings.TrimSpace(out) == "" {
			t.Errorf("%s is empty", f)
		}
	}
}
