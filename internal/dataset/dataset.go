package dataset

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

//go:embed requests.jsonl
var builtin []byte

//go:embed classroom.jsonl
var classroom []byte

// BuiltinName names the built-in data set in run.json and messages.
const BuiltinName = "builtin"

// ClassroomName names the classroom set of probe demo in run.json.
const ClassroomName = "classroom"

// Request is one harmful request.
type Request struct {
	ID       string `json:"id"`
	Category string `json:"category,omitempty"`
	Request  string `json:"request"`
}

// Set is a loaded data set with where it came from and its content hash.
type Set struct {
	Name     string
	Source   string
	SHA256   string
	Requests []Request
	// Selection is ByCategory when a limit took Requests from each
	// category in turn (SelectByCategory); empty when they are the file's,
	// or a prefix of them.
	Selection string
}

// ByCategory names the selection SelectByCategory makes under a limit.
const ByCategory = "by-category"

// Builtin returns the data set shipped with probe.
func Builtin() (*Set, error) {
	return parse(BuiltinName, "embedded", builtin, ".jsonl")
}

// Classroom returns the short set probe demo asks in front of an
// audience: mild requests a model would usually decline (a forged note, a
// mean poem, copied homework), with nothing graphic or dangerous in them.
func Classroom() (*Set, error) {
	return parse(ClassroomName, "embedded", classroom, ".jsonl")
}

// Load reads a user's file: .csv (a goal column, as AdvBench's
// harmful_behaviors.csv; optional id and category columns) or .jsonl /
// .json (objects with id and request, optional category).
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read data set: %w", err)
	}
	return parse(filepath.Base(path), path, b, strings.ToLower(filepath.Ext(path)))
}

// Parse reads a data set from b, in the format its name's extension says
// (.csv, or .jsonl as Load reads them); source names it in messages. A
// scenario's own requests file is read this way.
func Parse(name, source string, b []byte) (*Set, error) {
	return parse(name, source, b, strings.ToLower(filepath.Ext(name)))
}

func parse(name, source string, b []byte, ext string) (*Set, error) {
	var reqs []Request
	var err error
	switch ext {
	case ".csv":
		reqs, err = parseCSV(source, b)
	case ".jsonl", ".json", ".ndjson":
		reqs, err = parseJSONL(source, b)
	default:
		return nil, fmt.Errorf("%s: unknown data set format %q: use .csv (with a goal column) or .jsonl (with id and request)", source, ext)
	}
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no requests", source)
	}
	sum := sha256.Sum256(b)
	return &Set{Name: name, Source: source, SHA256: hex.EncodeToString(sum[:]), Requests: reqs}, nil
}

func parseJSONL(source string, b []byte) ([]Request, error) {
	var out []Request
	seen := map[string]int{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		n := i + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		// A scenario's requests may call their category a topic.
		var line struct {
			Request
			Topic string `json:"topic"`
		}
		if err := dec.Decode(&line); err != nil {
			return nil, fmt.Errorf("%s:%d: %v (want {\"id\": ..., \"request\": ...})", source, n, err)
		}
		r := line.Request
		if r.Category == "" {
			r.Category = line.Topic
		}
		if err := check(&r, seen, n); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, n, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseCSV(source string, b []byte) ([]Request, error) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, csvErr(source, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	goal, ok := col["goal"]
	if !ok {
		goal, ok = col["request"]
	}
	if !ok {
		return nil, fmt.Errorf("%s:1: no goal column (the header is %q; AdvBench's harmful_behaviors.csv has goal,target)", source, strings.Join(header, ","))
	}
	idCol, hasID := col["id"]
	catCol, hasCat := col["category"]
	var out []Request
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(source, err)
		}
		line, _ := cr.FieldPos(0)
		if goal >= len(rec) {
			return nil, fmt.Errorf("%s:%d: no value in the goal column", source, line)
		}
		r := Request{Request: rec[goal], ID: fmt.Sprintf("row-%04d", len(out)+1)}
		if hasID && idCol < len(rec) && rec[idCol] != "" {
			r.ID = rec[idCol]
		}
		if hasCat && catCol < len(rec) {
			r.Category = rec[catCol]
		}
		if err := check(&r, seen, line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, line, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// csvErr puts the line the CSV reader names first, as file:line.
func csvErr(source string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", source, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", source, err)
}

func check(r *Request, seen map[string]int, line int) error {
	r.ID = strings.TrimSpace(r.ID)
	// The user template puts its own full stop after the request.
	r.Request = strings.TrimRight(strings.TrimSpace(r.Request), ".")
	switch {
	case r.ID == "":
		return errors.New("missing id")
	case r.Request == "":
		return errors.New("empty request")
	case strings.ContainsAny(r.Request, "\n\r"):
		return errors.New("a request must be one line")
	}
	if prev, ok := seen[r.ID]; ok {
		return fmt.Errorf("id %q is used twice (first at line %d)", r.ID, prev)
	}
	seen[r.ID] = line
	return nil
}

// Select takes the requests an experiment asks: a reproducible random
// sample when shuffle is set (seeded), then the first limit of them (all
// when limit is 0).
func (s *Set) Select(limit int, shuffle bool, seed uint64) []Request {
	reqs := append([]Request(nil), s.Requests...)
	if shuffle {
		rng := rand.New(rand.NewPCG(seed, 0x70726f6265))
		rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	}
	if limit > 0 && limit < len(reqs) {
		reqs = reqs[:limit]
	}
	return reqs
}

// SelectByCategory is Select for a scenario whose report breaks its rates
// down by category: a limit takes requests from each category in turn,
// first from the category that comes first, each category's requests in
// their order (after shuffle, when set), so that every category is asked
// once the limit reaches their number. It reports whether the limit cut
// the set, which is then ByCategory.
func (s *Set) SelectByCategory(limit int, shuffle bool, seed uint64) ([]Request, bool) {
	reqs := s.Select(0, shuffle, seed)
	if limit <= 0 || limit >= len(reqs) {
		return reqs, false
	}
	var order []string
	byCat := map[string][]Request{}
	for _, r := range reqs {
		if _, ok := byCat[r.Category]; !ok {
			order = append(order, r.Category)
		}
		byCat[r.Category] = append(byCat[r.Category], r)
	}
	out := make([]Request, 0, limit)
	for i := 0; len(out) < limit; i++ {
		for _, c := range order {
			if i < len(byCat[c]) && len(out) < limit {
				out = append(out, byCat[c][i])
			}
		}
	}
	return out, true
}
