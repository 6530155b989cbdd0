package checkers

import (
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// heapMetric is the bytes of live and not-yet-swept heap objects: what the search grows.
const heapMetric = "/memory/classes/heap/objects:bytes"

// watchMemory polls the heap every 50ms while a search runs; once it passes limit bytes it
// sets exceeded and stop, which the register model polls on every step, so the search
// ends with the verdict unknown instead of the process being killed for memory. It returns
// the function that ends the watch.
func watchMemory(limit uint64, exceeded, stop *atomic.Bool) (done func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: heapMetric}}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
				exceeded.Store(true)
				stop.Store(true)
				return
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}
