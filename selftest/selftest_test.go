package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
)

// The sweep is shaped by environment variables, so a developer can rerun one row:
//
//	GEODRILL_SELFTEST_SEEDS  how many seeds (1..N), default 5
//	GEODRILL_SELFTEST_ONLY   comma-separated switches to run ("healthy" for the healthy stack)
//	GEODRILL_SELFTEST_OUT    where run directories and matrix.md/json go, default runs/selftest
const (
	defaultSeeds = 5
	healthy      = "healthy"
)

// minCatches is how many of n seeds must catch a bug: four of five, all of fewer than five.
func minCatches(n int) int {
	if n < 5 {
		return n
	}
	return (4*n + 4) / 5
}

// drillResult is one drill of the sweep.
type drillResult struct {
	Scenario string   `json:"scenario"`
	Seed     int64    `json:"seed"`
	Exit     int      `json:"exit"`
	Failing  []string `json:"failing,omitempty"` // checkers that failed
	Unknown  []string `json:"unknown,omitempty"` // checkers that could not decide
	RunDir   string   `json:"run_dir,omitempty"`
	Error    string   `json:"error,omitempty"` // the harness failed (not a verdict)
	Seconds  float64  `json:"seconds"`
}

// caught: the drill exited 10 with a failing checker (an unknown verdict alone is no catch).
func (d drillResult) caught() bool { return d.Exit == 10 && len(d.Failing) > 0 }

// rowResult is one row of the observed matrix: a switch (or the healthy stack) over the seeds.
type rowResult struct {
	Switch string `json:"switch"`
	Area   string `json:"area,omitempty"`
	Breaks string `json:"breaks,omitempty"`
	Expect string `json:"expect,omitempty"`
	// Seeds is how many seeds ran (a row stops once it has missed too many); Caught how many
	// of them caught the bug (for the healthy stack: how many seeds passed every scenario).
	Seeds   int           `json:"seeds"`
	Caught  int           `json:"caught"`
	Need    int           `json:"need"`
	Drills  []drillResult `json:"drills"`
	OK      bool          `json:"ok"`
	Seconds float64       `json:"seconds"`
}

// TestBugMatrix runs the healthy stack and every row of Matrix over the default suite and
// several seeds, through bin/harness, and writes what it observed to matrix.md and
// matrix.json (the README's table comes from there).
// envProvider runs the matrix on another provider than the scenarios name
// (make selftest PROVIDER=docker).
const envProvider = "GEODRILL_SELFTEST_PROVIDER"

