package judge

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/BurntSushi/toml"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
)

// promptFiles holds one folder per question: system.md (the judge's
// instructions), user.tmpl (the turn that carries the transcript),
// schema.json (the answer's format) and, for every question but af,
// question.toml (the labels of its verdicts).
//
//go:embed prompts/*/system.md prompts/*/user.tmpl prompts/*/schema.json prompts/*/question.toml
var promptFiles embed.FS

// Question is one of the judge's questions, loaded from its prompt files.
// A question is data: its kind is its folder's name. The af question is
// the one that reads the reasoning and is labelled by the thresholds (af,
// maybe, no); every other question reads the request and the final output
// only, and labels a verdict with its question.toml's yes or no label.
type Question struct {
	Kind record.Kind
	// Yes and No are the labels of a verdict whose valid votes say, at
	// least half of them or fewer, that the criteria hold; Counted is the
	// one of the two a scenario's rate counts when its outcome rule names
	// this question (compliance: complied; anti-lab: acted). Empty for af.
	Yes, No, Counted string
	System           string
	// Format is the JSON schema sent as the request's format.
	Format json.RawMessage
	// Criteria names the criteria, in the order the schema asks them; a
	// vote is positive when every one holds.
	Criteria []string
	// SHA256 hashes the question's files, each name with its content.
	SHA256 string

	user   *template.Template
	schema *schema
}

// summaryKey is the schema's free-text field beside the criteria.
const summaryKey = "summary"

// ErrUnknownQuestion is returned for a question this version does not have.
var ErrUnknownQuestion = errors.New("unknown judge question")

// LoadQuestion loads the question of kind from the embedded prompt files.
func LoadQuestion(kind record.Kind) (*Question, error) {
	if !questionName.MatchString(string(kind)) {
		return nil, fmt.Errorf("%w %q (have: %s)", ErrUnknownQuestion, kind, strings.Join(QuestionNames(), ", "))
	}
	dir := path.Join("prompts", string(kind))
	if _, err := fs.Stat(promptFiles, path.Join(dir, "system.md")); err != nil {
		return nil, fmt.Errorf("%w %q (have: %s)", ErrUnknownQuestion, kind, strings.Join(QuestionNames(), ", "))
	}
	return loadQuestion(promptFiles, dir, kind)
}

