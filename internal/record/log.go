package record

import "fmt"

// Keyed is a record that names the thing it is about: records with the same
// key are versions of one another.
type Keyed[K comparable] interface {
	Key() K
	// Final reports whether the record is settled for good: a later record
	// with the same key never replaces it.
	Final() bool
}

// Log is an append-only log of records read back as the latest record for
// each key, in the order keys first appeared. samples.jsonl and
// judgments.jsonl are both read this way.
//
// Only a record that is not Final may be superseded: a finished answer or a
// settled verdict is the one that counts, whatever follows it. A later line
// for a key that already has a final record is ignored and counted in
// Ignored, so that a reader can say so instead of dropping it silently.
// Such lines are never written by this program as it is; older versions
// wrote them when a model or scenario was named twice.
type Log[K comparable, T Keyed[K]] struct {
	byKey map[K]int
	list  []T
	// Lines is how many records the file held, superseded and ignored
	// ones included.
	Lines int
	// Ignored counts records that came after a final record with the same
	// key and were left out; FirstIgnored is the file line of the first
	// (0 when the records did not come from a file).
	Ignored      int
	FirstIgnored int
	// Torn is set when the file ended in a torn line, which was ignored.
	Torn bool
}

// Add records r, superseding an earlier record with the same key unless
// that record is final. It reports whether r was taken.
func (l *Log[K, T]) Add(r T) bool {
	if l.byKey == nil {
		l.byKey = map[K]int{}
	}
	l.Lines++
	k := r.Key()
	if i, ok := l.byKey[k]; ok {
		if l.list[i].Final() {
			l.Ignored++
			return false
		}
		l.list[i] = r
		return true
	}
	l.byKey[k] = len(l.list)
	l.list = append(l.list, r)
	return true
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

// IgnoredNote words the ignored records for a warning about the file named
// file, or returns "" when there were none.
func (l *Log[K, T]) IgnoredNote(file string) string {
	if l.Ignored == 0 {
		return ""
	}
	where := ""
	if l.FirstIgnored > 0 {
		where = fmt.Sprintf(" (the first at line %d)", l.FirstIgnored)
	}
	return fmt.Sprintf("%s: %d later %s for an already finished record %s ignored%s; the first finished one counts",
		file, l.Ignored, plural(l.Ignored, "line", "lines"), plural(l.Ignored, "was", "were"), where)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// records returns a copy of the latest records in first-appearance order.
func (l *Log[K, T]) records() []T { return append([]T(nil), l.list...) }

// readLog fills l from the JSONL file at path. A record whose format
// version v is newer than known is an error rather than a misreading.
func readLog[K comparable, T Keyed[K]](l *Log[K, T], path, what string, known int, version func(T) int) error {
	torn, err := ReadJSONL(path, func(line int, r T) error {
		if v := version(r); v > known {
			return fmt.Errorf("%s format v%d is newer than this probe reads (v%d); upgrade probe", what, v, known)
		}
		if !l.Add(r) && l.FirstIgnored == 0 {
			l.FirstIgnored = line
		}
		return nil
	})
	l.Torn = torn
	return err
}
