package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/reports"
)

// TestBugMatrix runs every row of Matrix and every scenario on the healthy stack, through
// bin/harness, and writes the matrix it observed to $GEODRILL_SELFTEST_OUT (default
// runs/selftest)/matrix.md: the README's table comes from there.
func TestBugMatrix(t *testing.T) {
	if os.Getenv("GEODRILL_SELFTEST") != "1" {
		t.Skip("the bug matrix runs several full drills: run make selftest (GEODRILL_SELFTEST=1)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("GEODRILL_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin")
	}
	harness := filepath.Join(bin, "harness")
	if _, err := os.Stat(harness); err != nil {
		t.Fatalf("%v: build it first (make build)", err)
	}
	out := os.Getenv("GEODRILL_SELFTEST_OUT")
	if out == "" {
		out = filepath.Join(root, "runs", "selftest")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	type row struct {
		c       Case
		healthy bool
		got     string // what the run showed, for the table
		runDir  string
		ok      bool
	}
	var rows []row
	for _, sc := range Scenarios() {
		rows = append(rows, row{c: Case{Scenario: sc}, healthy: true})
	}
	for _, c := range Matrix {
		rows = append(rows, row{c: c})
	}
	for i := range rows {
		r := &rows[i]
		name := r.c.Switch
		if r.healthy {
			name = "healthy"
		}
		t.Run(name+"/"+strings.TrimSuffix(filepath.Base(r.c.Scenario), ".yaml"), func(t *testing.T) {
			args := []string{"run", filepath.Join(root, r.c.Scenario), "--out", out, "--bin", bin}
			if !r.healthy {
				args = append(args, "--unsafe", r.c.Switch)
			}
			run, code, err := drillOnce(t, harness, root, args)
			if err != nil {
				r.got = "harness failed"
				t.Fatal(err)
			}
			r.runDir = run.Dir
			failed := failing(run.Results)
			r.got = "all pass"
			switch {
			case len(run.Results) == 0:
				r.got = "no verdicts"
			case len(failed) > 0:
				r.got = strings.Join(failed, ", ") + " fail"
			}
			t.Logf("%s: exit %d, %s (%s)", name, code, r.got, run.Dir)
			switch {
			case run.HarnessError != "":
				t.Fatalf("harness error, not a verdict: %s", run.HarnessError)
			case r.healthy && (code != 0 || run.Status != checkers.Pass):
				t.Fatalf("the healthy stack must pass %s: exit %d, status %s\n%s", r.c.Scenario, code, run.Status, reports.Table(run.Results))
			case !r.healthy && code != 10:
				t.Fatalf("--unsafe %s on %s: exit %d, want 10 (a check failed)\n%s", r.c.Switch, r.c.Scenario, code, reports.Table(run.Results))
			case !r.healthy && statusOf(run.Results, r.c.Caught) != checkers.Fail:
				t.Fatalf("--unsafe %s on %s: %s is %s, want fail; failing: %v\n%s", r.c.Switch, r.c.Scenario, r.c.Caught,
					statusOf(run.Results, r.c.Caught), failed, reports.Table(run.Results))
			}
			r.ok = true
		})
	}

	var md strings.Builder
	md.WriteString("| unsafe switch | breaks | scenario | must fail | observed | result |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		sw, breaks, want := "`"+r.c.Switch+"`", r.c.Breaks, r.c.Caught
		if r.healthy {
			sw, breaks, want = "(healthy stack)", "nothing", "(none: all pass)"
		}
		res := "ok"
		if !r.ok {
			res = "**FAILED**"
		}
		fmt.Fprintf(&md, "| %s | %s | `%s` | %s | %s | %s |\n", sw, breaks, r.c.Scenario, want, r.got, res)
	}
	path := filepath.Join(out, "matrix.md")
	if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("bug matrix (%s):\n%s", path, md.String())
}

// drillOnce runs bin/harness and loads the run directory it reports.
func drillOnce(t *testing.T, harness, root string, args []string) (*reports.Run, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness, args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return nil, -1, fmt.Errorf("harness %v: %w", args, err)
	}
	dir := ""
	for _, line := range strings.Split(stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "report:"); ok {
			dir = filepath.Dir(strings.TrimSpace(rest))
		}
	}
	if dir == "" {
		return nil, code, fmt.Errorf("harness %v (exit %d) named no report; stdout:\n%s\nstderr tail:\n%s", args, code, stdout.String(), tail(stderr.String(), 2000))
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	run, err := reports.Load(dir)
	if err != nil {
		return nil, code, fmt.Errorf("load the run harness wrote: %w", err)
	}
	return run, code, nil
}

func failing(results []checkers.Result) []string {
	var out []string
	for _, r := range results {
		if r.Status() == checkers.Fail {
			out = append(out, r.Checker)
		}
	}
	return out
}

func statusOf(results []checkers.Result, checker string) checkers.Status {
	for _, r := range results {
		if r.Checker == checker {
			return r.Status()
		}
	}
	return checkers.Unknown
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
