package selftest

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/scenarios"
)

// TestMatrixIsConsistent runs in make test: every suite scenario loads and validates, every
// row names a switch once and a first scenario that is in the suite.
func TestMatrixIsConsistent(t *testing.T) {
	durability := map[string]string{}
	for _, sc := range Suite {
		s, err := scenarios.Load(filepath.Join("..", sc))
		if err != nil {
			t.Errorf("suite scenario %s: %v", sc, err)
			continue
		}
		durability[sc] = s.Stack.Durability
	}
	seen := map[bugs.Name]bool{}
	for _, c := range Matrix {
		sw, ok := bugs.Lookup(string(c.Switch))
		if !ok {
			t.Errorf("row %q is no switch of refstack/bugs.Table", c.Switch)
		}
		if seen[c.Switch] {
			t.Errorf("switch %q has two rows", c.Switch)
		}
		seen[c.Switch] = true
		if !slices.Contains(Suite, c.First) {
			t.Errorf("%s: first scenario %s is not in the suite", c.Switch, c.First)
		}
		got := c.order(func(s string) string { return durability[s] })
		if len(got) == 0 || got[0] != c.First {
			t.Errorf("%s: order %v, want %s first", c.Switch, got, c.First)
		}
		for _, sc := range got {
			if sw.Durability != "" && durability[sc] != sw.Durability {
				t.Errorf("%s applies to %s only, but the order has %s (%s)", c.Switch, sw.Durability, sc, durability[sc])
			}
		}
	}
	// Every planted bug has a row: a switch no drill tries is a bug nobody looks for.
	for _, sw := range bugs.Table {
		if !seen[sw.Name] {
			t.Errorf("switch %q of refstack/bugs.Table has no row in the matrix", sw.Name)
		}
	}
}

func TestMinCatches(t *testing.T) {
	for n, want := range map[int]int{1: 1, 3: 3, 4: 4, 5: 4, 10: 8} {
		if got := minCatches(n); got != want {
			t.Errorf("minCatches(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestCatchersAndCaught(t *testing.T) {
	ds := []drillResult{
		{Scenario: "scenarios/selftest/a.yaml", Exit: 10, Failing: []string{"rpo"}},
		{Scenario: "scenarios/selftest/a.yaml", Exit: 10, Unknown: []string{"linearizability"}}, // unknown is no catch
		{Scenario: "scenarios/selftest/b.yaml", Exit: 10, Failing: []string{"rpo"}},
		{Scenario: "scenarios/selftest/a.yaml", Exit: 10, Failing: []string{"rpo"}},
		{Scenario: "scenarios/selftest/a.yaml", Exit: 0},
	}
	if ds[1].caught() || ds[4].caught() || !ds[0].caught() {
		t.Fatal("caught() must need exit 10 and a failing checker")
	}
	if got, want := catchers(ds), "a ×2: rpo; b ×1: rpo"; got != want {
		t.Errorf("catchers = %q, want %q", got, want)
	}
	if got := falseAlarms(ds); got == "no false alarm" {
		t.Errorf("falseAlarms missed the failing drills: %q", got)
	}
}
