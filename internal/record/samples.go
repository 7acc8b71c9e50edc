package record

import (
	"path/filepath"
	"sort"
)

// Samples is the state of a run's samples.jsonl: the latest record for each
// key, in the order keys first appeared.
type Samples struct {
	Log[Key, Sample]
}

// ReadSamples reads dir's samples.jsonl. A record of a newer format version
// than this program knows is an error rather than a silent misreading.
func ReadSamples(dir string) (*Samples, error) {
	s := &Samples{}
	err := readLog(&s.Log, filepath.Join(dir, SamplesFile), "record", Version, func(r Sample) int { return r.V })
	return s, err
}

// Done reports whether k has a finished record: one with a model answer.
// Error records are not done; a resumed run tries them again.
func (s *Samples) Done(k Key) bool {
	r, ok := s.Get(k)
	return ok && r.Final()
}

// All returns the latest record of every key, sorted by model, scenario,
// variant, query, tier and sample so that every report built from it is stable.
func (s *Samples) All() []Sample {
	out := s.records()
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		if a.Variant != b.Variant {
			return a.Variant < b.Variant
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
