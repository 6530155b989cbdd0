package config

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestUnsafeDecoding(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{skip_checksum: true}", "skip-checksum"},                      // files written before the table
		{"{router_ignores_epochs_for: 10s}", "router-ignores-epochs"},   // the old duration field, its default
		{"{router_ignores_epochs_for: 3s}", "router-ignores-epochs=3s"}, // and another value
		{"{router_ignores_epochs_for: 0s, no_fencing: false}", ""},      // the old way of saying off
		{"{no-fencing: true, router-ignores-epochs: 5s}", "no-fencing,router-ignores-epochs=5s"},
		{"[skip-checksum, ack_before_commit]", "ack-before-commit,skip-checksum"},
	} {
		var u Unsafe
		if err := yaml.Unmarshal([]byte(tc.in), &u); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if u.String() != tc.want {
			t.Errorf("%s: decoded %q, want %q", tc.in, u.String(), tc.want)
		}
		// What a run directory saves must load back the same, as YAML and as JSON.
		y, _ := yaml.Marshal(u)
		j, _ := json.Marshal(u)
		var fromY, fromJ Unsafe
		if err := yaml.Unmarshal(y, &fromY); err != nil || fromY.String() != tc.want {
			t.Errorf("%s: YAML round trip %q gave %q, %v", tc.in, y, fromY.String(), err)
		}
		if err := json.Unmarshal(j, &fromJ); err != nil || fromJ.String() != tc.want {
			t.Errorf("%s: JSON round trip %s gave %q, %v", tc.in, j, fromJ.String(), err)
		}
	}
	for in, want := range map[string]string{
		"{no_fencng: true}":             `unknown unsafe switch "no_fencng"`,
		"{no-fencing: 5s}":              "takes no parameter",
		"{skip-checksum: [1]}":          "want name: true",
		"{bogus: false}":                `unknown unsafe switch "bogus"`,
		"{router-ignores-epochs: soon}": "want a positive duration",
	} {
		var u Unsafe
		if err := yaml.Unmarshal([]byte(in), &u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", in, err, want)
		}
	}
}