func TestBugMatrix(t *testing.T) {
	if os.Getenv("GEODRILL_SELFTEST") != "1" {
		t.Skip("the bug matrix runs many full drills: run make selftest (GEODRILL_SELFTEST=1)")
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
	seeds := defaultSeeds
	if s := os.Getenv("GEODRILL_SELFTEST_SEEDS"); s != "" {
		if seeds, err = strconv.Atoi(s); err != nil || seeds < 1 {
			t.Fatalf("GEODRILL_SELFTEST_SEEDS=%q: want a whole number of seeds, at least 1", s)
		}
	}
	only := map[string]bool{}
	if s := os.Getenv("GEODRILL_SELFTEST_ONLY"); s != "" {
		for _, name := range strings.Split(s, ",") {
			only[strings.TrimSpace(name)] = true
		}
	}
	want := func(name string) bool { return len(only) == 0 || only[name] }

	start := time.Now()
	var rows []rowResult
	write := func() {
		if err := writeMatrix(out, rows, seeds, time.Since(start)); err != nil {
			t.Error(err)
		}
	}

	if want(healthy) {
		row := rowResult{Switch: healthy, Seeds: seeds, Need: seeds}
		t.Run(healthy, func(t *testing.T) {
			rowStart := time.Now()
			for seed := int64(1); seed <= int64(seeds); seed++ {
				clean := true
				for _, sc := range Suite {
					d := drill(t, harness, root, out, bin, sc, seed, "")
					row.Drills = append(row.Drills, d)
					if d.Exit != 0 {
						clean = false
						t.Errorf("false alarm: the healthy stack on %s seed %d: exit %d, failing %v, unknown %v, error %q (%s)",
							sc, seed, d.Exit, d.Failing, d.Unknown, d.Error, d.RunDir)
					}
				}
				if clean {
					row.Caught++
				}
			}
			row.OK = row.Caught == seeds
			row.Seconds = time.Since(rowStart).Seconds()
		})
		rows = append(rows, row)
		write()
	}

	durability := durabilities(t, root)
	for _, c := range Matrix {
		if !want(string(c.Switch)) {
			continue
		}
		sw, _ := bugs.Lookup(string(c.Switch))
		row := rowResult{Switch: string(c.Switch), Area: sw.Area, Breaks: sw.Breaks, Expect: sw.Caught, Need: minCatches(seeds)}
		t.Run(string(c.Switch), func(t *testing.T) {
			rowStart := time.Now()
			for seed := int64(1); seed <= int64(seeds); seed++ {
				row.Seeds++
				for _, sc := range c.order(func(s string) string { return durability[s] }) {
					d := drill(t, harness, root, out, bin, sc, seed, string(c.Switch))
					row.Drills = append(row.Drills, d)
					if d.Error != "" {
						t.Errorf("--unsafe %s on %s seed %d: harness error, not a verdict: %s", c.Switch, sc, seed, d.Error)
					}
					if d.caught() {
						row.Caught++
						break
					}
				}
				if row.Seeds-row.Caught > seeds-row.Need {
					break // missed on too many seeds already: the row has failed
				}
			}
			row.OK = row.Caught >= row.Need
			row.Seconds = time.Since(rowStart).Seconds()
			if !row.OK {
				t.Errorf("--unsafe %s: caught on %d of %d seeds run, want at least %d of %d", c.Switch, row.Caught, row.Seeds, row.Need, seeds)
			}
		})
		rows = append(rows, row)
		write()
	}
	md, _ := os.ReadFile(filepath.Join(out, "matrix.md"))
	t.Logf("bug matrix (%s):\n%s", filepath.Join(out, "matrix.md"), md)
}

// drill runs one scenario through bin/harness and reads the verdicts from its run directory.
func drill(t *testing.T, harness, root, out, bin, scenario string, seed int64, unsafe string) drillResult {
	t.Helper()
	d := drillResult{Scenario: scenario, Seed: seed}
	args := []string{"run", filepath.Join(root, scenario), "--out", out, "--bin", bin, "--seed", strconv.FormatInt(seed, 10)}
	if p := os.Getenv(envProvider); p != "" {
		args = append(args, "--provider", p)
	}
	if unsafe != "" {
		args = append(args, "--unsafe", unsafe)
	}
	began := time.Now()
	run, code, err := drillOnce(harness, root, args)
	d.Seconds = time.Since(began).Seconds()
	d.Exit = code
	if err != nil {
		d.Error = err.Error()
		t.Logf("%s seed %d %s: exit %d: %v", scenario, seed, unsafe, code, err)
		return d
	}
	d.RunDir = run.Dir
	// The services' data (about 190 MB a drill) is not needed to re-check a run: the checkers
	// read the history, timeline and observations. A sweep of a hundred drills keeps the rest.
	if err := os.RemoveAll(filepath.Join(run.Dir, rundir.DataDir)); err != nil {
		t.Logf("remove %s: %v", filepath.Join(run.Dir, rundir.DataDir), err)
	}
	if run.HarnessError != "" {
		d.Error = run.HarnessError
	}
	for _, r := range run.Results {
		switch r.Status() {
		case checkers.Fail:
			if !slices.Contains(d.Failing, r.Checker) {
				d.Failing = append(d.Failing, r.Checker)
			}
		case checkers.Unknown:
			if !slices.Contains(d.Unknown, r.Checker) {
				d.Unknown = append(d.Unknown, r.Checker)
			}
		}
	}
	name := unsafe
	if name == "" {
		name = healthy
	}
	t.Logf("%-22s %-45s seed %d: exit %d failing %v unknown %v (%.0fs, %s)", name, scenario, seed, code, d.Failing, d.Unknown, d.Seconds, run.Dir)
	return d
}

// drillOnce runs bin/harness and loads the run directory it reports.
func drillOnce(harness, root string, args []string) (*reports.Run, int, error) {
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

// durabilities reads every suite scenario's durability mode.
func durabilities(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sc := range Suite {
		s, err := scenarios.Load(filepath.Join(root, sc))
		if err != nil {
			t.Fatalf("suite scenario: %v", err)
		}
		out[sc] = s.Stack.Durability
	}
	return out
}

// writeMatrix writes the observed matrix as matrix.json and as the Markdown table the README
// quotes.
func writeMatrix(out string, rows []rowResult, seeds int, wall time.Duration) error {
	js, err := json.MarshalIndent(struct {
		Suite   []string    `json:"suite"`
		Seeds   int         `json:"seeds"`
		Seconds float64     `json:"seconds"`
		Rows    []rowResult `json:"rows"`
	}{Suite, seeds, wall.Seconds(), rows}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "matrix.json"), js, 0o644); err != nil {
		return err
	}
	var md strings.Builder
	drills := 0
	for _, r := range rows {
		drills += len(r.Drills)
	}
	fmt.Fprintf(&md, "Default suite: %d scenarios; seeds 1–%d; %d drills in %s.\n\n", len(Suite), seeds, drills, wall.Round(time.Second))
	md.WriteString("| unsafe switch | area | breaks | caught on | caught by (scenario ×seeds: failing checkers) | result |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		res := "ok"
		if !r.OK {
			res = "**MISSED**"
		}
		if r.Switch == healthy {
			if !r.OK {
				res = "**FALSE ALARM**"
			}
			fmt.Fprintf(&md, "| (healthy stack) | | nothing | %d of %d seeds pass all %d scenarios | %s | %s |\n",
				r.Caught, r.Seeds, len(Suite), falseAlarms(r.Drills), res)
			continue
		}
		fmt.Fprintf(&md, "| `%s` | %s | %s | %d of %d seeds | %s | %s |\n", r.Switch, r.Area, r.Breaks, r.Caught, r.Seeds, catchers(r.Drills), res)
	}
	return os.WriteFile(filepath.Join(out, "matrix.md"), []byte(md.String()), 0o644)
}

// catchers summarises which scenarios caught a bug and with which checkers, over its seeds.
func catchers(ds []drillResult) string {
	type key struct{ sc, checkers string }
	count := map[key]int{}
	var order []key
	for _, d := range ds {
		if !d.caught() {
			continue
		}
		k := key{strings.TrimSuffix(filepath.Base(d.Scenario), ".yaml"), strings.Join(d.Failing, ", ")}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	if len(order) == 0 {
		return "(none)"
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s ×%d: %s", k.sc, count[k], k.checkers)
	}
	return strings.Join(parts, "; ")
}

// falseAlarms lists the healthy drills that did not pass.
func falseAlarms(ds []drillResult) string {
	var parts []string
	for _, d := range ds {
		if d.Exit != 0 {
			parts = append(parts, fmt.Sprintf("%s seed %d: exit %d %v", strings.TrimSuffix(filepath.Base(d.Scenario), ".yaml"), d.Seed, d.Exit, d.Failing))
		}
	}
	if len(parts) == 0 {
		return "no false alarm"
	}
	return strings.Join(parts, "; ")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
