package record

import "fmt"

// Keyed is a record that names the thing it is about: records with the same
// key are versions of one another.
type Keyed[K comparable] interface {
	Key() K
}

// Log is an append-only log of records read back as the latest record for
// each key, in the order keys first appeared. samples.jsonl and
// judgments.jsonl are both read this way.
type Log[K comparable, T Keyed[K]] struct {
	byKey map[K]int
	list  []T
	// Lines is how many records the file held, superseded ones included.
	Lines int
	// Torn is set when the file ended in a torn line, which was ignored.
	Torn bool
}

// Add records r, superseding an earlier record with the same key.
func (l *Log[K, T]) Add(r T) {
	if l.byKey == nil {
		l.byKey = map[K]int{}
	}
	l.Lines++
	k := r.Key()
	if i, ok := l.byKey[k]; ok {
		l.list[i] = r
		return
	}
	l.byKey[k] = len(l.list)
	l.list = append(l.list, r)
}

// Get returns the latest record for k.
func (l *Log[K, T]) Get(k K) (T, bool) {
	i, ok := l.byKey[k]
	if !ok {
		var zero T
		return zero, false
	}
	return l.list[i], true
}

// Len is the number of distinct keys.
func (l *Log[K, T]) Len() int { return len(l.list) }

// records returns a copy of the latest records in first-appearance order.
func (l *Log[K, T]) records() []T { return append([]T(nil), l.list...) }

// readLog fills l from the JSONL file at path. A record whose format
// version v is newer than known is an error rather than a misreading.
func readLog[K comparable, T Keyed[K]](l *Log[K, T], path, what string, known int, version func(T) int) error {
	torn, err := ReadJSONL(path, func(_ int, r T) error {
		if v := version(r); v > known {
			return fmt.Errorf("%s format v%d is newer than this probe reads (v%d); upgrade probe", what, v, known)
		}
		l.Add(r)
		return nil
	})
	l.Torn = torn
	return err
}
