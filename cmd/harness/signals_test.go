package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/internal/testbin"
	"github.com/geodrill/geodrill/rundir"
)

// The findings of the reliability issue about signals, end to end on real processes of the
// local provider: a run stopped in its check phase says it was interrupted (results,
// summary, exit 11) instead of blaming the system under test; SIGHUP (a closed terminal, a
// CI runner going away) stops a run like SIGINT, recovering its fault; after SIGKILL,
// `harness down` stops what the run left and finds its streamed history.

const shortDrill = "testdata/short-outage.yaml"

// integrationBin finds refstack, MinIO and the harness binary (internal/testbin).
func integrationBin(t *testing.T) string {
	t.Helper()
	return testbin.Dir(t, "harness")
}

// onlyRun is the one run directory under out.
func onlyRun(t *testing.T, out string) string {
	t.Helper()
	ents, err := os.ReadDir(out)
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one run directory in %s, got %v (%v)", out, ents, err)
	}
	return filepath.Join(out, ents[0].Name())
}

func mustContain(t *testing.T, file, want string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), want) {
		t.Errorf("%s does not say %q", file, want)
	}
}

// cancelOn cancels when a progress line contains what; it passes everything to w.
type cancelOn struct {
	mu     sync.Mutex
	what   string
	cancel context.CancelFunc
	w      io.Writer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Contains(string(p), c.what) {
		c.cancel()
	}
	return c.w.Write(p)
}

// SIGINT in the check phase (what the signal does: main's context is cancelled) stops the
// checks, exits 11 and says "interrupted" in results.json and summary.md; the checkers that
// did not run are unknown, never a verdict on the stack.
func TestInterruptedInTheCheckPhase(t *testing.T) {
	bin := integrationBin(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr strings.Builder
	w := &cancelOn{what: "phase check", cancel: cancel, w: &stderr}
	code := run(ctx, []string{"run", "--bin", bin, "--out", out, shortDrill}, io.Discard, w)
	if code != exitHarness {
		t.Fatalf("exit %d, want %d (interrupted)\n%s", code, exitHarness, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
	}
	dir := onlyRun(t, out)
	mustContain(t, filepath.Join(dir, rundir.ResultsFile), "interrupted")
	mustContain(t, filepath.Join(dir, rundir.SummaryFile), "interrupted")
}

// harnessProcess runs bin/harness with args and calls at(line) for each stderr line.
func harnessProcess(t *testing.T, bin string, at func(cmd *exec.Cmd, line string), args ...string) int {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "harness"), args...)
	cmd.Env = append(os.Environ(), "GEODRILL_BIN="+bin)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	timer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			at(cmd, sc.Text())
		}
	}()
	<-done
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// SIGHUP while a fault is held stops the run like SIGINT: the fault is recovered, the
// cluster stopped, the partial report kept, exit 11.
func TestSIGHUPStopsARun(t *testing.T) {
	bin := integrationBin(t)
	out := t.TempDir()
	var once sync.Once
	code := harnessProcess(t, bin, func(cmd *exec.Cmd, line string) {
		if strings.Contains(line, "verified, holding") {
			once.Do(func() { _ = cmd.Process.Signal(syscall.SIGHUP) })
		}
	}, "run", "--out", out, shortDrill)
	if code != exitHarness {
		t.Fatalf("exit %d after SIGHUP, want %d", code, exitHarness)
	}
	dir := onlyRun(t, out)
	mustContain(t, filepath.Join(dir, rundir.ResultsFile), "interrupted")
	mustContain(t, filepath.Join(dir, rundir.TimelineFile), `"kind":"recover"`)
}

// SIGKILL loses nothing but the last moment: the history and timeline are streamed to the
// run directory, and `harness down RUN_DIR` stops the processes the run left and names
// the journals that hold its record.
func TestSIGKILLThenDown(t *testing.T) {
	bin := integrationBin(t)
	out := t.TempDir()
	var once sync.Once
	code := harnessProcess(t, bin, func(cmd *exec.Cmd, line string) {
		if strings.Contains(line, "inject f1:") {
			once.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		}
	}, "run", "--out", out, shortDrill)
	if code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want death by SIGKILL", code)
	}
	dir := onlyRun(t, out)
	var stdout strings.Builder
	if code := run(context.Background(), []string{"down", dir}, &stdout, io.Discard); code != exitPass {
		t.Fatalf("down: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), rundir.HistoryJournal) {
		t.Errorf("down does not name the streamed history:\n%s", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.HistoryJournal))
	if err != nil || strings.Count(string(b), "\n") < 50 {
		t.Errorf("streamed history after 2s of load at 100 ops/s: %d lines (%v), want 50 or more", strings.Count(string(b), "\n"), err)
	}
	// Nothing of the run is left running.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if c, err := os.ReadFile(p); err == nil && strings.Contains(string(c), dir) {
			t.Errorf("still running after down: %s", strings.ReplaceAll(string(c), "\x00", " "))
		}
	}
}
