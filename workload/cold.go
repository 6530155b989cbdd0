package workload

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Cold registers are kept out of the random stream: each is written a few times early and
// read back late, so a write lost between checkpoints is still the register's value when
// someone reads it, instead of being overwritten by the load a moment later.
//
// They are the last Keys of Config.Keys, for every agent. Their ops are scheduled by op
// index, and the constant pacer sends op i at about (i-1)/Rate into the load, so an index is
// a time: the writes fall at seeded indexes before WriteBy, the reads at seeded indexes
// from ReadFrom to the end of the load. A scheduled op takes the place of a random one, so
// the rate is unchanged. The first write to a register is a put; each further write is a
// cas that expects the previous one, so a lost write also shows as a failed cas.
type Cold struct {
	Keys     int           // per agent: the last Keys of Config.Keys; 0 disables cold keys
	Writes   int           // writes per cold register, >= 1
	WriteBy  time.Duration // all writes are sent before this offset into the load
	Reads    int           // reads per cold register during the load, >= 0 (final reads come on top)
	ReadFrom time.Duration // reads are sent from this offset to the end of the load
}

// MaxColdShare bounds the fraction of the ops before WriteBy that cold writes may take, so
// the random stream keeps most of its rate while they are sent.
const MaxColdShare = 0.5

// Check reports what is wrong with c for a load of rate ops/s for d, over agents agents and
// keys keys per agent.
func (c Cold) Check(agents, keys, rate int, d time.Duration) error {
	switch {
	case c.Keys == 0:
		return nil
	case c.Keys < 0 || c.Keys >= keys:
		return fmt.Errorf("cold keys %d of %d per agent: want 0 to %d, so a key stays for the random load", c.Keys, keys, keys-1)
	case c.Writes < 1:
		return fmt.Errorf("cold writes %d: want at least 1", c.Writes)
	case c.Reads < 0:
		return fmt.Errorf("cold reads %d: want 0 or more", c.Reads)
	case c.WriteBy <= 0 || c.WriteBy > d:
		return fmt.Errorf("cold write_by %s: want within the load (0, %s]", c.WriteBy, d)
	case c.ReadFrom < c.WriteBy || c.ReadFrom >= d:
		return fmt.Errorf("cold read_from %s: want from write_by %s to before the end of the load %s", c.ReadFrom, c.WriteBy, d)
	}
	if n, slots := c.Writes*agents*c.Keys, slotsBefore(c.WriteBy, rate); float64(n) > MaxColdShare*float64(slots) {
		return fmt.Errorf("%d cold writes before %s would take more than %.0f%% of its %d ops", n, c.WriteBy, 100*MaxColdShare, slots)
	}
	if n, slots := c.Reads*agents*c.Keys, slotsBefore(d, rate)-slotsBefore(c.ReadFrom, rate); float64(n) > MaxColdShare*float64(slots) {
		return fmt.Errorf("%d cold reads from %s would take more than %.0f%% of the %d ops left", n, c.ReadFrom, 100*MaxColdShare, slots)
	}
	return nil
}

// slotsBefore is how many ops the pacer sends in the first d of the load.
func slotsBefore(d time.Duration, rate int) int64 { return int64(d.Seconds() * float64(rate)) }

// coldOp is one scheduled op on a cold register: at op index slot (or the first free index
// after it), a write or a read.
type coldOp struct {
	slot  int64
	reg   register
	write bool
}

// coldSchedule draws the cold ops from rng, ordered by slot; the writes to one register keep
// their order. Indexes start at 1, like op ids.
func coldSchedule(rng *rand.Rand, c Cold, agents, keys []string, rate int, d time.Duration) []coldOp {
	if c.Keys == 0 {
		return nil
	}
	writeSlots := max(slotsBefore(c.WriteBy, rate), 1)
	readFrom, end := slotsBefore(c.ReadFrom, rate), max(slotsBefore(d, rate), 1)
	var ops []coldOp
	for _, a := range agents {
		for _, k := range keys[len(keys)-c.Keys:] {
			r := register{a, k}
			for range c.Writes {
				ops = append(ops, coldOp{slot: 1 + rng.Int64N(writeSlots), reg: r, write: true})
			}
			for range c.Reads {
				ops = append(ops, coldOp{slot: readFrom + 1 + rng.Int64N(max(end-readFrom, 1)), reg: r})
			}
		}
	}
	slices.SortStableFunc(ops, func(a, b coldOp) int { return int(a.slot - b.slot) })
	return ops
}
