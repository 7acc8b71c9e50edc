package config

import "github.com/probe-eval/probe/internal/llm"

// Overrides are the settings outside the file that name a server: the
// command's --host and the environment's OLLAMA_HOST. They apply to the
// Ollama back end only; an OpenAI-compatible server is always the one its
// table names.
type Overrides struct {
	// Host is --host of probe run, check and scenarios: the Ollama server
	// of every model, and of the judge unless [judge] names its own.
	Host string
	// JudgeHost is --host of probe classify and judge-eval: the judge's
	// Ollama server, over [judge] host.
	JudgeHost string
	// OllamaHost is the environment's OLLAMA_HOST.
	OllamaHost string
}

// Endpoint is where model m is served. On Ollama the first of these that is
// set wins: --host, the model's own host or hosts, OLLAMA_HOST, the file's
// top-level host or hosts, Ollama's default address. So --host points every
// model at one server, as it always has, and OLLAMA_HOST overrides the
// file's top-level host but not a host written for one model.
func (c *Config) Endpoint(m Model, o Overrides) llm.Endpoint {
	return c.endpoint(m.Server, o.Host, o.OllamaHost)
}

// JudgeEndpoint is where the judge is served: on Ollama, the first that is
// set of classify's --host, [judge] host or hosts, run's --host, then as for
// a model.
func (c *Config) JudgeEndpoint(o Overrides) llm.Endpoint {
	flag := o.JudgeHost
	if flag == "" && c.Judge.Host == "" && len(c.Judge.Hosts) == 0 {
		flag = o.Host
	}
	return c.endpoint(c.Judge.Server, flag, o.OllamaHost)
}

// Slots is how many requests each of m's hosts serves at once.
func (c *Config) Slots(m Model) int { return c.slots(m.Server) }

// JudgeSlots is how many requests each of the judge's hosts serves at once.
func (c *Config) JudgeSlots() int { return c.slots(c.Judge.Server) }

func (c *Config) slots(s Server) int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return max(c.Concurrency, 1)
}

func (c *Config) endpoint(s Server, flag, env string) llm.Endpoint {
	e := llm.Endpoint{Backend: s.Backend, APIKeyEnv: s.APIKeyEnv}
	if e.Backend == "" {
		e.Backend = llm.BackendOllama
	}
	own := s.Hosts
	if s.Host != "" {
		own = []string{s.Host}
	}
	if e.Backend != llm.BackendOllama {
		e.Hosts = own
		return e
	}
	file := c.Hosts
	if c.Host != "" {
		file = []string{c.Host}
	}
	for _, hs := range [][]string{nonEmpty(flag), own, nonEmpty(env), file} {
		if len(hs) > 0 {
			e.Hosts = hs
			return e
		}
	}
	e.Hosts = []string{llm.DefaultHost}
	return e
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
