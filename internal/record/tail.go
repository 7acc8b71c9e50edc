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

// Tail reads a JSONL file that another stage is still appending to, line
// by line as the lines are finished: each Read decodes the lines completed
// since the last one, and leaves a line still being written for the next.
// A stage that follows another (the judge judging samples as they are
// written) reads what the earlier stage wrote, as when it is run alone.
type Tail[T any] struct {
	path string
	off  int64
	line int
}

// NewTail follows the JSONL file at path from its beginning.
func NewTail[T any](path string) *Tail[T] { return &Tail[T]{path: path} }

// Read calls fn with each line completed since the last Read and its line
// number. A missing file reads as empty; a line that does not decode is an
// error naming path:line.
func (t *Tail[T]) Read(fn func(line int, v T) error) error {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", t.path, err)
	}
	r := bufio.NewReader(f)
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // an unfinished line waits for the next Read
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", t.path, t.line+1, err)
		}
		t.off += int64(len(b))
		t.line++
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("%s:%d: %w", t.path, t.line, err)
		}
		if err := fn(t.line, v); err != nil {
			return fmt.Errorf("%s:%d: %w", t.path, t.line, err)
		}
	}
}
