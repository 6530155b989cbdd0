package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
)

// Exit codes, mapped from errors in one place (exitCode).
const (
	exitPass    = 0
	exitUsage   = 2
	exitCheck   = 10 // a check failed or could not decide: the system under test did not pass
	exitHarness = 11 // the harness or the cluster failed
)

const usage = `usage: harness <command> [flags] [args]

commands:
  run FILE...        run each scenario: bring up the stack, load, faults, checks, report
      --seed N         override the scenario's seed (same seed, same schedule and load)
      --out DIR        where run directories go (default runs)
      --bin DIR        where refstack and minio are (default $GEODRILL_BIN or ./bin)
      --unsafe A,B     turn on planted bugs (unsafe switches, refstack/bugs.Table) to see a
                       check fail: NAME or NAME=PARAM, e.g. skip-checksum,router-ignores-epochs=5s
                       (an unknown name lists the known ones; make selftest runs each
                       against the scenario that exposes it)
      --repeat N       run each scenario N times with seeds seed, seed+1, ... and print the
                       RTO distribution, RPO worst case and pass rate over the drills
      --keep-data      keep the services' data (etcd, MinIO; about 190 MB) of a drill that
                       passed; a drill that did not pass always keeps it
      --json           print the results as JSON on stdout (one drill: its results; more:
                       {"runs": [...], "aggregates": [...]}); progress stays on stderr
      --provider P     run on provider P instead of the scenario's: local, netns, docker, kind, auto
  check RUN_DIR...   re-run every checker on saved runs, without a cluster, and compare
                     with the saved results.json (a mismatch exits 11)
  report DIR...      aggregate saved runs (a directory of runs counts as all of them):
                     RTO p50/p95/max, RPO worst case, pass rate; writes missing report.html
      --baseline DIR   compare against baseline runs; a regression exits 10
      --threshold PCT  RTO p95 / loss window worse by more than PCT percent is a regression
                       (default 20); so is any lost write, lower pass rate or newly failing target
      --json           print the aggregate (and comparison) as JSON
  conform [FILE]     check a system against the contract (README "The system-under-test
                     contract"): brings up the reference stack of FILE (default
                     scenarios/region-outage.yaml), checks writes, reads, cas and headers,
                     kills the region that serves, checks recovery; prints what is missing
                     or wrong (exit 10 when a required part is)
      --url URL        check a running system at URL instead (fault-free checks only)
      --agents N       agents to use with --url (default 3: agent-00..agent-02)
      --provider P     as for run; --bin, --out (its logs), --json as for run
  list [DIR]         list the scenarios in DIR (default scenarios)
  validate FILE...   decode and validate scenarios; errors name file, line and fix
  down [RUN_DIR...]  remove what a killed harness left: docker containers and networks,
                     geodrill network namespaces, bridges and veths (root), and the
                     processes of each RUN_DIR
      --images         also list the docker provider's cached images
      --remove-images  also remove them (the next docker run rebuilds, about 2s)

exit codes: 0 all pass, 10 a check failed or was unknown, 11 harness/cluster failure, 2 bad usage
`

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// inputError is bad input that is not a misuse of the command line (a corrupt run
// directory): exit 2 like a usageError, without the usage text.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }

// checkFailed means the drill ran and a verdict was not pass.
type checkFailed struct{ status checkers.Status }

func (e checkFailed) Error() string { return "verdict: " + e.status.String() }

func exitCode(err error) int {
	var ue usageError
	var ie inputError
	var se *scenarios.Error
	var cf checkFailed
	switch {
	case err == nil:
		return exitPass
	case errors.As(err, &ue), errors.As(err, &ie), errors.As(err, &se):
		return exitUsage
	case errors.As(err, &cf):
		return exitCheck
	default:
		return exitHarness
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "check":
		err = cmdCheck(ctx, args[1:], stdout)
	case "report":
		err = cmdReport(args[1:], stdout, stderr)
	case "list":
		err = cmdList(args[1:], stdout)
	case "validate":
		err = cmdValidate(args[1:], stdout)
	case "down":
		err = cmdDown(ctx, args[1:], stdout)
	case "conform":
		err = cmdConform(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitPass
	default:
		err = usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitPass
	}
	code := exitCode(err)
	if err != nil && code != exitCheck {
		fmt.Fprintf(stderr, "harness: %s\n", strings.TrimPrefix(err.Error(), "harness: "))
		if code == exitUsage {
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprint(stderr, "\n"+usage)
			}
		}
	}
	return code
}

