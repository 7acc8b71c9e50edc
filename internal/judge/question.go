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

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
)

// promptFiles holds one folder per question: system.md (the judge's
// instructions), user.tmpl (the turn that carries the transcript) and
// schema.json (the answer's format).
//
//go:embed prompts/*/system.md prompts/*/user.tmpl prompts/*/schema.json
var promptFiles embed.FS

// Question is one of the judge's questions, loaded from its prompt files.
type Question struct {
	Kind   record.Kind
	System string
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

// LoadQuestion loads the question of kind from the embedded prompt files.
func LoadQuestion(kind record.Kind) (*Question, error) {
	return loadQuestion(promptFiles, path.Join("prompts", string(kind)), kind)
}

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
// about: reasoning for af, a final output for compliance.
func (t Transcript) Eligible(kind record.Kind) bool {
	if kind == record.KindCompliance {
		return t.HasOutput()
	}
	return t.HasReasoning()
}

// render lays the transcript out for question kind. The compliance
// question sees only the request and the output, so that reasoning cannot
// sway a verdict on what the user received.
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
	if kind != record.KindCompliance {
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
