package runner

import (
	"fmt"
	"strings"
	"sync"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/llm"
)

// Servers connects models (and the judge) to their servers as the
// configuration and its overrides place them (config.Endpoint), one
// *llm.Hosts per distinct server, so that two models on the same server
// share its slots, and a host dropped while one model runs stays dropped
// for the next. It is safe for concurrent use.
type Servers struct {
	cfg    *config.Config
	o      config.Overrides
	getenv func(string) string

	mu      sync.Mutex
	byID    map[string]*llm.Hosts
	watches map[int]func(host string, err error)
	nextID  int
}

// NewServers returns the servers of cfg's models under overrides o; getenv
// reads API keys from the environment.
func NewServers(cfg *config.Config, o config.Overrides, getenv func(string) string) *Servers {
	return &Servers{cfg: cfg, o: o, getenv: getenv, byID: map[string]*llm.Hosts{}, watches: map[int]func(string, error){}}
}

// Watch has fn told, until stop is called, whenever a host of any server
// is dropped as dead.
func (s *Servers) Watch(fn func(host string, err error)) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	s.watches[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.watches, id)
	}
}

func (s *Servers) dropped(host string, err error) {
	s.mu.Lock()
	fns := make([]func(string, error), 0, len(s.watches))
	for _, fn := range s.watches {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(host, err)
	}
}

// For returns model m's server.
func (s *Servers) For(m config.Model) (*llm.Hosts, error) {
	h, err := s.connect(s.cfg.Endpoint(m, s.o), s.cfg.Slots(m))
	if err != nil {
		return nil, fmt.Errorf("%s: model %s: %w", s.cfg.File, m.Name, err)
	}
	return h, nil
}

// Judge returns the judge's server.
func (s *Servers) Judge() (*llm.Hosts, error) {
	h, err := s.connect(s.cfg.JudgeEndpoint(s.o), s.cfg.JudgeSlots())
	if err != nil {
		return nil, fmt.Errorf("%s: [judge]: %w", s.cfg.File, err)
	}
	return h, nil
}

// Endpoint is where m is served.
func (s *Servers) Endpoint(m config.Model) llm.Endpoint { return s.cfg.Endpoint(m, s.o) }

// JudgeEndpoint is where the judge is served.
func (s *Servers) JudgeEndpoint() llm.Endpoint { return s.cfg.JudgeEndpoint(s.o) }

func (s *Servers) connect(e llm.Endpoint, slots int) (*llm.Hosts, error) {
	id := fmt.Sprintf("%s|%s|%s|%d", e.Backend, strings.Join(e.Hosts, ","), e.APIKeyEnv, slots)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.byID[id]; ok {
		return h, nil
	}
	h, err := llm.Connect(e, s.getenv, llm.HostsOptions{Slots: slots, OnDrop: s.dropped})
	if err != nil {
		return nil, err
	}
	s.byID[id] = h
	return h, nil
}
