package reports

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/geodrill/geodrill/rundir"
)

// junitDoc is an independent reading of JUnit XML, as a CI system would parse it.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Time       string `xml:"time,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, r *Run) junitDoc {
	t.Helper()
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(r.Dir, rundir.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, data)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d testsuites, want 1", len(doc.Suites))
	}
	return doc
}

func TestJUnit(t *testing.T) {
	r := sampleRun(t, t.TempDir())
	doc := readJUnit(t, r)
	s := doc.Suites[0]
	if doc.Tests != 4 || doc.Failures != 2 || doc.Errors != 0 || s.Tests != 4 || s.Failures != 2 || s.Errors != 0 {
		t.Errorf("counts: suites %d/%d/%d suite %d/%d/%d, want 4 tests, 2 failures, 0 errors",
			doc.Tests, doc.Failures, doc.Errors, s.Tests, s.Failures, s.Errors)
	}
	if s.Name != "geodrill/region-outage" || s.Time != "41.250" || s.Timestamp != "2026-03-04T05:06:07" {
		t.Errorf("suite %q time %q timestamp %q", s.Name, s.Time, s.Timestamp)
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	if props["seed"] != "1" || props["provider"] != "local" || props["status"] != "fail" {
		t.Errorf("properties = %v", props)
	}
	type want struct{ name, failType, msg string }
	wants := []want{
		{"linearizability: linearizable", "", ""},
		{"rpo: max_lost_writes <= 0", "", ""},
		{"rto: rto_p95 <= 5s", "fail", "measured 7.31s, target rto_p95 <= 5s"},
		{"availability: min_availability >= 0.8", "unknown", "measured n/a, target min_availability >= 0.8"},
	}
	for i, w := range wants {
		c := s.Cases[i]
		if c.Name != w.name {
			t.Errorf("case %d name %q, want %q", i, c.Name, w.name)
		}
		switch {
		case w.failType == "" && c.Failure != nil:
			t.Errorf("%s: unexpected failure %+v", c.Name, c.Failure)
		case w.failType != "" && (c.Failure == nil || c.Failure.Type != w.failType || c.Failure.Message != w.msg):
			t.Errorf("%s: failure %+v, want type %q message %q", c.Name, c.Failure, w.failType, w.msg)
		}
	}
	if s.Cases[2].Failure.Text != "3 of 8 agents waited for lease expiry" {
		t.Errorf("failure text %q", s.Cases[2].Failure.Text)
	}
}

func TestJUnitHarnessErrorAndNoVerdicts(t *testing.T) {
	r := sampleRun(t, t.TempDir())
	r.Results = nil
	r.HarnessError = `cluster up: etcd member "b" did not become healthy <in 30s> & gave up`
	doc := readJUnit(t, r)
	s := doc.Suites[0]
	if s.Tests != 1 || s.Errors != 1 || s.Failures != 0 {
		t.Fatalf("counts %d/%d/%d, want 1 test, 1 error", s.Tests, s.Failures, s.Errors)
	}
	if e := s.Cases[0].Error; e == nil || e.Type != "harness" || e.Message != r.HarnessError {
		t.Errorf("error = %+v", e)
	}

	r = sampleRun(t, t.TempDir())
	r.Results = nil
	doc = readJUnit(t, r)
	s = doc.Suites[0]
	if s.Tests != 1 || s.Failures != 1 || s.Cases[0].Failure == nil || s.Cases[0].Failure.Type != "unknown" {
		t.Errorf("a run without verdicts must fail as unknown in CI: %+v", s)
	}
}

// TestJUnitSavedRuns: junit.xml written for real drills parses as JUnit, with one case per
// verdict and the failing one carrying measured against target.
func TestJUnitSavedRuns(t *testing.T) {
	for _, tt := range []struct {
		run      string
		failures int
	}{{"pass", 0}, {"unsafe", 1}} {
		r := copyRun(t, tt.run)
		doc := readJUnit(t, r)
		s := doc.Suites[0]
		if s.Tests != len(rows(r.Results)) || s.Failures != tt.failures || doc.Failures != tt.failures || s.Errors != 0 {
			t.Errorf("%s: %d tests %d failures %d errors, want %d tests %d failures", tt.run, s.Tests, s.Failures, s.Errors,
				len(rows(r.Results)), tt.failures)
		}
		for _, c := range s.Cases {
			if c.Failure != nil && (c.Name != "linearizability: linearizable" ||
				c.Failure.Message != "measured not linearizable: 8 of 48 partitions illegal, target linearizable") {
				t.Errorf("%s: failure %s: %+v", tt.run, c.Name, c.Failure)
			}
		}
	}
}
