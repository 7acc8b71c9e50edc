package judge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/probe-eval/probe/internal/record"
)

// Item is one labelled transcript of an evaluation set: a line
// {"id", "text", "label"} of a JSONL file. Other keys are ignored, except
// an optional "category" that groups items in the results (the shipped
// set uses it to name its kinds of hard negative).
type Item struct {
	ID       string `json:"id"`
	Text     string `json:"text"`
	Label    bool   `json:"label"`
	Category string `json:"category,omitempty"`
}

// ReadItems reads an evaluation set. Every line must hold an object with a
// non-empty id and text and a boolean label, and ids must be unique;
// mistakes are reported as path:line: message.
func ReadItems(path string) ([]Item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []Item
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var raw struct {
			ID       *string `json:"id"`
			Text     *string `json:"text"`
			Label    *bool   `json:"label"`
			Category string  `json:"category"`
		}
		if err := json.Unmarshal(text, &raw); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		switch {
		case raw.ID == nil || *raw.ID == "":
			return nil, fmt.Errorf("%s:%d: missing \"id\"", path, line)
		case raw.Text == nil || strings.TrimSpace(*raw.Text) == "":
			return nil, fmt.Errorf("%s:%d: missing \"text\"", path, line)
		case raw.Label == nil:
			return nil, fmt.Errorf("%s:%d: missing \"label\" (true or false)", path, line)
		}
		if prev, ok := seen[*raw.ID]; ok {
			return nil, fmt.Errorf("%s:%d: id %q already used on line %d", path, line, *raw.ID, prev)
		}
		seen[*raw.ID] = line
		items = append(items, Item{ID: *raw.ID, Text: *raw.Text, Label: *raw.Label, Category: raw.Category})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no labelled transcripts", path)
	}
	return items, nil
}

// Scored is an item with the judge's verdict on it.
type Scored struct {
	Item     Item            `json:"item"`
	Judgment record.Judgment `json:"judgment"`
}

// Eval asks the af question about every item and returns the verdicts in
// item order. It stops with an error when the judge's server or model is
// gone or ctx ends; a single failed verdict is an unclassified item.
func Eval(ctx context.Context, j *Judge, items []Item, log io.Writer) ([]Scored, error) {
	if log == nil {
		log = io.Discard
	}
	q, err := LoadQuestion(record.KindAF)
	if err != nil {
		return nil, err
	}
	longest := 0
	for _, it := range items {
		longest = max(longest, PromptBytes(q, Transcript{Text: it.Text}))
	}
	if err := j.Prepare(ctx, longest); err != nil {
		return nil, fmt.Errorf("judge %s: %w", j.Model, err)
	}
	fmt.Fprintf(log, "probe: judge %s on %s: %d transcripts, %d votes each at temperature %g, num_ctx %d\n",
		j.Model, j.Client.Host(), len(items), j.Votes, j.Temperature, j.NumCtx)
	out := make([]Scored, 0, len(items))
	for i, it := range items {
		jd, err := j.Ask(ctx, q, Transcript{Text: it.Text})
		if err != nil {
			return out, fmt.Errorf("judge %s: %w", j.Model, err)
		}
		jd.QueryID = it.ID
		out = append(out, Scored{Item: it, Judgment: jd})
		fmt.Fprintf(log, "[%*d/%d] %s (labelled %v) %s %.1fs\n", len(fmt.Sprint(len(items))), i+1, len(items), it.ID, it.Label, describe(jd), float64(jd.DurationMS)/1000)
	}
	return out, nil
}

// Metrics measure a judge against labels. An item is predicted positive
// when its vote fraction reaches Threshold; unclassified items are left
// out of every number and counted apart. A ratio with a zero denominator
// is nil (null in JSON), not zero.
type Metrics struct {
	Items        int     `json:"items"`
	Positives    int     `json:"positives"`
	Negatives    int     `json:"negatives"`
	Unclassified int     `json:"unclassified"`
	Threshold    float64 `json:"threshold"`
	// Confusion at Threshold: labelled positive and judged positive (TP),
	// labelled negative and judged positive (FP), and so on.
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`

	Accuracy  *float64 `json:"accuracy"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	F1        *float64 `json:"f1"`
	// AUROC is the area under the ROC curve of the vote fraction: the
	// chance that a positive item scores above a negative one, ties
	// counting half. It does not depend on Threshold.
	AUROC *float64 `json:"auroc"`

	Categories []Category `json:"categories"`
}

// Category is how the judge did on the items of one category.
type Category struct {
	Name  string `json:"name"`
	Label bool   `json:"label"`
	Items int    `json:"items"`
	// JudgedPositive counts items at or above the threshold, Unclassified
	// those without a verdict.
	JudgedPositive int `json:"judged_positive"`
	Unclassified   int `json:"unclassified"`
}

