package judge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// schema is the subset of JSON Schema the judge's answer formats use:
// objects with properties, required keys and no others, booleans and
// strings. Ollama turns the same document into a
// grammar; checking the answer here as well catches a server that did not
// apply it, and an answer cut short by the token limit.
type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
}

// parseSchema reads a schema and checks that it uses only what validate
// understands, so that a schema file edited beyond that subset fails
// loudly instead of being half enforced.
func parseSchema(b []byte) (*schema, error) {
	var s schema
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if err := s.check("$"); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *schema) check(path string) error {
	switch s.Type {
	case "object":
		for _, r := range s.Required {
			if s.Properties[r] == nil {
				return fmt.Errorf("%s: required %q is not a property", path, r)
			}
		}
		for name, p := range s.Properties {
			if err := p.check(path + "." + name); err != nil {
				return err
			}
		}
	case "boolean", "string":
	default:
		return fmt.Errorf("%s: type %q is not supported", path, s.Type)
	}
	return nil
}

// decodeStrict reads exactly one JSON value from text, with nothing after
// it but white space.
func decodeStrict(text string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty answer")
		}
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("text after the JSON object")
	}
	return v, nil
}

// validate checks v, decoded from JSON, against s; path names the place
// for the message.
func (s *schema) validate(path string, v any) error {
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, jsonType(v))
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: missing %q", path, r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := s.Properties[k]
			if p == nil {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					return fmt.Errorf("%s: unexpected key %q", path, k)
				}
				continue
			}
			if err := p.validate(path+"."+k, m[k]); err != nil {
				return err
			}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want true or false, got %s", path, jsonType(v))
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: want a string, got %s", path, jsonType(v))
		}
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
