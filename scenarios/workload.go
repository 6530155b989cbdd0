package scenarios

import (
	"fmt"

	"github.com/geodrill/geodrill/workload"
)

func (w *Workload) validateBurst(v *validator) {
	if w.Burst < 1 || w.Burst > workload.MaxBurst {
		v.add("workload.burst", fmt.Sprintf("use 1 to %d (leave it out for 1)", workload.MaxBurst),
			fmt.Sprintf("workload.burst must be 1 to %d simultaneous ops per register, got %d", workload.MaxBurst, w.Burst))
	}
}

// validate checks a popularity over n items (what names them in messages); deps are the
// fields n comes from.
func (p *Popularity) validate(v *validator, path, what string, n int, deps ...string) {
	if !v.oneOf(path+".distribution", path+".distribution", p.Distribution, workload.Distributions()) {
		return
	}
	only := func(field, dist string, set bool) {
		if set && p.Distribution != dist {
			v.add(path+"."+field, fmt.Sprintf("remove it, or use distribution: %s", dist),
				fmt.Sprintf("%s.%s applies to distribution %s only, not %s", path, field, dist, p.Distribution),
				path+".distribution")
		}
	}
	only("exponent", "zipf", p.Exponent != 0)
	only("hot", "hotset", p.Hot != 0)
	only("hot_share", "hotset", p.HotShare != 0)
	switch p.Distribution {
	case "zipf":
		if !(p.Exponent > 0 && p.Exponent <= 10) {
			v.add(path+".exponent", fmt.Sprintf("use a number above 0 and at most 10, e.g. exponent: %g (leave it out for the default)", DefaultZipfExponent),
				fmt.Sprintf("%s.exponent must be in (0, 10], got %g", path, p.Exponent))
		}
	case "hotset":
		if n < 2 {
			v.add(path+".distribution", fmt.Sprintf("a hot set needs at least 2 %s; use distribution: uniform", what),
				fmt.Sprintf("%s.distribution hotset over %d %s: no item is left outside the hot set", path, n, what), deps...)
			return
		}
		if p.Hot < 1 || p.Hot >= n {
			v.add(path+".hot", fmt.Sprintf("use 1 to %d", n-1),
				fmt.Sprintf("%s.hot must be at least 1 and below the %d %s, got %d", path, n, what, p.Hot), deps...)
		}
		if !(p.HotShare > 0 && p.HotShare <= 1) {
			v.add(path+".hot_share", "write a ratio above 0 and at most 1, e.g. 0.8 for 80% of the ops",
				fmt.Sprintf("%s.hot_share must be in (0, 1], got %g", path, p.HotShare))
		}
	}
}

func (c *Cold) validate(v *validator, w *Workload, t Topology) {
	const path = "workload.cold"
	if c.Keys == 0 {
		for _, f := range []struct {
			name string
			set  bool
		}{{"writes", c.Writes != 0}, {"write_by", c.WriteBy != 0}, {"reads", c.Reads != 0}, {"read_from", c.ReadFrom != 0}} {
			if f.set {
				v.add(path+"."+f.name, "set workload.cold.keys to how many keys per agent are cold, e.g. keys: 1",
					fmt.Sprintf("%s.%s has no effect without %s.keys", path, f.name, path))
			}
		}
		return
	}
	if c.Keys < 0 || (t.KeysPerAgent >= 1 && c.Keys >= t.KeysPerAgent) {
		v.add(path+".keys", fmt.Sprintf("use 0 to %d, or raise topology.keys_per_agent", max(t.KeysPerAgent-1, 0)),
			fmt.Sprintf("%s.keys must leave at least one of the %d keys per agent to the random load, got %d", path, t.KeysPerAgent, c.Keys),
			"topology.keys_per_agent")
		return
	}
	if c.Writes < 1 {
		v.add(path+".writes", "use 1 or more (leave it out for 1)", fmt.Sprintf("%s.writes must be at least 1, got %d", path, c.Writes))
	}
	if c.Reads < 0 {
		v.add(path+".reads", "use 0 or more (leave it out for 1)", fmt.Sprintf("%s.reads must not be negative, got %d", path, c.Reads))
	}
	load := w.Duration
	if load <= 0 {
		return // workload.duration is reported already
	}
	if c.WriteBy <= 0 || c.WriteBy > load {
		v.add(path+".write_by", fmt.Sprintf("write before a time within the load, e.g. write_by: %s (before the first fault)", Duration(defaultWriteBy(load.D()))),
			fmt.Sprintf("%s.write_by must be within the load (0, %s], got %s", path, load, c.WriteBy), "workload.duration")
		return
	}
	if c.ReadFrom < c.WriteBy || c.ReadFrom >= load {
		v.add(path+".read_from", fmt.Sprintf("read from a time between write_by %s and the end of the load %s, e.g. read_from: %s", c.WriteBy, load, Duration(defaultReadFrom(load.D()))),
			fmt.Sprintf("%s.read_from must be at or after write_by and before the end of the load, got %s", path, c.ReadFrom),
			"workload.duration", path+".write_by")
		return
	}
	if w.Rate < 1 || t.Agents < 1 || c.Writes < 1 || c.Reads < 0 {
		return
	}
	if err := c.Schedule().Check(t.Agents, t.KeysPerAgent, w.Rate, load.D()); err != nil {
		v.add(path, "fewer cold keys or writes/reads, a wider window, or a higher workload.rate",
			fmt.Sprintf("%s: %v", path, err), "workload.rate", "topology.agents")
	}
}

// Skew is the workload's form of p (defaults applied).
func (p Popularity) Skew() workload.Skew {
	return workload.Skew{Distribution: workload.Distribution(p.Distribution), Exponent: p.Exponent, Hot: p.Hot, HotShare: p.HotShare}
}

// Schedule is the workload's form of c (defaults applied).
func (c Cold) Schedule() workload.Cold {
	return workload.Cold{Keys: c.Keys, Writes: c.Writes, WriteBy: c.WriteBy.D(), Reads: c.Reads, ReadFrom: c.ReadFrom.D()}
}
