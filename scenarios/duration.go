package scenarios

import (
	"fmt"
	"strings"
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

// DelayRange is a delay written as "150ms" (fixed) or "0s..300ms" (drawn from the seed).
type DelayRange struct{ Min, Max Duration }

// String writes the range back as it is read.
func (r DelayRange) String() string {
	if r.Min == r.Max {
		return r.Min.String()
	}
	return r.Min.String() + ".." + r.Max.String()
}

// MarshalText writes the range as text.
func (r DelayRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads "150ms" or "0s..300ms".
func (r *DelayRange) UnmarshalText(b []byte) error {
	lo, hi, isRange := strings.Cut(string(b), "..")
	if !isRange {
		hi = lo
	}
	if err := r.Min.UnmarshalText([]byte(strings.TrimSpace(lo))); err != nil {
		return fmt.Errorf("want a delay such as 150ms or a range such as 0s..300ms: %w", err)
	}
	if err := r.Max.UnmarshalText([]byte(strings.TrimSpace(hi))); err != nil {
		return fmt.Errorf("want a delay such as 150ms or a range such as 0s..300ms: %w", err)
	}
	return nil
}

// MarshalYAML writes the range as a string.
func (r DelayRange) MarshalYAML() (any, error) { return r.String(), nil }

// UnmarshalYAML reads a scalar such as 150ms or 0s..300ms.
func (r *DelayRange) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a delay such as 150ms or a range such as 0s..300ms, got a %s", kindName(n))
	}
	return r.UnmarshalText([]byte(n.Value))
}
