// Package cli holds probe's commands. Each command copies its flags into an
// Options struct and calls one function that does the work with injected
// output streams, so parsing and behaviour are tested apart. Errors come
// back to Main, which alone maps them to exit codes.
package cli
