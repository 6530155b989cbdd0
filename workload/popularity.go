package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Distribution names how ops spread over an ordered list of names (agents, or keys).
type Distribution string

// The distributions. Under every one of them the first name in the list is the hottest (or,
// under uniform, as hot as any): the rule HottestAgent relies on.
const (
	Uniform Distribution = "uniform" // every name alike; also the zero value ""
	Zipf    Distribution = "zipf"    // name i (from 0) weighs 1/(i+1)^Exponent
	HotSet  Distribution = "hotset"  // the first Hot names share HotShare of the ops evenly
)

// Distributions lists the known distributions, for validation messages.
func Distributions() []string { return []string{string(Uniform), string(Zipf), string(HotSet)} }

// Skew is the popularity of an ordered list of names. The zero value is uniform.
type Skew struct {
	Distribution Distribution
	// Exponent (zipf) is s in 1/(i+1)^s; larger is more skewed. Must be > 0.
	Exponent float64
	// Hot (hotset) is how many names, from the first, are hot: 1 <= Hot < len(names).
	Hot int
	// HotShare (hotset) is the fraction of ops on the hot names, in (0, 1].
	HotShare float64
}

// Check reports what is wrong with s for a list of n names.
func (s Skew) Check(n int) error {
	switch s.Distribution {
	case "", Uniform:
		return nil
	case Zipf:
		if !(s.Exponent > 0) || math.IsInf(s.Exponent, 0) {
			return fmt.Errorf("zipf exponent %v: want > 0", s.Exponent)
		}
	case HotSet:
		if s.Hot < 1 || s.Hot >= n {
			return fmt.Errorf("hotset of %d among %d names: want 1 to %d hot names", s.Hot, n, n-1)
		}
		if !(s.HotShare > 0 && s.HotShare <= 1) {
			return fmt.Errorf("hotset share %v: want a fraction in (0, 1]", s.HotShare)
		}
	default:
		return fmt.Errorf("unknown distribution %q", s.Distribution)
	}
	return nil
}

// Weights returns the share of ops each of n names gets under s; they sum to 1. s must
// pass Check(n).
func (s Skew) Weights(n int) []float64 {
	w := make([]float64, n)
	switch s.Distribution {
	case Zipf:
		sum := 0.0
		for i := range w {
			w[i] = math.Pow(float64(i+1), -s.Exponent)
			sum += w[i]
		}
		for i := range w {
			w[i] /= sum
		}
	case HotSet:
		for i := range w {
			if i < s.Hot {
				w[i] = s.HotShare / float64(s.Hot)
			} else {
				w[i] = (1 - s.HotShare) / float64(n-s.Hot)
			}
		}
	default:
		for i := range w {
			w[i] = 1 / float64(n)
		}
	}
	return w
}

// picker draws an index in [0, n) with the weights of a Skew, one draw of the seeded source
// per pick. Uniform uses IntN, as the generator did before skews existed.
type picker struct {
	n   int
	cum []float64 // cumulative weights; nil for uniform
}

func newPicker(s Skew, n int) picker {
	if s.Distribution == "" || s.Distribution == Uniform {
		return picker{n: n}
	}
	cum := s.Weights(n)
	for i := 1; i < len(cum); i++ {
		cum[i] += cum[i-1]
	}
	return picker{n: n, cum: cum}
}

func (p picker) pick(rng *rand.Rand) int {
	if p.cum == nil {
		return rng.IntN(p.n)
	}
	u := rng.Float64() * p.cum[len(p.cum)-1]
	i, _ := slices.BinarySearch(p.cum, u)
	return min(i, p.n-1)
}
