package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/geodrill/geodrill/refstack/bugs"
	"gopkg.in/yaml.v3"
)

// stack.unsafe is a mapping from switch name (refstack/bugs.Table; underscores count as
// hyphens) to true, false, or, for a switch that takes one, its parameter:
//
//	unsafe: {no-fencing: true, router-ignores-epochs: 5s}
//
// A list of names turns each on with its default: unsafe: [no-fencing, skip-checksum].
// Files written before the table still load: {skip_checksum: true} is skip-checksum and
// {router_ignores_epochs_for: 10s} is router-ignores-epochs=10s.

// UnmarshalYAML decodes the mapping or list strictly against the table.
func (u *Unsafe) UnmarshalYAML(n *yaml.Node) error {
	var set bugs.Set
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return &LineError{item.Line, fmt.Errorf("want a switch name, got a %s", nodeKind(item))}
			}
			if err := set.Add(item.Value, ""); err != nil {
				return &LineError{item.Line, err}
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
				return &LineError{k.Line, errors.New("want name: true, name: false or name: <duration>")}
			}
			one, err := fromMap(map[string]string{k.Value: v.Value})
			if err != nil {
				return &LineError{k.Line, err}
			}
			set = set.Union(one)
		}
	default:
		return fmt.Errorf("want a mapping such as {no-fencing: true}, got a %s", nodeKind(n))
	}
	u.Set = set
	return nil
}

// Unsafe is the set of unsafe switches turned on, each a row of refstack/bugs.Table.
type Unsafe struct{ bugs.Set }

// LineError is an error at a line inside the node being decoded; a decoder that reports
// lines (the scenario's) reports that one.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// fromMap turns name → "true" | "false" | parameter into a set.
func fromMap(m map[string]string) (bugs.Set, error) {
	var set bugs.Set
	for name, v := range m {
		if on, err := strconv.ParseBool(v); err == nil {
			if !on {
				if _, ok := bugs.Lookup(name); !ok {
					return bugs.Set{}, bugs.UnknownError{Name: name}
				}
				continue
			}
			v = ""
		} else if d, err := time.ParseDuration(v); err == nil && d == 0 {
			continue // router_ignores_epochs_for: 0s was how older files said "off"
		}
		if err := set.Add(name, v); err != nil {
			return bugs.Set{}, err
		}
	}
	return set, nil
}

// toMap is the set as the mapping it is written as.
func (u Unsafe) toMap() map[string]any {
	m := map[string]any{}
	for _, o := range u.List() {
		m[string(o.Name)] = true
		if o.Param > 0 {
			m[string(o.Name)] = o.Param.String()
		}
	}
	return m
}

// MarshalYAML writes the canonical mapping.
func (u Unsafe) MarshalYAML() (any, error) { return u.toMap(), nil }

// MarshalJSON writes the canonical mapping.
func (u Unsafe) MarshalJSON() ([]byte, error) { return json.Marshal(u.toMap()) }

// UnmarshalJSON reads the mapping, in any spelling UnmarshalYAML accepts.
func (u *Unsafe) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m := map[string]string{}
	for k, v := range raw {
		m[k] = fmt.Sprint(v)
	}
	set, err := fromMap(m)
	if err != nil {
		return err
	}
	u.Set = set
	return nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return fmt.Sprintf("value %q", n.Value)
	}
}