// questionName is what a question folder may be called.
var questionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// QuestionNames lists the questions built into the binary, sorted.
func QuestionNames() []string {
	entries, _ := fs.ReadDir(promptFiles, "prompts")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// labelsMeta is question.toml: how a question's verdicts are labelled. It
// changes no word the judge reads, so it is not in the prompt hash; a
// verdict keeps the label it was given.
type labelsMeta struct {
	Labels struct {
		Yes     string `toml:"yes"`
		No      string `toml:"no"`
		Counted string `toml:"counted"`
	} `toml:"labels"`
}

// labelName is what a verdict label may be called.
var labelName = regexp.MustCompile(`^[a-z][a-z-]*$`)

// readLabels reads and checks the question.toml of a question in dir.
func readLabels(fsys fs.FS, dir string, q *Question) error {
	file := path.Join(dir, "question.toml")
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return fmt.Errorf("judge question %s: %w (every question but af names its labels there)", q.Kind, err)
	}
	var m labelsMeta
	md, err := toml.Decode(string(b), &m)
	if err != nil {
		return fmt.Errorf("judge question %s: question.toml: %w", q.Kind, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("judge question %s: question.toml: unknown key %q (known: labels.yes, labels.no, labels.counted)", q.Kind, und[0].String())
	}
	l := m.Labels
	for _, name := range []string{l.Yes, l.No} {
		switch name {
		case "":
			return fmt.Errorf("judge question %s: question.toml: [labels] needs yes and no", q.Kind)
		case record.LabelUnclassified, record.LabelAF, record.LabelMaybe:
			return fmt.Errorf("judge question %s: question.toml: label %q is the af question's or the judge's own", q.Kind, name)
		}
		if !labelName.MatchString(name) {
			return fmt.Errorf("judge question %s: question.toml: label %q: use lower-case letters and '-'", q.Kind, name)
		}
	}
	switch {
	case l.Yes == l.No:
		return fmt.Errorf("judge question %s: question.toml: yes and no are both %q", q.Kind, l.Yes)
	case l.Counted != l.Yes && l.Counted != l.No:
		return fmt.Errorf("judge question %s: question.toml: counted %q must be the yes label %q or the no label %q", q.Kind, l.Counted, l.Yes, l.No)
	}
	q.Yes, q.No, q.Counted = l.Yes, l.No, l.Counted
	return nil
}

// Other is the label of the outcome a scenario's rate does not count: No
// when Counted is Yes, else Yes.
func (q *Question) Other() string {
	if q.Counted == q.Yes {
		return q.No
	}
	return q.Yes
}

// ReadsReasoning reports whether the question reads the reasoning: only
// af does. Every other question judges what the user received.
func (q *Question) ReadsReasoning() bool { return q.Kind == record.KindAF }

func loadQuestion(fsys fs.FS, dir string, kind record.Kind) (*Question, error) {
	q := &Question{Kind: kind}
	files := map[string][]byte{}
	for _, name := range []string{"system.md", "user.tmpl", "schema.json"} {
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("judge question %s: %w", kind, err)
		}
		files[name] = b
	}
	if kind != record.KindAF {
		if err := readLabels(fsys, dir, q); err != nil {
			return nil, err
		}
	}
	q.SHA256 = hashFiles(files)
	q.System = strings.TrimSpace(string(files["system.md"]))
	t, err := template.New("user.tmpl").Option("missingkey=error").Parse(string(files["user.tmpl"]))
	if err != nil {
		return nil, fmt.Errorf("judge question %s: %w", kind, err)
	}
	q.user = t
	s, err := parseSchema(files["schema.json"])
	if err != nil {
		return nil, fmt.Errorf("judge question %s: schema.json: %w", kind, err)
	}
	q.schema = s
	var compact bytes.Buffer
	if err := json.Compact(&compact, files["schema.json"]); err != nil {
		return nil, fmt.Errorf("judge question %s: schema.json: %w", kind, err)
	}
	q.Format = compact.Bytes()
	for _, r := range s.Required {
		if r == summaryKey {
			continue
		}
		p := s.Properties[r]
		if p.Type != "object" || p.Properties["holds"] == nil || p.Properties["quote"] == nil {
			return nil, fmt.Errorf("judge question %s: schema.json: criterion %q needs holds and quote", kind, r)
		}
		q.Criteria = append(q.Criteria, r)
	}
	if len(q.Criteria) == 0 {
		return nil, fmt.Errorf("judge question %s: schema.json names no criteria", kind)
	}
	return q, nil
}

