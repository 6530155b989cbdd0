// Package selftest is geodrill's bug matrix: proof that each checker catches the bug it exists
// for. Every row turns on one off-by-default unsafe switch of the reference stack, runs the
// scenario that should expose it through the real CLI (`harness run --unsafe NAME`), and
// requires the named checker to fail; every scenario also runs on the healthy stack, which
// must pass. `make selftest` runs it (GEODRILL_SELFTEST=1 go test ./selftest/); it takes
// several full drills, so `make test` skips it.
package selftest

// Case is one row of the bug matrix.
type Case struct {
	// Switch is the unsafe switch, as named by `harness run --unsafe`.
	Switch string
	// Breaks is the guarantee the switch gives up, for the README table.
	Breaks string
	// Scenario is the scenario file that exposes it, relative to the repository root.
	Scenario string
	// Caught is the checker that must fail.
	Caught string
}

// Matrix is every unsafe switch and the checker that must catch it, in one explicit table.
var Matrix = []Case{
	{
		Switch:   "ack-before-commit",
		Breaks:   "writes are acknowledged before the cross-region commit",
		Scenario: "scenarios/selftest/region-outage.yaml",
		Caught:   "linearizability",
	},
	{
		Switch:   "router-ignores-epochs",
		Breaks:   "the router follows the newest epoch (it keeps forwarding to the previous owner for 10s)",
		Scenario: "scenarios/selftest/region-outage.yaml",
		Caught:   "rto",
	},
	{
		Switch:   "no-replication",
		Breaks:   "checkpoints are replicated to other regions (async: kept in the owner's region only)",
		Scenario: "scenarios/selftest/region-outage-async.yaml",
		Caught:   "integrity",
	},
	{
		Switch:   "no-fencing",
		Breaks:   "a deposed owner is fenced by its epoch (it keeps serving after its lease went)",
		Scenario: "scenarios/selftest/pause-owner.yaml",
		Caught:   "linearizability",
	},
	{
		Switch:   "skip-checksum",
		Breaks:   "restores verify each checkpoint's sha256 (a corrupt copy is taken for the truth)",
		Scenario: "scenarios/selftest/corrupt-checkpoint.yaml",
		Caught:   "linearizability",
	},
}

// Scenarios lists every scenario of the matrix once, in table order: each also runs on the
// healthy stack.
func Scenarios() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range Matrix {
		if !seen[c.Scenario] {
			seen[c.Scenario] = true
			out = append(out, c.Scenario)
		}
	}
	return out
}
