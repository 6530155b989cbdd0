package workload

import "time"

// MaxBurst bounds Config.Burst: a burst is how many ops may run on one register at once,
// and the linearizability search grows with that.
const MaxBurst = 8

// burstPacer sends rate requests per second in groups of burst sent at once: group g (hits
// g*burst to g*burst+burst-1) at g*burst/rate. The average rate is the constant pacer's;
// burst 1 is the constant pacer.
type burstPacer struct {
	rate  int
	burst int
}

func (p burstPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	group := hits / uint64(p.burst)
	at := time.Duration(float64(group*uint64(p.burst)) / float64(p.rate) * float64(time.Second))
	return at - elapsed, false // zero or negative: send now
}

func (p burstPacer) Rate(time.Duration) float64 { return float64(p.rate) }
