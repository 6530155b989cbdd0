package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/timeline"
)

// summary.md and report.html say which event triggered which fault, and which trigger
// never fired.
func TestTriggeredFaultsInReports(t *testing.T) {
	dir := t.TempDir()
	r := sampleRun(t, dir)
	r.Timeline = append(r.Timeline,
		timeline.Event{At: 8561 * time.Millisecond, Kind: timeline.Inject, Name: "f2:region-outage", Fault: "region-outage", Target: "b",
			Detail: map[string]string{"triggered_by": "ownership-change of agent-03 to b@epoch 4 at 8.410s", "trigger_delay": "150ms"}},
		timeline.Event{At: 30 * time.Second, Kind: timeline.NotTriggered, Name: "f3:pause", Fault: "pause",
			Detail: map[string]string{"trigger": "lease-revoked of f2 + 20ms", "why": "the load ended first"}},
	)
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"f2:region-outage (b) injected at 8.561s, triggered by ownership-change of agent-03 to b@epoch 4 at 8.410s + 150ms",
		"f3:pause NOT TRIGGERED: waited for lease-revoked of f2 + 20ms; the load ended first",
	}
	for _, f := range []string{rundir.SummaryFile, rundir.HTMLFile} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "&#43;", "+")
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", f, w)
			}
		}
	}
}
