package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// File names inside a run folder.
const (
	SamplesFile = "samples.jsonl"
	RunFile     = "run.json"
	LockFile    = "lock"
)

// Appender appends JSON lines to a file, syncing each before it returns, so
// a line that Append reported as written survives a crash of the process or
// the machine.
type Appender struct {
	f    *os.File
	path string
}

// OpenAppender opens path for appending, creating it if needed. A torn last
// line, left by a process killed while writing, is cut off first so that the
// next line starts on a line of its own; it returns how many bytes it cut.
func OpenAppender(path string) (*Appender, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	cut, err := cutTornTail(f)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("repair %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	return &Appender{f: f, path: path}, cut, nil
}

// cutTornTail truncates f after its last newline.
func cutTornTail(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	// Read backwards in blocks until a newline is found.
	const block = 64 << 10
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return 0, nil
			}
			return size - keep, truncateSync(f, keep)
		}
		end = start
	}
	return size, truncateSync(f, 0)
}

func truncateSync(f *os.File, n int64) error {
	if err := f.Truncate(n); err != nil {
		return err
	}
	return f.Sync()
}

// Append writes v as one JSON line and syncs the file.
func (a *Appender) Append(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record for %s: %w", a.path, err)
	}
	line = append(line, '\n')
	if _, err := a.f.Write(line); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", a.path, err)
	}
	return nil
}

// Close closes the file.
func (a *Appender) Close() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", a.path, err)
	}
	return nil
}

// ReadJSONL decodes every line of path into a T and calls fn with it and its
// line number. A last line that is not terminated by a newline is a torn
// write: it is skipped and reported by torn. Any other line that does not
// decode is an error naming path:line. A missing file reads as empty.
func ReadJSONL[T any](path string, fn func(line int, v T) error) (torn bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// An unterminated tail was never acknowledged as written.
			return len(b) > 0, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return false, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if err := fn(line, v); err != nil {
			return false, fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
}
