package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/scenarios"
)

// Input mistakes exit 2 and say what was wrong, once ("harness: " is not doubled); asking
// for help exits 0 with the usage on stdout.
func TestExitCodesForInputMistakes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join("..", "..", "scenarios", "region-outage.yaml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"run -h", []string{"run", "-h"}, exitPass, ""},
		{"missing scenario", []string{"run", filepath.Join(dir, "nope.yaml")}, exitUsage, "no such file"},
		{"a directory", []string{"validate", dir}, exitUsage, "is a directory"},
		{"a FIFO", []string{"validate", fifo}, exitUsage, "is not a regular file"},
		{"--out on a file", []string{"run", "--out", file, scenario}, exitUsage, "--out " + file + ": is a file"},
		{"down on a mistyped path", []string{"down", filepath.Join(dir, "runz")}, exitUsage, "not a run directory"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%s: exit %d, want %d and %q\nstderr: %s", tc.name, code, tc.code, tc.want, errOut.String())
		}
		if strings.Contains(errOut.String(), "harness: harness:") {
			t.Errorf("%s: doubled prefix: %s", tc.name, errOut.String())
		}
		if tc.code == exitPass && !strings.Contains(out.String(), "usage: harness") {
			t.Errorf("%s: no usage on stdout: %q", tc.name, out.String())
		}
	}
}

// A run directory with any corrupt file is bad input to check: exit 2, whichever file.
func TestCheckCorruptRunExits2(t *testing.T) {
	for _, file := range []string{"scenario.yaml", "history.jsonl", "timeline.jsonl", "results.json"} {
		dir := savedCopy(t, t.TempDir(), "pass")
		if err := os.WriteFile(filepath.Join(dir, file), []byte("{not json: ["), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"check", dir}, &out, &errOut); code != exitUsage {
			t.Errorf("corrupt %s: exit %d, want %d\n%s", file, code, exitUsage, errOut.String())
		}
	}
}

// The one exit-code table, row by row: every error a command can end with maps to the code
// the usage text promises, also when wrapped or joined with others (the worst counts as
// the run loop keeps it).
func TestExitCodeTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"nothing wrong", nil, exitPass},
		{"command-line misuse", usageError{"unknown flag"}, exitUsage},
		{"a corrupt run directory", inputError{"history.jsonl: line 3: not JSON"}, exitUsage},
		{"a bad scenario", &scenarios.Error{File: "s.yaml", Line: 3, Field: "workload.rate", Msg: "too high"}, exitUsage},
		{"a wrapped bad scenario", fmt.Errorf("load: %w", &scenarios.Error{File: "s.yaml", Msg: "empty"}), exitUsage},
		{"a check failed", checkFailed{checkers.Fail}, exitCheck},
		{"a check undecided", checkFailed{checkers.Unknown}, exitCheck},
		{"the harness or cluster failed", &drill.HarnessError{Err: errors.New("etcd a did not start")}, exitHarness},
		{"an interruption", fmt.Errorf("run: %w", context.Canceled), exitHarness},
		{"anything else", errors.New("disk full"), exitHarness},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("%s (%v): exit %d, want %d", tc.name, tc.err, got, tc.code)
		}
	}
}

// The kind provider on a machine without kind, kubectl or Docker's client fails at once,
// exit 11, naming what is missing and where the README says how to get it; nothing runs.
func TestKindWithoutToolsExits11(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on it
	out := t.TempDir()
	scenario := filepath.Join("..", "..", "scenarios", "region-outage.yaml")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--provider", "kind", "--out", out, scenario}, &stdout, &stderr)
	if code != exitHarness {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, exitHarness, stderr.String())
	}
	for _, want := range []string{"kind, kubectl, docker not on PATH", `section "Kubernetes (kind)"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
}
