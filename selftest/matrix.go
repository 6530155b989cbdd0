// Package selftest is geodrill's bug matrix: proof that the default drill suite catches real
// bugs. Every row turns on one off-by-default unsafe switch of the reference stack and runs the
// default suite through the real CLI (`harness run --unsafe NAME --seed S`) over several
// seeds; a seed catches the bug when a scenario of the suite exits 10 with at least one
// checker failing. The healthy stack runs the whole suite over the same seeds and must pass
// every drill. `make selftest` runs it (GEODRILL_SELFTEST=1 go test ./selftest/); it takes many
// full drills, so `make test` skips it.
package selftest

// Suite is the default drill suite, relative to the repository root: each scenario creates a
// situation a class of bugs needs before a checker can see it (a region dies under load, a
// host is paused and wakes believing it still owns its agents, a healthy host is declared
// dead, replies are lost after delivery, a second failure lands during failover, checkpoints
// are corrupted). The order is the order a seed tries them in when a row names no scenario.
var Suite = []string{
	"scenarios/selftest/region-outage.yaml",
	"scenarios/selftest/region-outage-async.yaml",
	"scenarios/selftest/pause-owner.yaml",
	"scenarios/selftest/corrupt-checkpoint.yaml",
	"scenarios/selftest/false-revocation.yaml",
	"scenarios/selftest/reply-loss.yaml",
}

// Case is one row of the bug matrix.
type Case struct {
	// Switch is the unsafe switch, as named by `harness run --unsafe`.
	Switch string
	// Breaks is the guarantee the switch gives up, for the README table.
	Breaks string
	// First is the suite scenario expected to expose it: each seed tries it first, then the
	// rest of the suite in order, and stops at the first scenario that catches the bug.
	First string
	// Expect is the checker expected to fail there (informational: any failing checker counts
	// as caught, and the matrix records which ones did).
	Expect string
}

// Matrix is every unsafe switch and where it is expected to be caught, in one explicit table.
var Matrix = []Case{
	{
		Switch: "ack-before-commit",
		Breaks: "writes are acknowledged before the cross-region commit",
		First:  "scenarios/selftest/region-outage.yaml",
		Expect: "linearizability",
	},
	{
		Switch: "router-ignores-epochs",
		Breaks: "the router follows the newest epoch (it keeps forwarding to the previous owner for 10s)",
		First:  "scenarios/selftest/region-outage.yaml",
		Expect: "rto",
	},
	{
		Switch: "no-replication",
		Breaks: "checkpoints are replicated to other regions (async: kept in the owner's region only)",
		First:  "scenarios/selftest/region-outage-async.yaml",
		Expect: "integrity",
	},
	{
		Switch: "no-fencing",
		Breaks: "a deposed owner is fenced by its epoch (it keeps serving after its lease went)",
		First:  "scenarios/selftest/pause-owner.yaml",
		Expect: "linearizability",
	},
	{
		Switch: "skip-checksum",
		Breaks: "restores verify each checkpoint's sha256 (a corrupt copy is taken for the truth)",
		First:  "scenarios/selftest/corrupt-checkpoint.yaml",
		Expect: "linearizability",
	},
}

// order is the suite in the order a seed of c tries it: c.First, then the rest.
func (c Case) order() []string {
	out := []string{}
	if c.First != "" {
		out = append(out, c.First)
	}
	for _, s := range Suite {
		if s != c.First {
			out = append(out, s)
		}
	}
	return out
}
