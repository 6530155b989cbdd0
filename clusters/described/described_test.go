package described_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/described"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/system"
)

// A service that double-forks a listener out of its session (as Patroni does PostgreSQL):
// the region's health is that listener; kill and pause must reach it by its marker.
func TestKillAndPauseReachEveryProcessOfAService(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 (the listener) missing")
	}
	listener := `setsid python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", {{.Port}})); s.listen(); time.sleep(600)' </dev/null >/dev/null 2>&1 & exec sleep 600`
	d := &system.Described{
		Name:     "forker",
		Services: []system.Service{{Name: "db", Command: "sh", Args: []string{"-c", listener}, Health: "tcp"}},
		// An HTTP server without /status: Up does not wait for owners it cannot name.
		Adapter: system.Service{Name: "adapter", Command: "python3", Args: []string{"-m", "http.server", "{{.Port}}", "--bind", "127.0.0.1"}, Health: "tcp"},
	}
	runDir := t.TempDir()
	c, err := described.New(clusters.Spec{Regions: []string{"a", "b"}, Agents: 1, System: d, BinDir: t.TempDir(), RunDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
		if left := marked(t); len(left) > 0 {
			t.Errorf("processes left after Down: %v", left)
		}
	}()
	if err := c.Up(ctx); err != nil {
		t.Fatal(err)
	}
	health := c.Endpoints().Regions["a"].Health[0]
	if err := c.ServiceHealthy(ctx, "a", "db"); err != nil {
		t.Fatalf("db a: %v", err)
	}

	if err := c.Signal("a", "db", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A signal is delivered when the process is next scheduled: give them a second.
	frozen := 0
	for deadline := time.Now().Add(time.Second); frozen < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		frozen = 0
		for _, pid := range marked(t) {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(b), ") T ") {
				frozen++
			}
		}
	}
	if err := c.Signal("a", "db", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if frozen < 2 {
		t.Errorf("SIGSTOP froze %d processes of db a, want the shell and the listener it double-forked", frozen)
	}

	if err := c.KillRegion(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.ServiceHealthy(ctx, "a", "db"); err == nil {
		t.Errorf("region a killed, yet its listener (outside the service's session) still answers at %s", health)
	}
	if err := c.RestoreRegion(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.ServiceHealthy(ctx, "a", "db"); err != nil {
		t.Errorf("after restore: %v", err)
	}

	// What `harness down RUN_DIR` kills after a harness died without Down: every process
	// of the run, the double-forked listeners included.
	left, err := local.Leftovers(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range marked(t) {
		if !slices.Contains(left, pid) {
			t.Errorf("db a's process %d is not among the run's leftovers %v", pid, left)
		}
	}
	if len(left) < 2*2+1 {
		t.Errorf("leftovers %v: want the shell and listener of both regions and the adapter", left)
	}
}

// marked are the processes carrying this test's services' marker.
func marked(t *testing.T) []int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && strings.Contains(string(b), described.EnvService+"=") && strings.Contains(string(b), "|a|db") {
			out = append(out, pid)
		}
	}
	return out
}
