package llm

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultHost is where Ollama listens unless told otherwise. Which server
// a model uses is decided by config.Config.Endpoint.
const DefaultHost = "http://127.0.0.1:11434"

// ParseHost reads an address written as OLLAMA_HOST may be: "host",
// "host:port", ":port", "[::1]:port", "scheme://host[:port][/path]". The
// same value means the same server here as in the Ollama CLI; the tests
// hold the two readings side by side.
func ParseHost(s string) *url.URL {
	s = strings.Trim(strings.TrimSpace(s), `"'`)
	u := &url.URL{Scheme: "http"}
	port := "11434"
	rest := s
	if scheme, after, ok := strings.Cut(s, "://"); ok {
		u.Scheme, rest = scheme, after
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	} else if s == "ollama.com" {
		u.Scheme, port = "https", "443"
	}
	rest, u.Path, _ = strings.Cut(rest, "/")

	host := "127.0.0.1"
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	} else if ip := net.ParseIP(strings.Trim(rest, "[]")); ip != nil {
		host = ip.String()
	} else if rest != "" {
		host = rest
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		port = defaultPort(u.Scheme, s)
	}
	u.Host = net.JoinHostPort(host, port)
	return u
}

func defaultPort(scheme, s string) string {
	if !strings.Contains(s, "://") {
		return "11434"
	}
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return "11434"
}

// CheckHost says what is wrong with an address ParseHost would read
// leniently, as Ollama does, into a server the user did not mean: a
// space or control character, a scheme other than http or https, a port
// that is not a number from 1 to 65535 (ParseHost would take the default
// port instead). It returns nil for an address that means what it says.
func CheckHost(s string) error {
	t := strings.Trim(strings.TrimSpace(s), `"'`)
	if strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("%q is not a server address: it holds a space or a control character", s)
	}
	rest := t
	if scheme, after, ok := strings.Cut(t, "://"); ok {
		if scheme != "http" && scheme != "https" {
			return fmt.Errorf("%q is not a server address: the scheme must be http or https", s)
		}
		rest = after
	}
	rest, _, _ = strings.Cut(rest, "/")
	if h, p, err := net.SplitHostPort(rest); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q is not a server address: port %q is not a number from 1 to 65535", s, p)
		}
		if strings.ContainsAny(h, "[]") {
			return fmt.Errorf("%q is not a server address: the host %q is not one", s, h)
		}
	} else if strings.Contains(strings.Trim(rest, "[]"), ":") && net.ParseIP(strings.Trim(rest, "[]")) == nil {
		return fmt.Errorf("%q is not a server address: %v", s, err)
	}
	if _, err := url.Parse(ParseHost(s).String()); err != nil {
		return fmt.Errorf("%q is not a server address: %v", s, err)
	}
	return nil
}
