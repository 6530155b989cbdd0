// Package selftest is geodrill's bug matrix: proof that the default drill suite catches real
// bugs. Every row turns on one off-by-default unsafe switch of the reference stack and runs the
// default suite through the real CLI (`harness run --unsafe NAME --seed S`) over several
// seeds; a seed catches the bug when a scenario of the suite exits 10 with at least one
// checker failing. The healthy stack runs the whole suite over the same seeds and must pass
// every drill. `make selftest` runs it (GEODRILL_SELFTEST=1 go test ./selftest/); it takes many
// full drills, so `make test` skips it.
package selftest

import "github.com/geodrill/geodrill/refstack/bugs"

// Suite is the default drill suite, relative to the repository root: each scenario creates a
// situation a class of bugs needs before a checker can see it (a region dies under load, a
// host is paused and wakes believing it still owns its agents, a healthy host is declared
// dead, replies are lost after delivery, a second failure lands during failover, checkpoints
// are corrupted, a host stalls briefly and must not be failed over, a host hears etcd late and
// is declared dead meanwhile, a region heals from a long partition just before the etcd
// leader's region dies, a region's certificate lapses). The order is the order a seed tries them in when a row names no scenario.
var Suite = []string{
	"scenarios/selftest/region-outage.yaml",
	"scenarios/selftest/region-outage-async.yaml",
	"scenarios/selftest/pause-owner.yaml",
	"scenarios/selftest/corrupt-checkpoint.yaml",
	"scenarios/selftest/false-revocation.yaml",
	"scenarios/selftest/reply-loss.yaml",
	"scenarios/selftest/brief-pause.yaml",
	"scenarios/selftest/slow-etcd.yaml",
	// On netns (root): exact partitions cut etcd's peer links, which local cannot.
	"scenarios/heal-then-leader-loss.yaml",
	"scenarios/cert-expiry.yaml",
}

// Case is one row of the bug matrix: a switch of refstack/bugs.Table (which says what it
// breaks and how it is exposed) and where the suite is expected to catch it.
type Case struct {
	// Switch is the unsafe switch, as named by `harness run --unsafe`.
	Switch bugs.Name
	// First is the suite scenario expected to expose it: each seed tries it first, then the
	// rest of the suite in order, and stops at the first scenario that catches the bug.
	First string
}

// Matrix is every unsafe switch and the scenario expected to catch it, in one explicit table;
// TestMatrixIsConsistent keeps it in step with refstack/bugs.Table.
var Matrix = []Case{
	{bugs.AckBeforeCommit, "scenarios/selftest/region-outage.yaml"},
	{bugs.RouterIgnoresEpochs, "scenarios/selftest/region-outage.yaml"},
	{bugs.NoReplication, "scenarios/selftest/region-outage-async.yaml"},
	{bugs.NoFencing, "scenarios/selftest/pause-owner.yaml"},
	{bugs.SkipChecksum, "scenarios/selftest/corrupt-checkpoint.yaml"},
	{bugs.TakeoverReusesEpoch, "scenarios/selftest/region-outage.yaml"},
	{bugs.ServeBeforeRestore, "scenarios/selftest/corrupt-checkpoint.yaml"},
	{bugs.UnfencedReads, "scenarios/selftest/slow-etcd.yaml"},
	{bugs.StaleReadCache, "scenarios/selftest/false-revocation.yaml"},
	{bugs.CASNotAtomic, "scenarios/selftest/region-outage.yaml"},
	{bugs.CASFailReturnsNew, "scenarios/selftest/region-outage.yaml"},
	{bugs.RouterRetriesAfterSend, "scenarios/selftest/reply-loss.yaml"},
	{bugs.RouterResetIsDefinite, "scenarios/selftest/reply-loss.yaml"},
	{bugs.ProbeThresholdOne, "scenarios/selftest/brief-pause.yaml"},
	{bugs.DeadRegionStaysDead, "scenarios/selftest/false-revocation.yaml"},
	{bugs.DeltaSkipsNewKeys, "scenarios/selftest/region-outage.yaml"},
	{bugs.RestoreLastDeltaOnly, "scenarios/selftest/region-outage.yaml"},
	{bugs.HeldWithoutCopy, "scenarios/selftest/region-outage-async.yaml"},
	{bugs.FailbackSkipsLogTail, "scenarios/selftest/false-revocation.yaml"},
	{bugs.EtcdPeerNoReadTimeout, "scenarios/heal-then-leader-loss.yaml"},
	{bugs.TLSIgnoresExpiry, "scenarios/cert-expiry.yaml"},
	{bugs.ControllerTrustsItself, "scenarios/cert-expiry.yaml"},
}

// order is the suite in the order a seed of c tries it: c.First, then the rest; durability
// names each scenario's durability mode, and a switch bound to one mode (bugs.Switch's
// Durability) only runs where it applies.
func (c Case) order(durability func(scenario string) string) []string {
	sw, _ := bugs.Lookup(string(c.Switch))
	fits := func(sc string) bool { return sw.Durability == "" || durability(sc) == sw.Durability }
	var out []string
	if c.First != "" && fits(c.First) {
		out = append(out, c.First)
	}
	for _, s := range Suite {
		if s != c.First && fits(s) {
			out = append(out, s)
		}
	}
	return out
}
