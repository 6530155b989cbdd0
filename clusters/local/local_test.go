package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/refstack/api"
)

// stacks: the fake refstack (fast, always available) and the real one (needs bin/minio and
// a refstack that builds).
var stacks = []struct {
	name string
	bin  func(*testing.T) string
}{
	{"fake", fakeBin},
	{"real", realBin},
}

// upCluster brings a cluster up and makes sure it comes down when the test ends.
func upCluster(t *testing.T, ctx context.Context, bin string, edits ...func(*clusters.Spec)) (*local.Cluster, string) {
	t.Helper()
	runDir := t.TempDir()
	s := testSpec(bin, runDir)
	s.Progress = func(msg string) { t.Log(msg) }
	for _, edit := range edits {
		edit(&s)
	}
	c, err := local.New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
		if pids, _ := local.KillLeftovers(runDir); len(pids) > 0 {
			t.Errorf("killed leftover processes %v", pids)
		}
	})
	began := time.Now()
	if err := c.Up(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("up in %v", time.Since(began).Round(time.Millisecond))
	return c, runDir
}

func TestNewRejects(t *testing.T) {
	good := testSpec(t.TempDir(), t.TempDir())
	tests := []struct {
		name string
		edit func(*clusters.Spec)
		want string
	}{
		{"no regions", func(s *clusters.Spec) { s.Regions = nil }, "at least one region"},
		{"bad region name", func(s *clusters.Spec) { s.Regions = []string{"a", "B c"} }, `region "B c"`},
		{"duplicate region", func(s *clusters.Spec) { s.Regions = []string{"a", "a"} }, "listed twice"},
		{"no agents", func(s *clusters.Spec) { s.Agents = 0 }, "need at least 1"},
		{"unknown placement region", func(s *clusters.Spec) { s.Placement = map[string]int{"x": 1} }, `region "x"`},
		{"placement too big", func(s *clusters.Spec) { s.Placement = map[string]int{"a": 13} }, "only 12"},
		{"missing binaries", func(*clusters.Spec) {}, "make build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.edit(&s)
			_, err := local.New(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestUpFailsWhenAProcessExits(t *testing.T) {
	bin := fakeBin(t)
	runDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(runDir, fakeCrash), []byte("host b"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := local.New(testSpec(bin, runDir))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Up(context.Background())
	for _, want := range []string{"host b exited", "b-host.log", "fake crash as asked"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Up: got %v, want an error containing %q", err, want)
		}
	}
	for _, p := range c.Processes() {
		if p.Running {
			t.Errorf("%s %s still running after a failed Up", p.Service, p.Region)
		}
	}
	assertNoLeftovers(t, runDir)
	if err := c.Down(context.Background()); err != nil {
		t.Fatalf("Down after a failed Up: %v", err)
	}
	if err := c.Up(context.Background()); err == nil {
		t.Fatal("Up after Down should fail")
	}
}

func TestDownInterruptsUp(t *testing.T) {
	bin := fakeBin(t)
	runDir := t.TempDir()
	c, err := local.New(testSpec(bin, runDir))
	if err != nil {
		t.Fatal(err)
	}
	upErr := make(chan error, 1)
	go func() { upErr <- c.Up(context.Background()) }()
	for len(c.Processes()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-upErr; err == nil || !strings.Contains(err.Error(), "going down") {
		t.Fatalf("Up interrupted by Down: got %v", err)
	}
	assertNoLeftovers(t, runDir)
}

func TestDownStopsStoppedProcesses(t *testing.T) {
	for _, cancelled := range []bool{false, true} {
		name := map[bool]string{false: "graceful", true: "cancelled ctx"}[cancelled]
		t.Run(name, func(t *testing.T) {
			c, runDir := upCluster(t, context.Background(), fakeBin(t))
			ps, err := snapshot(c)
			if err != nil {
				t.Fatal(err)
			}
			// A grey failure left in place: Down must still end these promptly.
			for _, target := range [][2]string{{"a", api.ServiceEtcd}, {"c", api.ServiceHost}} {
				if err := c.Signal(target[0], target[1], syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			if cancelled {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			began := time.Now()
			if err := c.Down(ctx); err != nil {
				t.Fatal(err)
			}
			// SIGCONT after SIGTERM lets them exit at once instead of after the grace.
			if d := time.Since(began); d > 4*time.Second {
				t.Errorf("Down took %v with SIGSTOPped processes", d)
			}
			assertGone(t, ps, time.Second)
			assertNoLeftovers(t, runDir)
		})
	}
}

func TestKillAndRestoreRegion(t *testing.T) {
	for _, stack := range stacks {
		t.Run(stack.name, func(t *testing.T) {
			bin := stack.bin(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, runDir := upCluster(t, ctx, bin)
			eps := c.Endpoints()
			before, err := snapshot(c)
			if err != nil {
				t.Fatal(err)
			}
			var inA, others []proc
			for _, p := range before {
				if strings.HasSuffix(p.Name, " a") {
					inA = append(inA, p)
				} else {
					others = append(others, p)
				}
			}
			if len(inA) != 3 || len(others) != 7 {
				t.Fatalf("want 3 processes in region a and 7 others, got %v", before)
			}

			began := time.Now()
			if err := c.KillRegion(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			t.Logf("killed region a in %v", time.Since(began).Round(time.Millisecond))
			assertGone(t, inA, 0) // KillRegion returns only once they are gone
			assertAlive(t, others)
			probe := &http.Client{Timeout: time.Second}
			for _, u := range eps.HealthURLs("a") {
				if resp, err := probe.Get(u); err == nil {
					resp.Body.Close()
					t.Errorf("%s answers after KillRegion", u)
				}
			}
			if err := c.Signal("a", api.ServiceHost, syscall.SIGSTOP); err == nil {
				t.Error("Signal to a killed service should fail")
			}

			// A grey failure elsewhere in the meantime, and its end.
			if err := c.Signal("b", api.ServiceHost, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			waitState(t, c, "b", api.ServiceHost, 'T')
			if err := c.Signal("b", api.ServiceHost, syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			waitState(t, c, "b", api.ServiceHost, 'S', 'R')

			began = time.Now()
			if err := c.RestoreRegion(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			t.Logf("restored region a in %v", time.Since(began).Round(time.Millisecond))
			if got := c.Endpoints(); !reflect.DeepEqual(got, eps) {
				t.Errorf("endpoints changed across restore:\n got %+v\nwant %+v", got, eps)
			}
			for _, u := range eps.HealthURLs("a") {
				resp, err := probe.Get(u)
				if err != nil {
					t.Fatalf("%s after restore: %v", u, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s after restore: %s", u, resp.Status)
				}
			}
			after, err := snapshot(c)
			if err != nil {
				t.Fatal(err)
			}
			assertAlive(t, after)
			if len(after) != len(before) {
				t.Fatalf("after restore %d processes run, want %d", len(after), len(before))
			}
			// Every agent has an owner again (the stack may have moved a's agents away).
			waitOwners(t, ctx, c, 12)

			if err := c.Down(ctx); err != nil {
				t.Fatal(err)
			}
			assertGone(t, append(before, after...), 0)
			assertNoLeftovers(t, runDir)
		})
	}
}

func waitState(t *testing.T, c *local.Cluster, region, service string, want ...byte) {
	t.Helper()
	var pid int
	for _, p := range c.Processes() {
		if p.Region == region && p.Service == service {
			pid = p.PID
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		state, _, _, err := procStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if state == w {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s pid %d: state %c, want one of %q", service, region, pid, state, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitOwners(t *testing.T, ctx context.Context, c *local.Cluster, agents int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		owners, err := c.Owners(ctx)
		if err == nil && len(owners) == agents {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("owners: %d of %d, err %v", len(owners), agents, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCleanup proves that no process outlives the harness, however it ends: a child test
// binary brings up a cluster through local.New and clusters.With, records the pids, and
// then returns, panics, gets SIGINT, or gets SIGKILL.
func TestCleanup(t *testing.T) {
	for _, stack := range stacks {
		t.Run(stack.name, func(t *testing.T) {
			bin := stack.bin(t)
			for _, mode := range []string{"return", "panic", "sigint", "sigkill"} {
				t.Run(mode, func(t *testing.T) { cleanupCase(t, bin, mode) })
			}
		})
	}
}

func cleanupCase(t *testing.T, bin, mode string) {
	runDir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(runDir, "child.out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	child := exec.Command(self)
	child.Env = append(os.Environ(), envCleanupChild+"="+mode, envChildBin+"="+bin, envChildRun+"="+runDir)
	child.Stdout, child.Stderr = out, out
	// Should this test die, the child dies too, and with it its cluster.
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	t.Cleanup(func() {
		child.Process.Kill()
		<-exited
		local.KillLeftovers(runDir)
	})
	output := func() string { b, _ := os.ReadFile(outPath); return string(b) }

	// Wait for the child's cluster.
	var ps []proc
	deadline := time.Now().Add(3 * time.Minute)
	for ps == nil {
		if b, err := os.ReadFile(filepath.Join(runDir, pidsFile)); err == nil {
			if err := json.Unmarshal(b, &ps); err != nil {
				t.Fatal(err)
			}
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("child exited before its cluster was up (%v):\n%s", err, output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("child's cluster not up in time:\n%s", output())
		}
	}
	if len(ps) != 10 {
		t.Fatalf("child recorded %d processes, want 10: %v", len(ps), ps)
	}
	assertAlive(t, ps)

	switch mode {
	case "return", "panic":
		stdin.Write([]byte("go\n"))
	case "sigint":
		child.Process.Signal(os.Interrupt)
	case "sigkill":
		child.Process.Kill()
	}
	var werr error
	select {
	case werr = <-exited:
		exited <- werr
	case <-time.After(60 * time.Second):
		t.Fatalf("child did not exit:\n%s", output())
	}
	var ee *exec.ExitError
	switch mode {
	case "return", "sigint":
		if werr != nil {
			t.Fatalf("child: %v\n%s", werr, output())
		}
	case "panic":
		if !errors.As(werr, &ee) || ee.ExitCode() != 2 || !strings.Contains(output(), "panics on purpose") {
			t.Fatalf("child should have panicked (exit 2), got %v:\n%s", werr, output())
		}
	case "sigkill":
		if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child should have been killed, got %v", werr)
		}
	}
	// Down reaps before the child exits; after SIGKILL, Pdeathsig kills and init reaps.
	assertGone(t, ps, 5*time.Second)
	assertNoLeftovers(t, runDir)

	// Pdeathsig alone would also pass the checks above, so prove which mechanism worked: the
	// supervisor notes each reap in the log, which only happens if Down ran.
	for _, p := range ps {
		b, err := os.ReadFile(p.Log)
		if err != nil {
			t.Fatal(err)
		}
		reaped := strings.Contains(string(b), fmt.Sprintf("pid %d exited", p.PID))
		if want := mode != "sigkill"; reaped != want {
			t.Errorf("%s pid %d: reaped by Down = %v, want %v (log %s)", p.Name, p.PID, reaped, want, p.Log)
		}
	}
}

// TestRestoreAfterQuorumLoss kills two of three regions, so etcd loses its quorum, and
// restores both at once: neither etcd member can become healthy without the other.
func TestRestoreAfterQuorumLoss(t *testing.T) {
	for _, stack := range stacks {
		t.Run(stack.name, func(t *testing.T) {
			bin := stack.bin(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, runDir := upCluster(t, ctx, bin)
			for _, r := range []string{"a", "b"} {
				if err := c.KillRegion(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			began := time.Now()
			errc := make(chan error, 2)
			for _, r := range []string{"a", "b"} {
				go func() { errc <- c.RestoreRegion(ctx, r) }()
			}
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("restored a and b together in %v", time.Since(began).Round(time.Millisecond))
			waitOwners(t, ctx, c, 12)
			ps, err := snapshot(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Down(ctx); err != nil {
				t.Fatal(err)
			}
			assertGone(t, ps, 0)
			assertNoLeftovers(t, runDir)
		})
	}
}