// hashFiles hashes files by name and content, in name order.
func hashFiles(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Transcript is what the judge reads of one answer.
type Transcript struct {
	Request    string
	Thinking   string
	Scratchpad string
	Output     string
	// Text, when set, is a whole transcript given as one text (as in a
	// labelled evaluation set); it is shown as is.
	Text string
}

// FromSample is the transcript of a recorded sample.
func FromSample(s record.Sample) Transcript {
	return Transcript{Request: s.Request, Thinking: s.Thinking, Scratchpad: s.Scratchpad, Output: s.Output}
}

// HasReasoning reports whether there is reasoning to judge.
func (t Transcript) HasReasoning() bool {
	return strings.TrimSpace(t.Text+t.Thinking+t.Scratchpad) != ""
}

// HasOutput reports whether there is a final output to judge.
func (t Transcript) HasOutput() bool {
	return strings.TrimSpace(t.Text+t.Output) != ""
}

// Eligible reports whether the transcript holds what question kind asks
// about: reasoning for af, a final output for every other question.
func (t Transcript) Eligible(kind record.Kind) bool {
	if kind != record.KindAF {
		return t.HasOutput()
	}
	return t.HasReasoning()
}

// render lays the transcript out for question kind. Only af sees the
// reasoning: every other question (compliance, and those that decide a
// scenario's outcome) sees only the request and the output, so that
// reasoning cannot sway a verdict on what the user received.
func (t Transcript) render(kind record.Kind) string {
	if t.Text != "" {
		return section("transcript", t.Text)
	}
	var parts []string
	add := func(tag, s string) {
		if strings.TrimSpace(s) != "" {
			parts = append(parts, section(tag, s))
		}
	}
	add("request", t.Request)
	if kind == record.KindAF {
		add("thinking", t.Thinking)
		add("scratchpad", t.Scratchpad)
	}
	add("final_output", t.Output)
	return strings.Join(parts, "\n\n")
}

func section(tag, s string) string {
	return "<" + tag + ">\n" + strings.TrimSpace(s) + "\n</" + tag + ">"
}

// Messages builds the chat that asks the question about t.
func (q *Question) Messages(t Transcript) ([]llm.Message, error) {
	var b bytes.Buffer
	if err := q.user.Execute(&b, struct{ Transcript string }{t.render(q.Kind)}); err != nil {
		return nil, fmt.Errorf("judge question %s: render: %w", q.Kind, err)
	}
	return []llm.Message{{Role: "system", Content: q.System}, {Role: "user", Content: b.String()}}, nil
}

// Answer is one valid answer of the judge.
type Answer struct {
	Criteria map[string]record.Criterion
	Summary  string
	// Positive is set when every criterion holds.
	Positive bool
}

// ErrNoQuote means the judge said a criterion holds without quoting the
// transcript: an unsupported yes, asked again like any invalid answer.
var ErrNoQuote = errors.New("criterion marked true without a quote")

// Parse checks a judge's answer against the question's schema and reads
// it. Quotes are looked up in transcript, which is the text the judge saw.
func (q *Question) Parse(answer, transcript string) (Answer, error) {
	v, err := decodeStrict(strings.TrimSpace(answer))
	if err != nil {
		return Answer{}, err
	}
	if err := q.schema.validate("answer", v); err != nil {
		return Answer{}, err
	}
	m := v.(map[string]any)
	a := Answer{Criteria: map[string]record.Criterion{}, Positive: true}
	a.Summary, _ = m[summaryKey].(string)
	hay := normalize(transcript)
	for _, name := range q.Criteria {
		c := m[name].(map[string]any)
		cr := record.Criterion{Holds: c["holds"].(bool), Quote: strings.TrimSpace(c["quote"].(string))}
		if cr.Holds && cr.Quote == "" {
			return Answer{}, fmt.Errorf("answer.%s: %w", name, ErrNoQuote)
		}
		cr.Found = quoteFound(cr.Quote, hay)
		a.Criteria[name] = cr
		a.Positive = a.Positive && cr.Holds
	}
	return a, nil
}

var spaces = regexp.MustCompile(`\s+`)

func normalize(s string) string {
	return strings.TrimSpace(spaces.ReplaceAllString(strings.ToLower(s), " "))
}

// ellipsis splits a quote where the judge left words out.
var ellipsis = regexp.MustCompile(`\.\.\.|…|\[\.\.\.\]`)

// quoteFound reports whether every piece of quote, split at ellipses and
// stripped of quotation marks, occurs in the normalized transcript hay.
func quoteFound(quote, hay string) bool {
	found := false
	for _, piece := range ellipsis.Split(quote, -1) {
		p := normalize(strings.Trim(strings.TrimSpace(piece), `"'“”‘’`))
		if p == "" {
			continue
		}
		if !strings.Contains(hay, p) {
			return false
		}
		found = true
	}
	return found
}
