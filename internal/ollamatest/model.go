package ollamatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TinyTemplate is the chat template of the models CreateModel makes. Every
// message, system ones included, becomes a "<|role|>" line followed by its
// content, and the prompt ends with the assistant marker, e.g. for a system
// and a user message:
//
//	<|system|>
//	Be brief.
//	<|user|>
//	Hello
//	<|assistant|>
//
// With the tiny model's byte-level vocabulary every byte is one token, so a
// rendered prompt is len(rendered) tokens plus one BOS token; with
// TinyOptions.Merges it is len(Tokenize(rendered, merges)) plus one.
const TinyTemplate = `{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}
{{ end }}<|assistant|>
`

// CreateModel imports into the server a tiny random model (see
// WriteTinyModel; seed picks its weights) named name, with TinyTemplate, by
// running "ollama create name -f Modelfile". It fails the test with the
// command's output on error.
func (s *Server) CreateModel(t testing.TB, name string, seed uint64) {
	t.Helper()
	s.CreateModelWith(t, name, seed, TinyOptions{}, "")
}

// CreateModelWith is CreateModel with model sizes and extra Modelfile lines
// (e.g. "PARAMETER num_ctx 2048\nSYSTEM \"\"\"Be brief.\"\"\"").
func (s *Server) CreateModelWith(t testing.TB, name string, seed uint64, opts TinyOptions, extraModelfile string) {
	t.Helper()
	if err := s.Create(context.Background(), name, seed, opts, extraModelfile); err != nil {
		t.Fatal(err)
	}
}

// Create is CreateModelWith for programs (probe bench): it returns the
// error instead of failing a test.
func (s *Server) Create(ctx context.Context, name string, seed uint64, opts TinyOptions, extraModelfile string) error {
	dir, err := os.MkdirTemp(s.dir, "create-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := WriteTinyModel(filepath.Join(dir, "model.gguf"), seed, opts); err != nil {
		return err
	}
	modelfile := "FROM ./model.gguf\nTEMPLATE \"\"\"" + TinyTemplate + "\"\"\"\n" + extraModelfile + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(modelfile), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, "create", name, "-f", "Modelfile")
	cmd.Dir = dir
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ollamatest: ollama create %s: %w\n%s", name, err, tail(string(out), 40))
	}
	return nil
}
