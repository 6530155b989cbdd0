package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters/docker"
)

// The docker provider end to end, through the CLI on real containers: the two default
// drills pass, and after a pass, a failing check, Ctrl-C at 5s and at the fault, and
// SIGKILL followed by `harness down`, nothing of the run is left: no container, network,
// volume or namespace attachment.

// requireDocker skips without root and a Docker daemon; under make test
// (GEODRILL_REQUIRE_DOCKER=1, which starts one with scripts/docker.sh up) it fails instead,
// naming what is missing.
func requireDocker(t *testing.T) {
	t.Helper()
	err := docker.Available(context.Background())
	if err == nil {
		return
	}
	if os.Getenv("GEODRILL_REQUIRE_DOCKER") != "" {
		t.Fatalf("GEODRILL_REQUIRE_DOCKER is set but the docker provider cannot run: %v", err)
	}
	t.Skipf("docker provider: %v", err)
}

// volumes lists Docker's volumes (the provider makes none; a change is a leak).
func volumes(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("docker", "volume", "ls", "-q").Output()
	if err != nil {
		t.Logf("docker volume ls: %v (not checked)", err)
		return ""
	}
	return string(out)
}

// assertNoDockerLeftovers fails if any geodrill container, network or namespace
// attachment exists, or the volumes changed.
func assertNoDockerLeftovers(t *testing.T, volsBefore string) {
	t.Helper()
	ls, err := docker.Leftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		t.Errorf("cluster %s (harness pid %d) left containers %v, networks %v", l.Tag, l.PID, l.Containers, l.Networks)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "geodrill-") {
		t.Errorf("namespaces left:\n%s", out)
	}
	if v := volumes(t); v != volsBefore {
		t.Errorf("docker volumes changed: before %q, after %q", volsBefore, v)
	}
}

func TestDockerDefaultDrillsPass(t *testing.T) {
	requireDocker(t)
	bin := integrationBin(t)
	vols := volumes(t)
	out := t.TempDir()
	var stderr strings.Builder
	code := run(context.Background(), []string{"run", "--bin", bin, "--out", out, "--provider", "docker",
		"../../scenarios/region-outage.yaml", "../../scenarios/partition-isolate-owner.yaml"}, io.Discard, &stderr)
	if code != exitPass {
		t.Fatalf("exit %d, want both drills to pass on docker\n%s", code, stderr.String())
	}
	assertNoDockerLeftovers(t, vols)
}

// A drill whose check fails (an RTO target no failover can meet) still removes everything.
func TestDockerFailingCheckLeavesNothing(t *testing.T) {
	requireDocker(t)
	bin := integrationBin(t)
	vols := volumes(t)
	b, err := os.ReadFile(shortDrill)
	if err != nil {
		t.Fatal(err)
	}
	sc := filepath.Join(t.TempDir(), "fails.yaml")
	if err := os.WriteFile(sc, []byte(strings.Replace(string(b), "sla:\n", "sla:\n  rto_max: 1ms\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := run(context.Background(), []string{"run", "--bin", bin, "--out", t.TempDir(), "--provider", "docker", sc}, io.Discard, &stderr)
	if code != exitCheck {
		t.Fatalf("exit %d, want %d (rto_max 1ms fails)\n%s", code, exitCheck, stderr.String())
	}
	assertNoDockerLeftovers(t, vols)
}

// Ctrl-C (SIGINT to the harness process) 5s into the run, and again while the fault is
// held: exit 11, and the containers, network and attachments are gone.
func TestDockerInterruptLeavesNothing(t *testing.T) {
	requireDocker(t)
	bin := integrationBin(t)
	for _, tc := range []struct {
		name string
		when func(cmd *exec.Cmd, line string, once *sync.Once)
	}{
		{"at 5s", func(cmd *exec.Cmd, line string, once *sync.Once) {
			once.Do(func() { time.AfterFunc(5*time.Second, func() { _ = cmd.Process.Signal(syscall.SIGINT) }) })
		}},
		{"at the fault", func(cmd *exec.Cmd, line string, once *sync.Once) {
			if strings.Contains(line, "verified, holding") {
				once.Do(func() { _ = cmd.Process.Signal(syscall.SIGINT) })
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vols := volumes(t)
			var once sync.Once
			code := harnessProcess(t, bin, func(cmd *exec.Cmd, line string) { tc.when(cmd, line, &once) },
				"run", "--out", t.TempDir(), "--provider", "docker", shortDrill)
			if code != exitHarness {
				t.Fatalf("exit %d after SIGINT, want %d", code, exitHarness)
			}
			assertNoDockerLeftovers(t, vols)
		})
	}
}

// SIGKILL leaves the containers running (they do not die with the harness, unlike the
// local provider's processes); `harness down` removes them and everything else of the run.
func TestDockerSIGKILLThenDown(t *testing.T) {
	requireDocker(t)
	bin := integrationBin(t)
	vols := volumes(t)
	out := t.TempDir()
	var once sync.Once
	code := harnessProcess(t, bin, func(cmd *exec.Cmd, line string) {
		if strings.Contains(line, "inject f1:") {
			once.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		}
	}, "run", "--out", out, "--provider", "docker", shortDrill)
	if code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want death by SIGKILL", code)
	}
	ls, err := docker.Leftovers(context.Background())
	if err != nil || len(ls) == 0 {
		t.Fatalf("after SIGKILL: leftovers %v (%v), want the run's containers still there", ls, err)
	}
	var stdout strings.Builder
	if code := run(context.Background(), []string{"down", onlyRun(t, out)}, &stdout, io.Discard); code != exitPass {
		t.Fatalf("down: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "removed ") {
		t.Errorf("down does not say what it removed:\n%s", stdout.String())
	}
	assertNoDockerLeftovers(t, vols)
}
