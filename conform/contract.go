// Package conform says what a system must serve for geodrill to drive and judge it (the
// contract, as data: Parts) and checks a running system against it: a short fault-free
// check through its client endpoint, then one outage of the region that serves, when the
// harness started the system and can kill a region.
//
// The contract is the reference stack's client API (package refstack/api): the router, or
// an adapter in front of any other system, serves it.
package conform

import "github.com/geodrill/geodrill/system"

// Need says whether a part of the contract is required or optional.
type Need string

const (
	Required Need = "required"
	Optional Need = "optional"
)

// Part is one thing the contract asks of a system.
type Part struct {
	Name string `json:"name"`
	Need Need   `json:"need"`
	// What the system must do, as the README's contract table says it.
	What string `json:"what"`
	// NeededBy names the checkers (or the drill) that cannot judge without it.
	NeededBy []string `json:"needed_by,omitempty"`
	// Without says, for an optional part, what a drill of a system without it can and
	// cannot judge.
	Without string `json:"without,omitempty"`
}

// Names of the parts; the optional ones are what a described system lists in serves.
const (
	PartHealth      = "health"
	PartPutGet      = "put-get"
	PartMissing     = "missing-key"
	PartCAS         = system.ServesCAS
	PartOutcomes    = "outcomes"
	PartRegion      = system.ServesRegion
	PartEpoch       = system.ServesEpoch
	PartRecovery    = "recovery"
	PartAckedRead   = "acked-after-outage"
	PartCheckpoints = system.ServesCheckpoints
)

// Parts is the contract, in the order the checks run and the README lists them.
var Parts = []Part{
	{PartHealth, Required, "`GET /healthz` answers 200 while the system serves, and not before it could survive a fault (its members have found each other)", []string{"drill (waits for health before load and after faults)"}, ""},
	{PartPutGet, Required, "`PUT /agents/{agent}/kv/{key}` with the value as body answers 200 only once the write took effect; " +
		"a later `GET` of the key answers 200 with a JSON body `{\"found\": true, \"value\": ...}`", []string{"linearizability", "rpo", "integrity", "convergence"}, ""},
	{PartMissing, Required, "a `GET` of a key never written answers 200 with `found` false", []string{"linearizability"}, ""},
	{PartCAS, Optional, "`POST /agents/{agent}/cas/{key}` with `{\"expect\", \"value\"}` swaps only when the current value is " +
		"`expect` (200, `swapped` true; a key never written counts as \"\"); otherwise 200 with `swapped` false and the value it saw", []string{"linearizability (scenarios whose mix has cas)"},
		"run only scenarios whose workload has no cas ops"},
	{PartOutcomes, Required, "status codes mean outcomes: 200 took effect; 409, 503 and other 4xx did not; 500, 502, 504 and " +
		"no answer may have; a generated error may say so in `X-Geodrill-Outcome: fail|unknown`", []string{"every checker (the history's ok/fail/unknown)"}, ""},
	{PartRegion, Optional, "every 200 names the region that served it (`X-Geodrill-Region` or the body's `region`)", []string{"split-brain", "report (who served what)"},
		"the history cannot say which region served an op: split-brain has no claims to compare and the report no per-region view"},
	{PartEpoch, Optional, "every 200 carries the serving owner's epoch, a fencing token that only grows across takeovers " +
		"(`X-Geodrill-Epoch` or the body's `epoch`)", []string{"split-brain", "rpo"},
		"split-brain says unknown (no epochs recorded), never pass; rpo judges by the final reads alone, so a loss that " +
			"later writes hide goes unseen"},
	{PartRecovery, Required, "after the region that served is killed, writes are answered 200 again within a budget (twice the scenario's `rto_max`, else 30 s) " +
		"(checked only when the harness started the system and can kill a region)", []string{"rto", "availability"}, ""},
	{PartAckedRead, Required, "after recovery, a write answered 200 is read back: the system never acknowledges what it did not " +
		"make (writes acknowledged before the outage and lost are data loss, which a drill measures as RPO, not a contract " +
		"breach)", []string{"rpo", "linearizability"}, ""},
	{PartCheckpoints, Optional, "after the run the harness reads every agent's checkpoint chain and its metadata (the " +
		"reference stack's object stores and etcd; its own format, so only it serves this part)",
		[]string{"integrity", "convergence (checkpoint agreement, rebuild)"},
		"integrity and convergence's checkpoint verdicts say not applicable"},
}

// PartNamed is the part of that name.
func PartNamed(name string) (Part, bool) {
	for _, p := range Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}
