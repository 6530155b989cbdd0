package checkers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/geodrill/geodrill/system"
)

// Checker names for the post-run observations.
const (
	NameIntegrity   = "integrity"
	NameConvergence = "convergence"
)

// IntegrityData is the integrity Result's Data.
type IntegrityData struct {
	Agents      int `json:"agents"`      // agents with etcd keys
	Checkpoints int `json:"checkpoints"` // agents with checkpoint metadata
	// Verified counts (agent, region) copies of the newest checkpoint that match their
	// metadata; LinksVerified the copies of the newest chain's other links; OlderVerified
	// the copies of the links of the older chains the metadata lists (what a restore falls
	// back to when the newest chain is nowhere intact).
	Verified      int              `json:"verified"`
	LinksVerified int              `json:"links_verified"`
	OlderVerified int              `json:"older_chains_verified"`
	Problems      []IntegrityIssue `json:"problems,omitempty"`
	// Unverifiable lists (agent, region) copies whose region could not be listed.
	Unverifiable []string `json:"unverifiable,omitempty"`
	// Lag is, per agent, the spread of the newest checkpoint's last-modified times across
	// the regions holding it: how long replication took. P50/Max in seconds.
	LagP50 *float64 `json:"replication_lag_p50_s"`
	LagMax *float64 `json:"replication_lag_max_s"`
}

// IntegrityIssue is one broken fact.
type IntegrityIssue struct {
	Agent  string `json:"agent"`
	Region string `json:"region,omitempty"`
	Kind   string `json:"kind"` // corrupt, missing, size, under-replicated, bad-metadata, future-epoch, chain-gap, log-gap
	Detail string `json:"detail"`
}

// Integrity judges the checkpoint chain of every agent from the post-run observations: the
// metadata in etcd names the newest object, its sha256 and size, and the regions that hold
// it; each listed region's object must exist with exactly that sha256 (computed from the
// bytes read back) and size, and so must every link of every chain the metadata lists
// (schema 2: the newest and the older one a restore falls back to), each of which starts
// with a full snapshot and misses no delta. The metadata's epoch is not newer
// than the agent's epoch; the log entries after the checkpoint have no gaps (the chain from
// checkpoint to log tail is whole); and the newest checkpoint is verified in at least two
// regions. Replication lag is reported. Without observations nothing can be verified:
// unknown.
func Integrity(_ context.Context, in Input) Result {
	if why := in.unserved(system.ServesCheckpoints); why != "" {
		return Result{Checker: NameIntegrity, Verdicts: []Verdict{NotApplicableTo(NameIntegrity, "checkpoints verified", why)}}
	}
	obs := in.Observations
	if obs == nil {
		return Result{Checker: NameIntegrity, Verdicts: []Verdict{{
			Checker: NameIntegrity, Target: "checkpoints verified", Status: Unknown, Measured: "not observed",
			Detail: "the run has no observations.json (collected before the cluster goes down)",
		}}}
	}
	var d IntegrityData
	facts := obs.byAgent()
	agents := sortedAgents(facts)
	d.Agents = len(agents)
	var lags []float64
	etcdFailed := obs.failed("etcd")
	for _, a := range agents {
		f := facts[a]
		if f.metaErr != "" {
			d.Problems = append(d.Problems, IntegrityIssue{Agent: a, Kind: "bad-metadata", Detail: f.metaErr})
		}
		from := int64(0)
		if m := f.meta; m != nil {
			d.Checkpoints++
			from = m.Seq
			if f.hasEpoch && m.Epoch > f.epoch {
				d.Problems = append(d.Problems, IntegrityIssue{Agent: a, Kind: "future-epoch",
					Detail: fmt.Sprintf("checkpoint epoch %d is newer than the agent's epoch %d", m.Epoch, f.epoch)})
			}
			var times []time.Time
			for _, r := range m.Regions {
				if obj, ok := d.verifyCopy(obs, a, r, "", m.Object, m.SHA256, m.Size); ok {
					d.Verified++
					times = append(times, obj.Modified)
				}
			}
			// Checkpoints exist to survive a region's death: one verified copy is not enough.
			// (The drill lets async replication settle before it observes.)
			if len(times) < 2 && len(obs.Regions) >= 2 && len(d.Unverifiable) == 0 {
				d.Problems = append(d.Problems, IntegrityIssue{Agent: a, Kind: "under-replicated",
					Detail: fmt.Sprintf("%s verified in %d region(s) of %d; a region outage loses it", m.Object, len(times), len(obs.Regions))})
			}
			if len(times) > 1 {
				sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
				lags = append(lags, times[len(times)-1].Sub(times[0]).Seconds())
			}
		}
		if f.meta != nil {
			// Every chain the metadata lists must be whole: the newest is what a restore
			// needs, the older one what it falls back to.
			for i, chain := range f.meta.Chains {
				label, verified := "chain link ", &d.LinksVerified
				if i > 0 {
					label, verified = fmt.Sprintf("chain %d (older) link ", i+1), &d.OlderVerified
				}
				if gap := chainGap(chain); gap != "" {
					if i > 0 {
						gap = fmt.Sprintf("chain %d (older): %s", i+1, gap)
					}
					d.Problems = append(d.Problems, IntegrityIssue{Agent: a, Kind: "chain-gap", Detail: gap})
				}
				for _, link := range chain {
					if link.Object == f.meta.Object {
						continue // verified above as the newest object
					}
					for _, r := range link.Regions {
						if _, ok := d.verifyCopy(obs, a, r, label, link.Object, link.SHA256, link.Size); ok {
							*verified++
						}
					}
				}
			}
		}
		if gap := logGap(from, f.logSeqs); gap != "" {
			d.Problems = append(d.Problems, IntegrityIssue{Agent: a, Kind: "log-gap", Detail: gap})
		}
	}
	if len(lags) > 0 {
		sort.Float64s(lags)
		p50, mx := nearestRank(lags, 50), lags[len(lags)-1]
		d.LagP50, d.LagMax = &p50, &mx
	}

	v := Verdict{Checker: NameIntegrity, Target: "checkpoint chains intact", Value: float64(len(d.Problems))}
	switch {
	case len(d.Problems) > 0:
		v.Status = Fail
		v.Measured = fmt.Sprintf("%d problems in %d agents' chains", len(d.Problems), len(agentsOf(d.Problems)))
		items := make([]string, len(d.Problems))
		for i, p := range d.Problems {
			items[i] = fmt.Sprintf("%s %s%s: %s", p.Kind, p.Agent, atRegion(p.Region), p.Detail)
		}
		v.Detail = listFew(items, 3)
	case etcdFailed || len(d.Unverifiable) > 0:
		v.Status = Unknown
		v.Measured = fmt.Sprintf("%d copies verified, %d unreadable", d.Verified, len(d.Unverifiable))
		v.Detail = observationErrors(obs)
	case d.Agents == 0:
		v.Status, v.Measured = Unknown, "no agent keys observed"
		v.Detail = "etcd held no agent keys when the run was observed"
	default:
		v.Status = Pass
		v.Measured = fmt.Sprintf("%d checkpoints, %d copies verified; logs whole for %d agents", d.Checkpoints, d.Verified, d.Agents)
	}
	lag := measurement{absent: "no checkpoint held in two regions"}
	if d.LagMax != nil {
		lag = measurement{value: *d.LagMax, shown: fmt.Sprintf("%s max, %s p50", fmtLatency(*d.LagMax), fmtLatency(*d.LagP50))}
	}
	return Result{Checker: NameIntegrity, Verdicts: []Verdict{v,
		judgeAtMost(NameIntegrity, "replication lag", lag, nil, fmtSeconds)}, Data: d}
}

