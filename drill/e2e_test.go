package drill_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/geodrill/geodrill/refstack/config"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/providers"
	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/internal/testbin"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// binDir finds refstack and minio, and the extra binaries named (internal/testbin).
func binDir(t *testing.T, extra ...string) string {
	t.Helper()
	return testbin.Dir(t, extra...)
}

func shortOutage(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Load("../scenarios/region-outage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc.Workload.Rate = 100
	sc.Workload.Duration = scenarios.Duration(14 * time.Second)
	sc.Faults[0].At = scenarios.Duration(4 * time.Second)
	sc.Faults[0].Duration = scenarios.Duration(6 * time.Second)
	// A 14s run spends a third of its load in the outage: availability is not what this
	// test judges (the full scenario does).
	sc.SLA.MinAvailability = nil
	// Checkpoint often enough that integrity and convergence have chains to judge in 14s.
	sc.Stack.CheckpointEvery = 20
	return sc
}

// TestDrillRegionOutage kills the owner region of most agents under writes on real
// processes: every agent is served again from another region, no acknowledged write is
// lost, the history is linearizable, epochs only grow, and nothing is left running.
func TestDrillRegionOutage(t *testing.T) {
	bin := binDir(t)
	out := t.TempDir()
	run, err := drill.Run(context.Background(), drill.Options{Scenario: shortOutage(t), OutBase: out, BinDir: bin})
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	for _, r := range run.Results {
		for _, v := range r.Verdicts {
			t.Logf("%s %s: %s (%s)", v.Checker, v.Target, v.Measured, v.Status)
			if v.Status != checkers.Pass {
				t.Errorf("%s %s: %s, want pass: %s", v.Checker, v.Target, v.Status, v.Detail)
			}
		}
	}

	var inject *timeline.Event
	for _, e := range run.Timeline {
		if e.Kind == timeline.Inject {
			inject = &e
			break
		}
	}
	if inject == nil {
		t.Fatal("no fault injected")
	}
	affected, _ := inject.Agents()
	if len(affected) < 2 || inject.Target == "" {
		t.Fatalf("fault hit region %q owning %v: want the busiest region", inject.Target, affected)
	}
	// Every affected agent is served again from another region.
	for _, a := range affected {
		served := false
		for _, op := range run.History {
			if op.Agent == a && op.Outcome == history.OK && op.Invoke > inject.At && op.Region != inject.Target {
				served = true
				break
			}
		}
		if !served {
			t.Errorf("agent %s was never served from another region after %s died", a, inject.Target)
		}
	}
	// Epochs strictly increase with every ownership change the router showed.
	last := map[string]int64{}
	for _, e := range run.Timeline {
		if e.Kind != timeline.Observe || e.Name != "owner" {
			continue
		}
		epoch, _ := strconv.ParseInt(e.Detail["epoch"], 10, 64)
		if prev, ok := last[e.Detail["agent"]]; ok && epoch <= prev {
			t.Errorf("agent %s: epoch went from %d to %d", e.Detail["agent"], prev, epoch)
		}
		last[e.Detail["agent"]] = epoch
	}
	for _, a := range affected {
		if last[a] < 2 {
			t.Errorf("agent %s ends at epoch %d: no takeover observed", a, last[a])
		}
	}
	assertNothingRunning(t, run.Dir)
}

// assertNothingRunning fails if any process still mentions dir on its command line.
func assertNothingRunning(t *testing.T, dir string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		stat, _ := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "stat")
		t.Errorf("still running after the drill: %s (%s)", bytes.ReplaceAll(b, []byte{0}, []byte(" ")), stat)
	}
}

