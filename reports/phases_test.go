package reports

import (
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/timeline"
)

// The rto checker's recovery phases are drawn in report.html and tabled in summary.md, with
// whether the dead region held a leader; a run without phases shows neither.
func TestRecoveryPhasesInTheReports(t *testing.T) {
	d := checkers.RTOData{
		Measured: 2,
		Windows:  []checkers.RTOWindow{{Name: "f1:region-outage", Region: "a", EtcdLeader: "a", ControllerLeader: "b"}},
		Phases: []checkers.PhaseStat{
			{Phase: timeline.RecoveryDeclared, Agents: 2, P50: 0.7, P95: 0.7, Max: 0.7},
			{Phase: timeline.RecoveryServed, Agents: 2, P50: 0.85, P95: 1.2, Max: 1.2},
		},
	}
	r := &Run{Results: []checkers.Result{{Checker: checkers.NameRTO, Verdicts: []checkers.Verdict{{Checker: checkers.NameRTO, Status: checkers.Pass}}, Data: d}}}
	html, err := renderHTML(r)
	if err != nil {
		t.Fatal(err)
	}
	md := Summary(r)
	for _, want := range []string{`id="phases"`, "declared", "served", "width:58.3%", "region a held the etcd leader at the fault"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, want := range []string{"## Recovery phases", "| served | the first ok operation from the new owner: the RTO | 2 |", "region a held the etcd leader"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	r.Results[0].Data = checkers.RTOData{}
	if html, _ := renderHTML(r); strings.Contains(string(html), `id="phases"`) || strings.Contains(Summary(r), "Recovery phases") {
		t.Error("phases shown for a run without any")
	}
}
