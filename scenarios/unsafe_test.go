package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/geodrill/geodrill/refstack/bugs"
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

func TestUnsafeInAScenarioFile(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(base+"stack:\n  unsafe: {router_ignores_epochs_for: 4s, skip_checksum: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Stack.Unsafe.On(bugs.SkipChecksum) || sc.Stack.Unsafe.Param(bugs.RouterIgnoresEpochs) != 4*time.Second {
		t.Errorf("stack.unsafe decoded as %q", sc.Stack.Unsafe.String())
	}
	_, err = Parse("s.yaml", []byte(base+"stack:\n  unsafe:\n    skip-checksum: true\n    no-fencin: true\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown unsafe switch "no-fencin" (known: `) || !strings.Contains(err.Error(), "s.yaml:11") {
		t.Errorf("unknown switch: %v, want it refused with the known names and the line", err)
	}
}
