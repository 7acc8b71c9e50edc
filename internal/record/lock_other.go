//go:build !unix

package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked is returned when another process holds a run folder.
var ErrLocked = errors.New("run folder is in use by another probe process (if none is, delete its lock file)")

// Lock is an exclusive hold on a run folder. Without flock, it is a file
// created exclusively; a killed process leaves it behind.
type Lock struct{ path string }

// LockDir takes the lock of run folder dir without waiting.
func LockDir(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	f.Close()
	return &Lock{path: path}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error { return os.Remove(l.path) }
