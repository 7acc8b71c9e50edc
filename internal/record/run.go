package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run is run.json: what a run was asked to do and with what, so that its
// numbers can be traced to the exact models, prompts, data and settings.
type Run struct {
	V            int        `json:"v"`
	ID           string     `json:"run"`
	ProbeVersion string     `json:"probe_version"`
	Host         string     `json:"host"`
	Ollama       string     `json:"ollama_version"`
	ConfigFile   string     `json:"config_file"`
	Config       any        `json:"config"`
	Models       []RunModel `json:"models"`
	Scenarios    []Artifact `json:"scenarios"`
	Dataset      Artifact   `json:"dataset"`
	Requests     int        `json:"requests"`
	SamplesPer   int        `json:"samples_per_request"`
	// Planned counts the samples of the run's plan over all its sessions:
	// a resumption that adds a model or variant adds its samples.
	Planned   int       `json:"planned"`
	CreatedAt time.Time `json:"created_at"`
	// Sessions lists each invocation that worked on the run: the first, and
	// every resumption.
	Sessions []Session `json:"sessions"`
}

// RunModel is one model under test as it was run.
type RunModel struct {
	Name    string         `json:"name"`
	Tag     string         `json:"tag"`
	Digest  string         `json:"digest"`
	Options map[string]any `json:"options"`
	Think   any            `json:"think,omitempty"`
	// ContextLength is the model's trained context, from /api/show, or
	// the context an OpenAI-compatible server reports.
	ContextLength int `json:"context_length"`
	// MeasuredContext is the context an OpenAI-compatible server that
	// reports none was seen to cut prompts to; 0 when none was seen.
	MeasuredContext int `json:"measured_context,omitempty"`
	// Backend is the API the model was asked through: "ollama" or
	// "openai".
	Backend string `json:"backend,omitempty"`
	// ModelID is the server's own id for the model (Ollama's canonical
	// name, or the id in an OpenAI-compatible /v1/models).
	ModelID string `json:"model_id,omitempty"`
	// BaseURL is the base URL of the model's server; for several hosts,
	// all of them, comma-separated. Hosts lists them one by one.
	BaseURL string   `json:"base_url,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	// ServerVersion is the server's version, when its API says it.
	ServerVersion string `json:"server_version,omitempty"`
}

// Artifact is an input file set with its content hash: the data set, or
// one scenario or variant as it was run.
type Artifact struct {
	Name string `json:"name"`
	// Variant is the scenario's variant; empty for the base.
	Variant string            `json:"variant,omitempty"`
	Source  string            `json:"source"`
	SHA256  string            `json:"sha256"`
	Files   map[string]string `json:"files,omitempty"`
	// Vars are the variables the scenario's prompt was rendered with.
	Vars map[string]string `json:"vars,omitempty"`
	// SystemSHA256 is the SHA-256 of the rendered system prompt.
	SystemSHA256 string `json:"system_sha256,omitempty"`
	// PromptSHA256 hashes everything the scenario sent or decided by,
	// rendered (prompt.Scenario.PromptSHA256).
	PromptSHA256 string `json:"prompt_sha256,omitempty"`
	// Outcome is how a sample's outcome is decided: "tags" or
	// "judge:QUESTION".
	Outcome string `json:"outcome,omitempty"`
	// Breakdown is "category" when the scenario asks the report for each
	// group's rates per request category as well; empty otherwise.
	Breakdown string `json:"breakdown,omitempty"`
	// Requests is the scenario's own requests file, when it has one.
	Requests *Artifact `json:"requests,omitempty"`
	// Selection, on the data set or a scenario's requests, is "by-category" when --limit
	// took them from each category in turn; empty when the run asked them
	// all, or (before probe selected so) the first of the file.
	Selection string `json:"selection,omitempty"`
}

// ScenarioKey names a scenario and one of its variants (empty for the
// base).
type ScenarioKey struct {
	Scenario, Variant string
}

// ScenarioArtifacts maps each scenario and variant the run recorded to its
// entry, the latest entry winning.
func (r *Run) ScenarioArtifacts() map[ScenarioKey]Artifact {
	out := map[ScenarioKey]Artifact{}
	for _, a := range r.Scenarios {
		out[ScenarioKey{a.Name, a.Variant}] = a
	}
	return out
}

// Session is one invocation of probe run on the run.
type Session struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Written    int       `json:"written"`
	Status     string    `json:"status"`
}

// ReadRun reads dir's run.json; ok is false when there is none.
func ReadRun(dir string) (r Run, ok bool, err error) {
	path := filepath.Join(dir, RunFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Run{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return r, true, nil
}

// WriteRun replaces dir's run.json atomically: a crash leaves the old file
// or the new one, never half of either.
func WriteRun(dir string, r Run) error {
	r.V = Version
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode run.json: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, RunFile), append(b, '\n'))
}

// WriteFileAtomic writes b to path through a synced temporary file and a
// rename.
func WriteFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file private; what probe writes is meant to be
	// read and shared, like any file a command writes.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