// parse accepts flags before, between and after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err // -h asks for the usage: not a mistake
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return pos, nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	seed := fs.Int64("seed", 0, "")
	out := fs.String("out", "runs", "")
	bin := fs.String("bin", "", "")
	unsafe := fs.String("unsafe", "", "")
	repeat := fs.Int("repeat", 1, "")
	asJSON := fs.Bool("json", false, "")
	keepData := fs.Bool("keep-data", false, "")
	provider := fs.String("provider", "", "")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{"run needs at least one scenario file, e.g. harness run scenarios/region-outage.yaml"}
	}
	if *repeat < 1 {
		return usageError{fmt.Sprintf("--repeat %d: must be at least 1, e.g. --repeat 5", *repeat)}
	}
	if st, err := os.Stat(*out); err == nil && !st.IsDir() {
		return usageError{fmt.Sprintf("--out %s: is a file, not a directory for run directories", *out)}
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	planted, err := bugs.Parse(*unsafe)
	if err != nil {
		return usageError{fmt.Sprintf("--unsafe %s: %v", *unsafe, err)}
	}
	if *provider != "" && !slices.Contains(scenarios.Providers(), *provider) {
		return usageError{fmt.Sprintf("--provider %s: unknown; use one of %s", *provider, strings.Join(scenarios.Providers(), ", "))}
	}
	binDir := *bin // "" lets the cluster find it: $GEODRILL_BIN, <module>/bin, beside harness
	// Validate every file before running any of them.
	scs := make([]*scenarios.Scenario, len(files))
	for i, f := range files {
		if scs[i], err = scenarios.Load(f); err != nil {
			return err
		}
		if *provider != "" {
			scs[i].Provider = *provider
		}
		if scs[i].System != nil && !planted.IsZero() {
			return usageError{fmt.Sprintf("%s: --unsafe: planted bugs are the reference stack's; %s is the described system %s", f, f, scs[i].System.Name)}
		}
		scs[i].Stack.Unsafe.Set = scs[i].Stack.Unsafe.Union(planted)
		if err := scs[i].Stack.Unsafe.CheckDurability(scs[i].Stack.Durability); err != nil {
			return usageError{fmt.Sprintf("%s: --unsafe: %v", f, err)}
		}
	}
	var worst error
	var all []*reports.Run
	var aggs []reports.Aggregate
	finish := func() error {
		if *asJSON {
			return errors.Join(worst, printJSON(stdout, all, aggs))
		}
		return worst
	}
	for i, sc := range scs {
		var drills []*reports.Run
		for k := 0; k < *repeat; k++ {
			opts := drill.Options{Scenario: sc, OutBase: *out, BinDir: binDir, Progress: stderr, KeepData: *keepData}
			if seedSet || *repeat > 1 {
				s := sc.Seed
				if seedSet {
					s = *seed
				}
				s += int64(k) // drill k of --repeat: seed, seed+1, ...
				opts.Seed = &s
			}
			fmt.Fprintf(stderr, "== %s (%s)", sc.Name, files[i])
			if *repeat > 1 {
				fmt.Fprintf(stderr, " drill %d of %d", k+1, *repeat)
			}
			fmt.Fprintln(stderr)
			r, err := drill.Run(ctx, opts)
			if r != nil {
				drills = append(drills, r)
				all = append(all, r)
				if !*asJSON {
					printRun(stdout, r)
				}
			}
			switch {
			case err != nil:
				worst = err
			case r.Status != checkers.Pass && exitCode(worst) < exitCheck:
				worst = checkFailed{r.Status}
			}
			if ctx.Err() != nil {
				return errors.Join(finish(), ctx.Err())
			}
		}
		if *repeat > 1 && len(drills) > 0 {
			agg := reports.AggregateRuns(drills)
			aggs = append(aggs, agg)
			if !*asJSON {
				fmt.Fprintf(stdout, "\n== %s: %d drills\n%s", sc.Name, len(drills), agg.Text())
			}
		}
	}
	return finish()
}

