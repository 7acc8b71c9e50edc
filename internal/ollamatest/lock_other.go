//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package ollamatest

// lockFile does not lock on this system: concurrent test binaries may each
// build the server.
func lockFile(string, func()) (func(), error) { return func() {}, nil }
