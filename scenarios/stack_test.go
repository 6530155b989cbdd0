package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/bugs"
)

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
