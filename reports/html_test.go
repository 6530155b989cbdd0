package reports

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
)

// copyRun loads a saved run from testdata and points it at a fresh directory holding copies
// of its artifacts (logs, linearizability.html), so writing it leaves testdata untouched.
func copyRun(t testing.TB, name string) *Run {
	t.Helper()
	src := filepath.Join("testdata", "saved", name)
	r, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	r.Dir = filepath.Join(t.TempDir(), name)
	err = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(r.Dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r.Dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHTMLSavedRuns renders report.html for a passing and a failing saved drill and checks,
// as a reader would, that the verdicts, charts, marks and links are there.
func TestHTMLSavedRuns(t *testing.T) {
	tests := []struct {
		run     string
		verdict string
		want    []string
	}{
		{"pass", "PASS", []string{"RPO 0: no acknowledged write lost", "RTO max 2.59s", "f1:region-outage → a",
			"No linearizability visualization"}},
		{"unsafe", "FAIL", []string{`<tr class="fail"><td>linearizability</td>`, `href="linearizability.html"`,
			"RTO max 2.74s"}},
	}
	for _, tt := range tests {
		t.Run(tt.run, func(t *testing.T) {
			r := copyRun(t, tt.run)
			if err := Write(r); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(r.Dir, rundir.HTMLFile))
			if err != nil {
				t.Fatal(err)
			}
			page := string(data)
			want := append([]string{
				`<span class="badge ` + strings.ToLower(tt.verdict) + `" id="verdict">` + tt.verdict + `</span>`,
				`<table id="sla">`, `<div id="throughput"><svg`, `<div id="latency"><svg`, `<div id="owners"><svg`,
				`<rect class="fault"`, `class="p50"`, `class="p99"`, `href="logs/a-host.log"`, `href="junit.xml"`,
				"region a", "region b", "a·e1", "b·e2",
			}, tt.want...)
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Errorf("report.html lacks %q", w)
				}
			}
			// One SLA row per verdict, styled by status.
			if got, wantRows := strings.Count(page, `<td class="verdict">`), len(rows(r.Results)); got != wantRows {
				t.Errorf("%d SLA rows, want %d", got, wantRows)
			}
			// Self-contained: nothing fetched from anywhere.
			for _, bad := range []string{"<script", "http://", "https://", "@import", "<link"} {
				for _, line := range strings.Split(page, "\n") {
					if strings.Contains(line, bad) && !strings.Contains(line, `xmlns="http://www.w3.org/2000/svg"`) {
						t.Errorf("report.html is not self-contained: %q in %q", bad, line)
						break
					}
				}
			}
			// Every SVG chart is well-formed XML.
			for _, id := range []string{"throughput", "latency", "owners"} {
				chart := between(page, `<div id="`+id+`">`, `</div>`)
				if err := xml.Unmarshal([]byte(chart), new(struct{})); err != nil {
					t.Errorf("%s chart is not well-formed: %v", id, err)
				}
			}
			summary, _ := os.ReadFile(filepath.Join(r.Dir, rundir.SummaryFile))
			if !strings.Contains(string(summary), "[report.html](report.html)") {
				t.Error("summary.md does not link report.html")
			}
		})
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

func TestHTMLNoHistoryStillRenders(t *testing.T) {
	r := sampleRun(t, t.TempDir())
	r.History = nil
	r.Results = nil
	r.HarnessError = "cluster up: <etcd> did not start"
	r.Status = checkers.Unknown
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(r.Dir, rundir.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	for _, w := range []string{"Harness error:", "cluster up: &lt;etcd&gt; did not start", "No checker produced a verdict",
		`id="verdict">UNKNOWN<`} {
		if !strings.Contains(page, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	if r.Overall() != checkers.Unknown {
		t.Errorf("overall %v", r.Overall())
	}
}
