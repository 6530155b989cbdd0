package faults

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"strconv"
	"time"
)

// Trigger starts a fault on a stack event instead of at a fixed time: the first event of
// kind On seen after the fault's At (and, with Of naming a fault, after that fault's
// injection), then After later. A trigger that never fires before the load ends is
// recorded as not triggered, and the run cannot pass.
type Trigger struct {
	On EventKind `json:"on"`
	// Of narrows the events: "" any; a region name: events whose owner region (new or
	// previous) is that region; a fault id "f1": events after f1 was injected whose owner
	// region (new or previous) is f1's target region.
	Of string `json:"of,omitempty"`
	// MinAfter..MaxAfter is the range the delay is drawn from; After is the drawn delay.
	MinAfter time.Duration `json:"min_after"`
	MaxAfter time.Duration `json:"max_after"`
	After    time.Duration `json:"after"`
}

// faultRef matches a fault id in Of: "f1", or a full id "f1:region-outage".
var faultRef = regexp.MustCompile(`^f([1-9][0-9]*)(:[a-z-]+)?$`)

// FaultRef returns the 1-based fault number of of when it names a fault ("f2"), else 0.
func FaultRef(of string) int {
	m := faultRef.FindStringSubmatch(of)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Check reports an unusable trigger. It does not know the topology or the other faults;
// the scenario's validation checks Of against those.
func (t Trigger) Check() error {
	known := false
	for _, k := range EventKinds() {
		known = known || string(t.On) == k
	}
	switch {
	case !known:
		return fmt.Errorf("trigger on %q: want one of %v", t.On, EventKinds())
	case t.MinAfter < 0 || t.MaxAfter < t.MinAfter:
		return fmt.Errorf("trigger delay %s..%s: need 0 <= min <= max", t.MinAfter, t.MaxAfter)
	}
	return nil
}

// TriggerDelay draws a triggered fault's delay in MinAfter..MaxAfter, in whole
// milliseconds, from the run seed and the fault's place in the schedule (1-based): the same
// seed gives the same delay, and each fault gets its own stream.
func TriggerDelay(seed int64, fault int, min, max time.Duration) time.Duration {
	if max <= min {
		return min
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "trigger-f%d", fault)
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	steps := int64((max - min) / time.Millisecond)
	return min + time.Duration(rng.Int64N(steps+1))*time.Millisecond
}

// injected is a fault that was injected, for triggers that name it.
type injected struct {
	at     time.Duration
	region string
}

// matches reports whether e fires t. of is the fault t names, when it names one (nil when
// that fault has not been injected yet).
func (t Trigger) matches(e StackEvent, of *injected) bool {
	if e.Kind != t.On {
		return false
	}
	switch {
	case t.Of == "":
		return true
	case FaultRef(t.Of) > 0:
		return of != nil && e.At >= of.at && (e.Region == of.region || e.From == of.region)
	default:
		return e.Region == t.Of || e.From == t.Of
	}
}

// triggerDetail is what the inject event records about the event that triggered it.
func triggerDetail(e StackEvent, t Trigger) map[string]string {
	return map[string]string{
		"triggered_by":   e.String(),
		"trigger_kind":   string(e.Kind),
		"trigger_agent":  e.Agent,
		"trigger_epoch":  strconv.FormatInt(e.Epoch, 10),
		"trigger_region": e.Region,
		"trigger_at":     fmt.Sprintf("%.3fs", e.At.Seconds()),
		"trigger_delay":  t.After.String(),
	}
}
