package scenarios

import (
	"time"
)

// Defaults for fields a scenario leaves out (or sets to zero); the stack's own settings
// take theirs from refstack/api.
const (
	DefaultProvider     = "local"
	DefaultKeysPerAgent = 4
	DefaultTimeout      = 2 * time.Second
	DefaultCheckTimeout = 60 * time.Second
	// DefaultCheckMemoryMiB bounds the linearizability search's heap (4 GiB).
	DefaultCheckMemoryMiB = 4096

	DefaultBurst = 1
	// Popularity defaults: uniform; zipf's exponent; hotset's size and share.
	DefaultDistribution = "uniform"
	DefaultZipfExponent = 1.0
	DefaultHot          = 1
	DefaultHotShare     = 0.8
	// Cold key defaults, when cold.keys is set: one write in the first third of the load,
	// one read in its last fifth.
	DefaultColdWrites = 1
	DefaultColdReads  = 1
)

// DefaultMix is put 5 / get 4 / cas 1.
func DefaultMix() Mix { return Mix{Put: 5, Get: 4, CAS: 1} }

// ApplyDefaults fills zero fields with their defaults. It is idempotent. Negative values are
// left alone for Validate to report. A mix of all zeros means "not given".
func (s *Scenario) ApplyDefaults() {
	if s.Provider == "" {
		s.Provider = DefaultProvider
	}
	if s.Topology.KeysPerAgent == 0 {
		s.Topology.KeysPerAgent = DefaultKeysPerAgent
	}
	s.Stack = s.Stack.WithDefaults()
	if s.Workload.Timeout == 0 {
		s.Workload.Timeout = Duration(DefaultTimeout)
	}
	if s.Workload.Mix == (Mix{}) {
		s.Workload.Mix = DefaultMix()
	}
	if s.Workload.Burst == 0 {
		s.Workload.Burst = DefaultBurst
	}
	s.Workload.Agents.applyDefaults()
	s.Workload.Keys.applyDefaults()
	s.Workload.Cold.applyDefaults(s.Workload.Duration)
	if s.SLA.CheckTimeout == 0 {
		s.SLA.CheckTimeout = Duration(DefaultCheckTimeout)
	}
	if s.SLA.CheckMemoryMiB == 0 {
		s.SLA.CheckMemoryMiB = DefaultCheckMemoryMiB
	}
}

// EnsureSeed gives a scenario without a seed (seed 0 or absent) one derived from now, and
// returns the seed. The seed is recorded in the resolved scenario, so the run can be repeated.
func (s *Scenario) EnsureSeed(now time.Time) int64 {
	if s.Seed == 0 {
		// Small enough to retype on a command line; never 0.
		s.Seed = int64(uint64(now.UnixNano())%1_000_000_000) + 1
	}
	return s.Seed
}

// applyDefaults fills the parameters of the chosen distribution only; a parameter set for
// another distribution is left for Validate to refuse.
func (p *Popularity) applyDefaults() {
	switch p.Distribution {
	case "":
		p.Distribution = DefaultDistribution
	case "zipf":
		if p.Exponent == 0 {
			p.Exponent = DefaultZipfExponent
		}
	case "hotset":
		if p.Hot == 0 {
			p.Hot = DefaultHot
		}
		if p.HotShare == 0 {
			p.HotShare = DefaultHotShare
		}
	}
}

// applyDefaults fills the schedule of cold keys when there are any (cold.keys > 0).
func (c *Cold) applyDefaults(load Duration) {
	if c.Keys <= 0 {
		return
	}
	if c.Writes == 0 {
		c.Writes = DefaultColdWrites
	}
	if c.Reads == 0 {
		c.Reads = DefaultColdReads
	}
	if c.WriteBy == 0 {
		c.WriteBy = Duration(defaultWriteBy(load.D()))
	}
	if c.ReadFrom == 0 {
		c.ReadFrom = Duration(defaultReadFrom(load.D()))
	}
}

// The default cold windows: writes in the first third of the load, reads in its last fifth.
func defaultWriteBy(load time.Duration) time.Duration {
	return (load / 3).Truncate(100 * time.Millisecond)
}

func defaultReadFrom(load time.Duration) time.Duration {
	return (load * 4 / 5).Truncate(100 * time.Millisecond)
}
