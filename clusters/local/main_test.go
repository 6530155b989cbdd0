package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/geodrill/geodrill/refstack/config"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/local"
)

// Environment of a re-executed test binary.
const (
	envCleanupChild = "GEODRILL_CLEANUP_CHILD" // mode: return, panic, sigint, sigkill
	envChildBin     = "GEODRILL_CLEANUP_BIN"
	envChildRun     = "GEODRILL_CLEANUP_RUN"
	envRequire      = "GEODRILL_REQUIRE_INTEGRATION"
)

// pidsFile, in the child's run dir, lists what the child started once its cluster is up.
const pidsFile = "pids.json"

func TestMain(m *testing.M) {
	if os.Getenv(envFakeStack) != "" {
		os.Exit(fakeRefstack(os.Args[1:]))
	}
	if mode := os.Getenv(envCleanupChild); mode != "" {
		os.Exit(cleanupChild(mode))
	}
	code := m.Run()
	bins.cleanup()
	os.Exit(code)
}

// testSpec is the topology every test brings up: the shape of the shipped scenarios.
func testSpec(bin, runDir string) clusters.Spec {
	return clusters.Spec{
		Regions:   []string{"a", "b", "c"},
		Agents:    12,
		Placement: map[string]int{"a": 8, "b": 2, "c": 2},
		Stack:     config.Stack{LeaseTTL: 2 * time.Second},
		BinDir:    bin,
		RunDir:    runDir,
	}
}

// proc identifies a process across pid reuse: the pid plus its start time in clock ticks
// since boot (/proc/PID/stat field 22).
type proc struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	Log   string `json:"log"`
}

// procStat reads a process's state letter, parent and start time.
func procStat(pid int) (state byte, ppid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name may hold spaces and parentheses; the fields follow the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("pid %d: odd stat %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, 0, fmt.Errorf("pid %d: short stat %q", pid, b)
	}
	ppid, _ = strconv.Atoi(f[1])
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], ppid, start, nil
}

// describe says whether p still exists: "" when gone (or its pid now belongs to another
// process), else its state. A zombie counts as existing: somebody failed to reap it.
func describe(p proc) string {
	state, ppid, start, err := procStat(p.PID)
	if err != nil || start != p.Start {
		return ""
	}
	if state == 'Z' {
		return fmt.Sprintf("%s pid %d is a zombie not reaped by its parent %d", p.Name, p.PID, ppid)
	}
	return fmt.Sprintf("%s pid %d is alive (state %c, parent %d)", p.Name, p.PID, state, ppid)
}

func snapshot(c *local.Cluster) ([]proc, error) {
	var out []proc
	for _, p := range c.Processes() {
		if !p.Running {
			continue
		}
		_, _, start, err := procStat(p.PID)
		if err != nil {
			return nil, fmt.Errorf("%s %s pid %d: %w", p.Service, p.Region, p.PID, err)
		}
		out = append(out, proc{Name: p.Service + " " + p.Region, PID: p.PID, Start: start, Log: p.Log})
	}
	return out, nil
}

