package llm

import (
	"fmt"
	"net/url"
	"strings"
)

// Endpoint is where a model (or the judge) is served, as the configuration
// names it: the keys backend, host or hosts, and api_key_env of a [[model]]
// or [judge] table.
type Endpoint struct {
	// Backend is "" or "ollama" (Ollama's native API) or "openai".
	Backend string
	// Hosts are the servers, at least one. For Ollama each is written as
	// OLLAMA_HOST may be ("gpu-1", "gpu-1:11434", "http://gpu-1:11434");
	// for OpenAI-compatible servers each is the API's base URL
	// ("http://gpu-1:8000/v1").
	Hosts []string
	// APIKeyEnv names the environment variable that holds the API key of
	// an OpenAI-compatible server; empty sends no key. The key itself is
	// never written in a file.
	APIKeyEnv string
}

// Connect returns a client over e's hosts, with o's slots per host and
// drop warnings. getenv reads the API key (os.Getenv in the program).
// Errors say what is wrong with the endpoint, for the configuration to
// place at its file and line.
func Connect(e Endpoint, getenv func(string) string, o HostsOptions) (*Hosts, error) {
	if err := CheckBackend(e.Backend); err != nil {
		return nil, err
	}
	if len(e.Hosts) == 0 {
		return nil, fmt.Errorf("no host for backend %q", e.backend())
	}
	key := ""
	if e.APIKeyEnv != "" {
		if e.backend() != BackendOpenAI {
			return nil, fmt.Errorf(`api_key_env is for backend = "openai"; Ollama's native API takes no key`)
		}
		key = getenv(e.APIKeyEnv)
		if key == "" {
			return nil, fmt.Errorf("api_key_env names %s, which is not set in the environment", e.APIKeyEnv)
		}
	}
	var clients []Client
	for _, h := range e.Hosts {
		if e.backend() == BackendOllama {
			clients = append(clients, NewOllama(ParseHost(h)))
			continue
		}
		u, err := ParseBaseURL(h)
		if err != nil {
			return nil, err
		}
		clients = append(clients, NewOpenAI(u, key))
	}
	return NewHosts(clients, o)
}

func (e Endpoint) backend() string {
	if e.Backend == "" {
		return BackendOllama
	}
	return e.Backend
}

// ParseBaseURL reads the base URL of an OpenAI-compatible API: http or https,
// a host, and usually a path ending in /v1.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("host %q is not the base URL of an OpenAI-compatible API; write it like http://gpu-1:8000/v1", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}