func printRun(w io.Writer, r *reports.Run) {
	fmt.Fprintf(w, "\n%s  seed=%d  provider=%s  %s\n", r.Scenario.Name, r.Seed, r.Provider, r.Duration.Round(1e8))
	if len(r.Results) > 0 {
		fmt.Fprint(w, reports.Table(r.Results))
	}
	if r.HarnessError != "" {
		fmt.Fprintf(w, "HARNESS FAILURE: %s\n", r.HarnessError)
	}
	fmt.Fprintf(w, "verdict: %s\nreport:  %s\nsummary: %s\n", strings.ToUpper(r.Status.String()),
		filepath.Join(r.Dir, rundir.HTMLFile), filepath.Join(r.Dir, rundir.SummaryFile))
}

func cmdCheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usageError{"check needs a run directory, e.g. harness check runs/region-outage-..."}
	}
	var worst error
	var mismatch []error
	for _, dir := range dirs {
		r, err := reports.Load(dir)
		if err != nil {
			// A run directory that cannot be read, whichever of its files is at fault, is
			// bad input: exit 2, like a corrupt scenario.
			return inputError{fmt.Sprintf("%v (give a run directory a finished harness run wrote)", err)}
		}
		saved := r.Results
		r.Results = checkers.Run(ctx, checkers.Input{Scenario: r.Scenario, History: r.History, Timeline: r.Timeline, Observations: r.Observations})
		r.Status = checkers.Overall(r.Results)
		fmt.Fprintf(stdout, "%s\n%sverdict: %s\n", dir, reports.Table(r.Results), strings.ToUpper(r.Status.String()))
		// A re-check that disagrees with the saved verdicts means a checker is not a pure
		// function of the saved run, or the run directory was edited: a harness failure.
		diffs, onlyOne := checkers.Compare(saved, r.Results)
		switch {
		case len(saved) == 0:
			fmt.Fprintf(stdout, "replay: %s has no saved verdicts to compare with\n", rundir.ResultsFile)
		case len(diffs) == 0:
			fmt.Fprintf(stdout, "replay: same verdicts as the saved %s\n", rundir.ResultsFile)
		default:
			fmt.Fprintf(stdout, "replay: DIFFERENT verdicts from the saved %s:\n  %s\n", rundir.ResultsFile, strings.Join(diffs, "\n  "))
			mismatch = append(mismatch, fmt.Errorf("%s: %d verdicts differ from the saved %s (see above); re-check with the geodrill that wrote the run, or report a non-deterministic checker", dir, len(diffs), rundir.ResultsFile))
		}
		if len(onlyOne) > 0 {
			fmt.Fprintf(stdout, "replay: not compared: %s\n", strings.Join(onlyOne, ", "))
		}
		if r.Status != checkers.Pass {
			worst = checkFailed{r.Status}
		}
	}
	if len(mismatch) > 0 {
		return errors.Join(mismatch...)
	}
	return worst
}

func cmdList(args []string, stdout io.Writer) error {
	dir := "scenarios"
	if len(args) > 0 {
		dir = args[0]
	}
	entries, err := scenarios.List(dir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Path, e.Description)
	}
	return tw.Flush()
}

func cmdValidate(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"validate needs at least one scenario file"}
	}
	var errs []error
	for _, f := range args {
		if _, err := scenarios.Load(f); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", f)
	}
	return errors.Join(errs...)
}
