package scenarios

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// MarshalText writes the duration as Go duration text, e.g. "10s" or "1m30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads Go duration text. A bare number is rejected: "10" could mean seconds
// or nanoseconds, and guessing is how a 10s fault becomes a 10ns one.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a scalar such as 10s or 500ms.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 10s, got a %s", kindName(n))
	}
	return d.UnmarshalText([]byte(n.Value))
}