// assertGone waits up to d for every process in ps to be gone and fails naming the others.
func assertGone(t *testing.T, ps []proc, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var alive []string
		for _, p := range ps {
			if s := describe(p); s != "" {
				alive = append(alive, s)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d processes outlived the cluster after %v:\n%s", len(alive), len(ps), d, strings.Join(alive, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func assertAlive(t *testing.T, ps []proc) {
	t.Helper()
	for _, p := range ps {
		if s := describe(p); s == "" || strings.Contains(s, "zombie") {
			t.Fatalf("%s pid %d should be running: %q", p.Name, p.PID, s)
		}
	}
}

func assertNoLeftovers(t *testing.T, runDir string) {
	t.Helper()
	pids, err := local.Leftovers(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) > 0 {
		t.Fatalf("processes marked with run dir %s still running: %v", runDir, pids)
	}
}

// cleanupChild is the body of a re-executed test binary: it brings a cluster up the way
// the harness does (a local cluster + clusters.With), records the pids, then ends as mode
// says. The parent asserts that none of the pids survives.
func cleanupChild(mode string) int {
	runDir := os.Getenv(envChildRun)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := local.New(testSpec(os.Getenv(envChildBin), runDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	err = clusters.With(ctx, c, func(ctx context.Context) error {
		ps, err := snapshot(c)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(ps)
		tmp := filepath.Join(runDir, pidsFile+".tmp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(runDir, pidsFile)); err != nil {
			return err
		}
		switch mode {
		case "return":
			bufio.NewReader(os.Stdin).ReadString('\n') // the parent checked the pids
			return nil
		case "panic":
			bufio.NewReader(os.Stdin).ReadString('\n')
			panic("geodrill cleanup child panics on purpose")
		case "sigint", "sigkill":
			<-ctx.Done()
			return nil
		}
		return fmt.Errorf("unknown mode %q", mode)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// bins provides the binaries directories: the fake stack (always available) and the real
// one (bin/minio plus a refstack built once per test binary).
type binDirs struct {
	fakeOnce, realOnce sync.Once
	fake, real         string
	fakeErr, realErr   error
	tmp                []string
}

var bins binDirs

func (b *binDirs) cleanup() {
	for _, d := range b.tmp {
		os.RemoveAll(d)
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
			continue
		}
		return "", errors.New("no go.mod above the working directory")
	}
}

// minioPath finds the MinIO server binary: $GEODRILL_BIN/minio, else <root>/bin/minio.
func minioPath() (string, error) {
	var tried []string
	if d := os.Getenv("GEODRILL_BIN"); d != "" {
		tried = append(tried, filepath.Join(d, "minio"))
	}
	if root, err := moduleRoot(); err == nil {
		tried = append(tried, filepath.Join(root, "bin", "minio"))
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no minio binary (tried %s)", strings.Join(tried, ", "))
}

func skipOrFail(t *testing.T, err error) {
	t.Helper()
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("integration test cannot run: %v", err)
	}
	t.Skipf("integration test skipped: %v; run make test", err)
}

// fakeBin is a binaries directory with the real minio and the fake refstack.
func fakeBin(t *testing.T) string {
	t.Helper()
	bins.fakeOnce.Do(func() {
		bins.fake, bins.fakeErr = func() (string, error) {
			minio, err := minioPath()
			if err != nil {
				return "", err
			}
			self, err := os.Executable()
			if err != nil {
				return "", err
			}
			dir, err := os.MkdirTemp("", "geodrill-fakebin-")
			if err != nil {
				return "", err
			}
			bins.tmp = append(bins.tmp, dir)
			// Under -race a binary sleeps a second at exit by default (atexit_sleep_ms).
			script := fmt.Sprintf("#!/bin/sh\n%s=1 GORACE=atexit_sleep_ms=0 exec %q \"$@\"\n", envFakeStack, self)
			if err := os.WriteFile(filepath.Join(dir, "refstack"), []byte(script), 0o755); err != nil {
				return "", err
			}
			return dir, os.Symlink(minio, filepath.Join(dir, "minio"))
		}()
	})
	if bins.fakeErr != nil {
		skipOrFail(t, bins.fakeErr)
	}
	return bins.fake
}

// realBin is a binaries directory with the real minio and refstack: $GEODRILL_BIN if it
// has both, else bin/minio plus refstack built from ./cmd/refstack, so that `go test
// ./clusters/...` works on its own.
func realBin(t *testing.T) string {
	t.Helper()
	bins.realOnce.Do(func() {
		bins.real, bins.realErr = func() (string, error) {
			if d := os.Getenv("GEODRILL_BIN"); d != "" {
				_, e1 := os.Stat(filepath.Join(d, "refstack"))
				_, e2 := os.Stat(filepath.Join(d, "minio"))
				if e1 == nil && e2 == nil {
					return d, nil
				}
			}
			minio, err := minioPath()
			if err != nil {
				return "", err
			}
			root, err := moduleRoot()
			if err != nil {
				return "", err
			}
			dir, err := os.MkdirTemp("", "geodrill-bin-")
			if err != nil {
				return "", err
			}
			bins.tmp = append(bins.tmp, dir)
			gobin, err := exec.LookPath("go")
			if err != nil {
				gobin = "/usr/local/go/bin/go"
			}
			build := exec.Command(gobin, "build", "-o", filepath.Join(dir, "refstack"), "./cmd/refstack")
			build.Dir = root
			if out, err := build.CombinedOutput(); err != nil {
				return "", fmt.Errorf("go build ./cmd/refstack: %v\n%s", err, out)
			}
			return dir, os.Symlink(minio, filepath.Join(dir, "minio"))
		}()
	})
	if bins.realErr != nil {
		skipOrFail(t, bins.realErr)
	}
	return bins.real
}
