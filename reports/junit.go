package reports

import (
	"encoding/xml"
	"fmt"
	"strconv"

	"github.com/geodrill/geodrill/checkers"
)

// JUnit XML, as CI systems (Jenkins, GitLab, GitHub Actions reporters) read it: one
// testsuite per run, one testcase per verdict.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

// junitSkipped marks a target not applicable to the system under test.
type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func renderJUnit(r *Run) ([]byte, error) {
	class := "geodrill." + r.name()
	suite := junitSuite{
		Name: "geodrill/" + r.name(),
		Time: seconds(r.Duration.Seconds()),
		Properties: []junitProperty{
			{"scenario", r.name()},
			{"seed", strconv.FormatInt(r.Seed, 10)},
			{"provider", r.provider()},
			{"status", r.Overall().String()},
			{"run_dir", r.Dir},
		},
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, v := range rows(r.Results) {
		c := junitCase{Name: v.Checker + ": " + v.Target, Classname: class + "." + v.Checker, Time: "0"}
		switch v.Status {
		case checkers.Pass:
		case checkers.NotApplicable:
			c.Skipped = &junitSkipped{Message: "not applicable: " + v.Detail}
			suite.Skipped++
		default:
			c.Failure = &junitProblem{
				Message: fmt.Sprintf("measured %s, target %s", oneLine(v.Measured), v.Target),
				Type:    v.Status.String(), // "fail" or "unknown": unknown is never a pass
				Text:    v.Detail,
			}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	if len(r.Results) == 0 && r.HarnessError == "" {
		suite.Cases = append(suite.Cases, junitCase{Name: "geodrill: verdicts", Classname: class, Time: "0",
			Failure: &junitProblem{Message: "no checker produced a verdict", Type: checkers.Unknown.String()}})
		suite.Failures++
	}
	if r.HarnessError != "" {
		suite.Cases = append(suite.Cases, junitCase{Name: "harness: run completes", Classname: class + ".harness", Time: "0",
			Error: &junitProblem{Message: r.HarnessError, Type: "harness",
				Text: "the harness or cluster failed; verdicts are incomplete and this run says nothing about the system under test"}})
		suite.Errors++
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "geodrill", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(append([]byte(xml.Header), out...), '\n'), nil
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