// logGap checks that the log entries after seq from are consecutive from from+1; entries at
// or below from (not truncated yet) are ignored.
func logGap(from int64, seqs []int64) string {
	var after []int64
	for _, s := range seqs {
		if s > from {
			after = append(after, s)
		}
	}
	sort.Slice(after, func(i, j int) bool { return after[i] < after[j] })
	want := from + 1
	for _, s := range after {
		if s != want {
			return fmt.Sprintf("log after checkpoint seq %d jumps to %d (missing %d)", from, s, want)
		}
		want++
	}
	return ""
}

func sortedAgents(m map[string]*agentFacts) []string {
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func agentsOf(ps []IntegrityIssue) map[string]bool {
	out := map[string]bool{}
	for _, p := range ps {
		out[p.Agent] = true
	}
	return out
}

func atRegion(r string) string {
	if r == "" {
		return ""
	}
	return "@" + r
}

func observationErrors(obs *Observations) string {
	items := make([]string, len(obs.Errors))
	for i, e := range obs.Errors {
		items[i] = e.Source + ": " + e.Error
	}
	return listFew(items, 3)
}

// chainGap checks that a chain starts with a full snapshot and that every delta is based on
// the link before it: a restore applies them in order, so a missing link loses writes.
func chainGap(chain []chainLink) string {
	for i, l := range chain {
		switch {
		case i == 0 && l.Kind != "full":
			return fmt.Sprintf("chain starts with a %s (%s), not a full snapshot", l.Kind, l.Object)
		case i > 0 && l.BaseSeq != chain[i-1].Seq:
			return fmt.Sprintf("delta %s is based on seq %d, the link before it is at seq %d", l.Object, l.BaseSeq, chain[i-1].Seq)
		}
	}
	return ""
}

// verifyCopy checks region's copy of object against the sha256 and size the metadata gives
// (label names what the object is in messages). It returns the copy and true when it
// verified; otherwise it records the problem, or the copy as unverifiable when the region's
// object store could not be read at all.
func (d *IntegrityData) verifyCopy(obs *Observations, agent, region, label, object, sha string, size int64) (Object, bool) {
	obj, ok := obs.object(region, object)
	issue := IntegrityIssue{Agent: agent, Region: region}
	switch {
	case !ok && obs.failed("minio "+region):
		d.Unverifiable = append(d.Unverifiable, agent+"@"+region)
		return obj, false
	case !ok:
		issue.Kind = "missing"
		issue.Detail = fmt.Sprintf("metadata lists %s%s in region %s; the region has no such object", label, object, region)
	case obj.SHA256 != sha:
		issue.Kind = "corrupt"
		issue.Detail = fmt.Sprintf("%s%s: sha256 %.12s… read back, metadata says %.12s…", label, object, obj.SHA256, sha)
	case size > 0 && obj.Size != size:
		issue.Kind = "size"
		issue.Detail = fmt.Sprintf("%s%s: %d bytes, metadata says %d", label, object, obj.Size, size)
	default:
		return obj, true
	}
	d.Problems = append(d.Problems, issue)
	return obj, false
}
