package record

import (
	"fmt"
	"path/filepath"
	"sort"
)

// Samples is the state of a run's samples.jsonl: the latest record for each
// key, in the order keys first appeared.
type Samples struct {
	byKey map[Key]int
	list  []Sample
	// Lines is how many records the file held, superseded ones included.
	Lines int
	// Torn is set when the file ended in a torn line, which was ignored.
	Torn bool
}

// ReadSamples reads dir's samples.jsonl. A record of a newer format version
// than this program knows is an error rather than a silent misreading.
func ReadSamples(dir string) (*Samples, error) {
	s := &Samples{byKey: map[Key]int{}}
	path := filepath.Join(dir, SamplesFile)
	torn, err := ReadJSONL(path, func(_ int, r Sample) error {
		if r.V > Version {
			return fmt.Errorf("record format v%d is newer than this probe reads (v%d); upgrade probe", r.V, Version)
		}
		s.Add(r)
		return nil
	})
	s.Torn = torn
	return s, err
}

// Add records r, superseding an earlier record with the same key.
func (s *Samples) Add(r Sample) {
	if s.byKey == nil {
		s.byKey = map[Key]int{}
	}
	s.Lines++
	k := r.Key()
	if i, ok := s.byKey[k]; ok {
		s.list[i] = r
		return
	}
	s.byKey[k] = len(s.list)
	s.list = append(s.list, r)
}

// Get returns the latest record for k.
func (s *Samples) Get(k Key) (Sample, bool) {
	i, ok := s.byKey[k]
	if !ok {
		return Sample{}, false
	}
	return s.list[i], true
}

// Done reports whether k has a finished record: one with a model answer.
// Error records are not done; a resumed run tries them again.
func (s *Samples) Done(k Key) bool {
	r, ok := s.Get(k)
	return ok && r.Outcome != Error
}

// All returns the latest record of every key, sorted by model, scenario,
// query, tier and sample so that every report built from it is stable.
func (s *Samples) All() []Sample {
	out := append([]Sample(nil), s.list...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		if a.QueryID != b.QueryID {
			return a.QueryID < b.QueryID
		}
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		return a.Sample < b.Sample
	})
	return out
}

// Len is the number of distinct keys.
func (s *Samples) Len() int { return len(s.list) }
