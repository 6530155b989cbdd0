package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Leftovers lists the pids of live processes started by a cluster with this run directory,
// found by the EnvMarker in their environment. After Down, or after the harness died, it
// should be empty; `harness down` and the tests use it to prove that. It needs permission
// to read /proc/PID/environ, which a user has for their own processes.
func Leftovers(runDir string) ([]int, error) {
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return nil, fmt.Errorf("leftovers: %w", err)
	}
	return Marked(EnvMarker + "=" + abs)
}

// Marked lists the pids of live processes (this one excepted) whose environment holds the
// entry kv ("NAME=value"), however they were started: the environment is inherited through
// forks and sessions.
func Marked(kv string) ([]int, error) {
	want := []byte(kv)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("leftovers: %w", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, entry := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(entry, want) {
				out = append(out, pid)
				break
			}
		}
	}
	return out, nil
}

// KillLeftovers SIGKILLs every process Leftovers finds and returns their pids. They are not
// this process's children, so it cannot wait for them; their parent or init reaps them.
func KillLeftovers(runDir string) ([]int, error) {
	pids, err := Leftovers(runDir)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		// A pid found by its marker a moment ago; the window for reuse is negligible next
		// to the cost of leaving a cluster running.
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return pids, nil
}