// TestStaleOwnerCannotPublish pauses an owner's host with SIGSTOP until another region takes
// its agent over, then resumes it with a write already queued on its socket. The stale owner
// must refuse it (fencing by epoch), and nothing it wrote may reach etcd or the final state.
func TestStaleOwnerCannotPublish(t *testing.T) {
	bin := binDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := providers.New("local", clusters.Spec{
		Regions: []string{"a", "b", "c"}, Agents: 3, Placement: map[string]int{"a": 1, "b": 1, "c": 1},
		BinDir: bin, RunDir: t.TempDir(), Stack: config.Stack{LeaseTTL: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = clusters.With(ctx, cl, func(ctx context.Context) error {
		eps := cl.Endpoints()
		owners, err := clusters.RouterOwners(ctx, eps.Router)
		if err != nil {
			return err
		}
		agent := ""
		for a, o := range owners {
			if o.Region == "a" {
				agent = a
			}
		}
		if agent == "" {
			return fmt.Errorf("no agent owned by a: %v", owners)
		}
		before := owners[agent]
		if code, body := do(ctx, http.MethodPut, eps.Router+"/agents/"+agent+"/kv/k0", "before-pause"); code != 200 {
			return fmt.Errorf("write before pause: %d %s", code, body)
		}

		sc := cl.(faults.ServiceControl)
		if err := sc.Signal("a", api.ServiceHost, syscall.SIGSTOP); err != nil {
			return err
		}
		resumed := false
		defer func() {
			if !resumed {
				_ = sc.Signal("a", api.ServiceHost, syscall.SIGCONT)
			}
		}()
		// Wait for another region to take the agent over with a newer epoch.
		var after api.Owner
		deadline := time.Now().Add(30 * time.Second)
		for {
			owners, err := clusters.RouterOwners(ctx, eps.Router)
			if err == nil && owners[agent].Region != "" && owners[agent].Region != "a" {
				after = owners[agent]
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("agent %s not taken over within 30s (owners %v)", agent, owners)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if after.Epoch <= before.Epoch {
			t.Errorf("takeover epoch %d is not above %d", after.Epoch, before.Epoch)
		}
		// The owner key appears before the new owner has restored the agent; until then it
		// refuses (409, definitely not applied), so write like a client: retry, bounded.
		for attempt := 0; ; attempt++ {
			code, body := do(ctx, http.MethodPut, eps.Router+"/agents/"+agent+"/kv/k0", "new-owner")
			if code == 200 {
				break
			}
			if attempt == 50 {
				return fmt.Errorf("write to new owner: %d %s", code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}

		// Queue a write on the paused stale owner, then resume it: it handles the request
		// before anything else can tell it that it lost the lease.
		type result struct {
			code int
			body string
		}
		done := make(chan result, 1)
		go func() {
			c, b := do(ctx, http.MethodPut, eps.Regions["a"].Host+"/agents/"+agent+"/kv/k0", "stale-write")
			done <- result{c, b}
		}()
		time.Sleep(300 * time.Millisecond)
		if err := sc.Signal("a", api.ServiceHost, syscall.SIGCONT); err != nil {
			return err
		}
		resumed = true
		res := <-done
		t.Logf("stale owner answered %d %s", res.code, res.body)
		if res.code == http.StatusOK {
			t.Errorf("stale owner acknowledged a write after losing epoch %d", before.Epoch)
		}

		// Nothing the stale owner did reached etcd, and the state is the new owner's.
		cli, err := clientv3.New(clientv3.Config{Endpoints: eps.Etcd, DialTimeout: 5 * time.Second})
		if err != nil {
			return err
		}
		defer cli.Close()
		logs, err := cli.Get(ctx, api.LogPrefix(agent), clientv3.WithPrefix())
		if err != nil {
			return err
		}
		for _, kv := range logs.Kvs {
			var e api.LogEntry
			if json.Unmarshal(kv.Value, &e) == nil && e.Value == "stale-write" {
				t.Errorf("stale write reached the op log: %s", kv.Value)
			}
		}
		epochs, err := cli.Get(ctx, api.EpochsPrefix(agent), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if err != nil {
			return err
		}
		var prev int64
		for _, kv := range epochs.Kvs {
			var r api.EpochRecord
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				return err
			}
			if r.Epoch <= prev {
				t.Errorf("epoch records not strictly increasing: %d after %d", r.Epoch, prev)
			}
			prev = r.Epoch
		}
		if prev < after.Epoch {
			t.Errorf("newest epoch record %d, owner has %d", prev, after.Epoch)
		}
		code, body := do(ctx, http.MethodGet, eps.Router+"/agents/"+agent+"/kv/k0", "")
		var r api.Response
		_ = json.Unmarshal([]byte(body), &r)
		if code != 200 || r.Value != "new-owner" {
			t.Errorf("final read: %d %s, want new-owner", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func do(ctx context.Context, method, url, body string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
