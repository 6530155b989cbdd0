package host

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/controller"
)

// The region the controller chose claims an unowned agent at once, ahead of a region with
// a better failover rank, and the takeover transaction spends the choice.
func TestControllerTargetIsClaimedFirst(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	c.register(reg("agent-00", "a", "b", "c"))
	if _, err := c.cli.Put(context.Background(), api.TargetKey("agent-00"), "c"); err != nil {
		t.Fatal(err)
	}
	hb := c.startHost("b", nil)
	hc := c.startHost("c", nil)
	if e := c.serving(hc, "agent-00", 1); e != 1 {
		t.Fatalf("target region c took agent-00 at epoch %d, want 1", e)
	}
	if e, ok := hb.Status().Agents["agent-00"]; ok {
		t.Errorf("b (rank 1, not chosen) serves agent-00 at epoch %d", e)
	}
	resp, err := c.cli.Get(context.Background(), api.TargetKey("agent-00"))
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("target key after the takeover: %v, %d keys; want it deleted by the takeover", err, len(resp.Kvs))
	}
}

// A host at its MaxAgents claims no more; the next region in the order takes the rest.
func TestMaxAgentsCapsAHost(t *testing.T) {
	c := newCluster(t, "b", "c")
	c.register(reg("agent-00", "b", "c"), reg("agent-01", "b", "c"))
	hb := c.startHost("b", func(cfg *Config) { cfg.MaxAgents = 1 })
	hc := c.startHost("c", nil)
	waitFor(t, 10*time.Second, "both agents served", func() bool {
		return len(hb.Status().Agents)+len(hc.Status().Agents) == 2
	})
	time.Sleep(time.Second) // a host over capacity would claim within a reconcile pass
	if n := len(hb.Status().Agents); n != 1 {
		t.Errorf("b serves %d agents with MaxAgents 1", n)
	}
	if n := len(hc.Status().Agents); n != 1 {
		t.Errorf("c serves %d agents, want the one b had no room for", n)
	}
}

// Auto fail-back on real hosts: an agent that lives away from home goes back once its home
// host has been healthy for the hold time, at a new epoch, with its data.
func TestAutoFailbackMovesAgentHome(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	const hold = time.Second
	ctrl := func(cfg *Config) {
		cfg.Controller = &controller.Config{ProbeEvery: 100 * time.Millisecond, FailbackMode: controller.FailbackAuto, FailbackHold: hold}
	}
	hb := c.startHost("b", ctrl) // home a is down: b takes the agent
	e1 := c.serving(hb, "agent-00", 1)
	mustOK(t, put(t, hb, "agent-00", "k", "written-in-b"), "put away from home")

	ha := c.startHost("a", ctrl)
	back := time.Now()
	e2 := c.serving(ha, "agent-00", e1+1)
	took := time.Since(back)
	t.Logf("fail-back to a %s after its host was healthy (hold %s)", took, hold)
	// The controller may see a healthy a slightly before this test does (it polls every 20ms).
	if took < hold-250*time.Millisecond {
		t.Errorf("agent handed back after %s, before the hold of %s", took, hold)
	}
	r := mustOK(t, get(t, ha, "agent-00", "k"), "read at home")
	if r.body.Value != "written-in-b" || r.epoch != e2 {
		t.Errorf("home reads %q at epoch %d, want written-in-b at %d", r.body.Value, r.epoch, e2)
	}
	waitFor(t, 5*time.Second, "b to stop serving agent-00", func() bool { _, ok := hb.Status().Agents["agent-00"]; return !ok })
	if r := put(t, hb, "agent-00", "k", "stale"); r.status != http.StatusConflict {
		t.Errorf("old owner b accepted a write after fail-back: %+v", r)
	}
}

// /metrics counts ops by kind and outcome, takeovers and checkpoint publishes, and exports
// the epoch served per agent and the controller's own metrics.
func TestHostMetrics(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	h := c.startHost("a", func(cfg *Config) {
		cfg.CheckpointEvery = 2
		cfg.Controller = &controller.Config{ProbeEvery: 100 * time.Millisecond}
	})
	c.serving(h, "agent-00", 1)
	for i := range 3 {
		mustOK(t, put(t, h, "agent-00", "k", fmt.Sprint("v", i)), "put")
	}
	put(t, h, "agent-01", "k", "x") // not owned here: a definite failure
	var m string
	waitFor(t, 10*time.Second, "a checkpoint publish and a probe to be counted", func() bool {
		resp, err := http.Get(h.url + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m = string(b)
		return strings.Contains(m, `geodrill_host_checkpoint_publishes_total{result="ok"}`) &&
			strings.Contains(m, `geodrill_controller_probes_total{result="ok",target_region="a"}`)
	})
	for _, want := range []string{
		`geodrill_host_ops_total{kind="put",outcome="ok"} 3`,
		`geodrill_host_ops_total{kind="put",outcome="fail"} 1`,
		`geodrill_host_takeovers_total 1`,
		`geodrill_host_agent_epoch{agent="agent-00"} 1`,
		`geodrill_host_agents_served 1`,
		`geodrill_controller_leader 1`,
		`geodrill_controller_probes_total{result="ok",target_region="a"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", m)
	}
	if !strings.Contains(c.logs.String(), `"event":"checkpoint_publish"`) {
		t.Error(`no "event":"checkpoint_publish" log record`)
	}
}
