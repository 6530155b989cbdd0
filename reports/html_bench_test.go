package reports

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// bigRun is an n-op drill at 200 ops/s over 48 agents; region a (agents 0–15) dies at 40% of
// the run for 60s and its agents move to b 3s later; ops on them fail until then.
func bigRun(t testing.TB, dir string, n int) *Run {
	r := sampleRun(t, dir)
	rng := rand.New(rand.NewSource(1))
	const rate = 200
	end := time.Duration(n) * time.Second / rate
	faultAt := end * 4 / 10
	movedAt := faultAt + 3*time.Second
	r.Timeline = []timeline.Event{
		{At: 0, Kind: timeline.Phase, Name: "load"},
		{At: faultAt, Kind: timeline.Inject, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
		{At: faultAt + 60*time.Second, Kind: timeline.Healed, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
	}
	r.History = make(history.History, n)
	for i := range r.History {
		agent := rng.Intn(48)
		invoke := time.Duration(i) * time.Second / rate
		op := history.Op{ID: int64(i + 1), Agent: fmt.Sprintf("agent-%02d", agent), Key: "k0", Kind: history.Put,
			Value: fmt.Sprint(i), Invoke: invoke, Complete: invoke + time.Duration(rng.ExpFloat64()*float64(3*time.Millisecond)),
			Outcome: history.OK, Region: []string{"a", "b", "c"}[agent/16], Epoch: 1}
		if agent < 16 && invoke >= faultAt {
			op.Region, op.Epoch = "b", 2
			if invoke < movedAt {
				op.Outcome, op.Region, op.Epoch = history.Fail, "", 0
			}
		}
		r.History[i] = op
	}
	return r
}

// BenchmarkWriteHTML100k renders report.html for a 100k-op run and reports its size.
func BenchmarkWriteHTML100k(b *testing.B) {
	r := bigRun(b, b.TempDir(), 100_000)
	var size int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := renderHTML(r)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size)/1024, "KiB/report")
}

// TestHTMLSizeBounded: charts are downsampled, so 100k ops make a report of about the same
// size as 10k ops, and both stay small.
func TestHTMLSizeBounded(t *testing.T) {
	sizes := map[int]int{}
	for _, n := range []int{10_000, 100_000} {
		r := bigRun(t, filepath.Join(t.TempDir(), fmt.Sprint(n)), n)
		if err := Write(r); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(r.Dir, rundir.HTMLFile))
		if err != nil {
			t.Fatal(err)
		}
		sizes[n] = int(fi.Size())
	}
	if sizes[100_000] > 400<<10 || sizes[100_000] > 2*sizes[10_000] {
		t.Errorf("report.html sizes %v: 100k ops must stay under 400 KiB and not grow with the op count", sizes)
	}
	t.Logf("report.html sizes: %v", sizes)
}