// Evaluate computes the metrics of scored items at threshold.
func Evaluate(scored []Scored, threshold float64) Metrics {
	m := Metrics{Items: len(scored), Threshold: threshold, Categories: []Category{}}
	var pos, neg []float64
	type catKey struct {
		name  string
		label bool
	}
	cats := map[catKey]*Category{}
	for _, s := range scored {
		if s.Item.Label {
			m.Positives++
		} else {
			m.Negatives++
		}
		ck := catKey{s.Item.Category, s.Item.Label}
		c := cats[ck]
		if c == nil {
			c = &Category{Name: s.Item.Category, Label: s.Item.Label}
			cats[ck] = c
		}
		c.Items++
		if s.Judgment.Label == record.LabelUnclassified {
			m.Unclassified++
			c.Unclassified++
			continue
		}
		f := s.Judgment.Fraction
		predicted := f+eps >= threshold
		if predicted {
			c.JudgedPositive++
		}
		switch {
		case s.Item.Label && predicted:
			m.TP++
		case s.Item.Label:
			m.FN++
		case predicted:
			m.FP++
		default:
			m.TN++
		}
		if s.Item.Label {
			pos = append(pos, f)
		} else {
			neg = append(neg, f)
		}
	}
	m.Accuracy = ratio(m.TP+m.TN, m.TP+m.TN+m.FP+m.FN)
	m.Precision = ratio(m.TP, m.TP+m.FP)
	m.Recall = ratio(m.TP, m.TP+m.FN)
	if m.Precision != nil && m.Recall != nil && *m.Precision+*m.Recall > 0 {
		f1 := 2 * *m.Precision * *m.Recall / (*m.Precision + *m.Recall)
		m.F1 = &f1
	}
	if a, ok := AUROC(pos, neg); ok {
		m.AUROC = &a
	}
	for _, c := range cats {
		m.Categories = append(m.Categories, *c)
	}
	sort.Slice(m.Categories, func(i, j int) bool {
		a, b := m.Categories[i], m.Categories[j]
		if a.Label != b.Label {
			return a.Label
		}
		return a.Name < b.Name
	})
	return m
}

func ratio(a, b int) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

// AUROC is the area under the ROC curve of scores pos (of positive items)
// against neg (of negative ones), computed as the Mann-Whitney statistic:
// the share of (positive, negative) pairs in which the positive scores
// higher, a tie counting one half. ok is false when either side is empty.
func AUROC(pos, neg []float64) (auc float64, ok bool) {
	if len(pos) == 0 || len(neg) == 0 {
		return 0, false
	}
	var wins float64
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				wins++
			case p == n:
				wins += 0.5
			}
		}
	}
	return wins / float64(len(pos)*len(neg)), true
}

// Setup says what was evaluated, for the printed results.
type Setup struct {
	File        string  `json:"file"`
	Judge       string  `json:"judge"`
	Votes       int     `json:"votes"`
	Temperature float64 `json:"temperature"`
	PromptSHA   string  `json:"prompt_sha256"`
}

// WriteMetrics renders m as text, or as JSON when format is "json".
func WriteMetrics(w io.Writer, m Metrics, s Setup, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Setup
			Metrics
		}{s, m})
	case "", "text":
	default:
		return errors.New("unknown format " + format)
	}
	num := func(p *float64, why string) string {
		if p == nil {
			return "undefined (" + why + ")"
		}
		return fmt.Sprintf("%.3f", *p)
	}
	fmt.Fprintf(w, "%s: %d labelled transcripts (%d positive, %d negative)\n", s.File, m.Items, m.Positives, m.Negatives)
	fmt.Fprintf(w, "judge %s, %d votes at temperature %g, prompt sha256 %.12s\n", s.Judge, s.Votes, s.Temperature, s.PromptSHA)
	if m.Unclassified > 0 {
		fmt.Fprintf(w, "unclassified: %d (too few valid votes; left out of every number below)\n", m.Unclassified)
	}
	fmt.Fprintf(w, "\nat threshold %.2f (judged positive when that share of valid votes or more say all four criteria hold):\n", m.Threshold)
	fmt.Fprintf(w, "  accuracy   %s\n", num(m.Accuracy, "no transcript was classified"))
	fmt.Fprintf(w, "  precision  %s\n", num(m.Precision, "nothing was judged positive"))
	fmt.Fprintf(w, "  recall     %s\n", num(m.Recall, "no classified positive"))
	fmt.Fprintf(w, "  F1         %s\n", num(m.F1, "precision or recall undefined or zero"))
	fmt.Fprintf(w, "  AUROC      %s  (of the vote fraction; does not depend on the threshold)\n", num(m.AUROC, "needs classified positives and negatives"))
	fmt.Fprintf(w, "\nconfusion:\n")
	fmt.Fprintf(w, "                    judged positive  judged negative\n")
	fmt.Fprintf(w, "  labelled positive  %15d  %15d\n", m.TP, m.FN)
	fmt.Fprintf(w, "  labelled negative  %15d  %15d\n", m.FP, m.TN)
	named := false
	for _, c := range m.Categories {
		named = named || c.Name != ""
	}
	if named {
		fmt.Fprintf(w, "\nby category:\n")
		for _, c := range m.Categories {
			name := c.Name
			if name == "" {
				name = "(none)"
			}
			label := "negative"
			if c.Label {
				label = "positive"
			}
			fmt.Fprintf(w, "  %-48s %s  %2d of %2d judged positive", name, label, c.JudgedPositive, c.Items)
			if c.Unclassified > 0 {
				fmt.Fprintf(w, ", %d unclassified", c.Unclassified)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
