package host

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
	"github.com/geodrill/geodrill/refstack/controller"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

// Each planted bug of the host (refstack/bugs.Table) is shown to take effect: every test runs
// the same sequence with the switch off, where the healthy behaviour must hold, and on, where
// the bug must show.
func withAndWithout(t *testing.T, name bugs.Name, test func(t *testing.T, set bugs.Set, on bool)) {
	t.Run("off", func(t *testing.T) { test(t, bugs.Set{}, false) })
	t.Run(string(name), func(t *testing.T) { test(t, bugs.Of(name), true) })
}

func withBugs(set bugs.Set, mod func(*Config)) func(*Config) {
	return func(cfg *Config) {
		cfg.Bugs = set
		if mod != nil {
			mod(cfg)
		}
	}
}

// proxyStore routes every host's access to region's object store through a proxy the test
// can block; call it before starting hosts. The cluster's own store stays direct.
func (c *cluster) proxyStore(region string) *testenv.Proxy {
	c.t.Helper()
	for i, e := range c.endpoints {
		if e.Region == region {
			p := testenv.StartProxy(c.t, e.Addr)
			c.endpoints = slices.Clone(c.endpoints)
			c.endpoints[i].Addr = p.Addr()
			return p
		}
	}
	c.t.Fatalf("no region %s", region)
	return nil
}

// failOver revokes from's lease and waits until to serves agent at an epoch above before.
func (c *cluster) failOver(from, to *runningHost, agent string, before int64) int64 {
	c.t.Helper()
	if _, err := c.cli.Revoke(context.Background(), c.lease(from)); err != nil {
		c.t.Fatal(err)
	}
	var epoch int64
	waitFor(c.t, 10*time.Second, to.cfg.Region+" serving "+agent+" after the failover", func() bool {
		e, ok := to.Status().Agents[agent]
		epoch = e
		return ok && (e > before || c.ownerRegion(agent) == to.cfg.Region)
	})
	return epoch
}

func (c *cluster) ownerRegion(agent string) string {
	resp, err := c.cli.Get(context.Background(), api.OwnerKey(agent))
	if err != nil || len(resp.Kvs) == 0 {
		return ""
	}
	var o api.Owner
	_ = json.Unmarshal(resp.Kvs[0].Value, &o)
	return o.Region
}

// takeover-reuses-epoch: the new owner keeps epoch 1, so the deposed owner's reads pass the
// fence and two regions serve one (agent, epoch).
func TestBugTakeoverReusesEpoch(t *testing.T) {
	withAndWithout(t, bugs.TakeoverReusesEpoch, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		c.register(reg("agent-00", "a", "b"))
		ha := c.startHost("a", withBugs(set, nil))
		hb := c.startHost("b", withBugs(set, nil))
		c.serving(ha, "agent-00", 1)
		mustOK(t, put(t, ha, "agent-00", "k", "before"), "put before takeover")
		_, stale := freeze(t, ha, "agent-00")
		epoch := c.failOver(ha, hb, "agent-00", 1)
		mustOK(t, put(t, hb, "agent-00", "k", "after"), "new owner's put")
		if err := stale.lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		rd := ha.getLocked(stale, "k", api.Response{Agent: "agent-00", Key: "k"})
		stale.unlock()
		if !on {
			if epoch != 2 || rd.status != http.StatusConflict {
				t.Errorf("healthy: new epoch %d (want 2), deposed owner's read status %d (want 409)", epoch, rd.status)
			}
			return
		}
		if epoch != 1 || rd.status != http.StatusOK || rd.resp.Value != "before" {
			t.Errorf("with the bug: new epoch %d (want 1, reused), deposed owner's read %d %q (want 200 before)",
				epoch, rd.status, rd.resp.Value)
		}
	})
}

// serve-before-restore: while the new owner's restore waits on its own region's object store
// (black-holed here), it already answers reads, from empty memory.
func TestBugServeBeforeRestore(t *testing.T) {
	withAndWithout(t, bugs.ServeBeforeRestore, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		storeB := c.proxyStore("b")
		c.register(reg("agent-00", "a", "b"))
		small := func(cfg *Config) { cfg.CheckpointEvery = 2 }
		ha := c.startHost("a", withBugs(set, small))
		hb := c.startHost("b", withBugs(set, small))
		c.serving(ha, "agent-00", 1)
		for i := range 4 {
			mustOK(t, put(t, ha, "agent-00", "k", fmt.Sprint("v", i)), "put")
		}
		c.waitCheckpoint("agent-00", 2)
		storeB.Block() // b's restore tries its own region first and waits out the store timeout
		if _, err := c.cli.Revoke(context.Background(), c.lease(ha)); err != nil {
			t.Fatal(err)
		}
		var first reply
		waitFor(t, 20*time.Second, "b answering a get", func() bool {
			first = get(t, hb, "agent-00", "k")
			return first.status == http.StatusOK
		})
		switch {
		case !on && first.body.Value != "v3":
			t.Errorf("healthy: b's first answer is %q, want v3 (it serves only once restored)", first.body.Value)
		case on && first.body.Found:
			t.Errorf("with the bug: b's first answer is %q, want not found (served before the restore)", first.body.Value)
		}
	})
}

// unfenced-reads: a deposed owner's get is answered from its memory after a newer owner
// took writes.
func TestBugUnfencedReads(t *testing.T) {
	withAndWithout(t, bugs.UnfencedReads, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		c.register(reg("agent-00", "a", "b"))
		ha := c.startHost("a", withBugs(set, nil))
		hb := c.startHost("b", nil)
		c.serving(ha, "agent-00", 1)
		mustOK(t, put(t, ha, "agent-00", "k", "before"), "put before takeover")
		_, stale := freeze(t, ha, "agent-00")
		c.failOver(ha, hb, "agent-00", 1)
		mustOK(t, put(t, hb, "agent-00", "k", "after"), "new owner's put")
		if err := stale.lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		rd := ha.getLocked(stale, "k", api.Response{Agent: "agent-00", Key: "k"})
		w := ha.writeLocked(stale, "k2", "stale", api.Response{Agent: "agent-00", Key: "k2"})
		stale.unlock()
		if w.status != http.StatusConflict {
			t.Errorf("deposed owner's write: status %d, want 409 (writes stay fenced)", w.status)
		}
		switch {
		case !on && rd.status != http.StatusConflict:
			t.Errorf("healthy: deposed owner's read status %d value %q, want 409", rd.status, rd.resp.Value)
		case on && (rd.status != http.StatusOK || rd.resp.Value != "before"):
			t.Errorf("with the bug: deposed owner's read status %d value %q, want 200 before", rd.status, rd.resp.Value)
		}
	})
}

// stale-read-cache: the agent leaves host a and comes back; a answers from what it cached
// before it left.
func TestBugStaleReadCache(t *testing.T) {
	withAndWithout(t, bugs.StaleReadCache, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		c.register(reg("agent-00", "a", "b"))
		ha := c.startHost("a", withBugs(set, nil))
		hb := c.startHost("b", withBugs(set, nil))
		c.serving(ha, "agent-00", 1)
		mustOK(t, put(t, ha, "agent-00", "k", "v1"), "put on a")
		mustOK(t, get(t, ha, "agent-00", "k"), "get on a")
		e := c.failOver(ha, hb, "agent-00", 1)
		mustOK(t, put(t, hb, "agent-00", "k", "v2"), "put on b")
		c.failOver(hb, ha, "agent-00", e) // a is first in the order: it takes the agent back
		r := mustOK(t, get(t, ha, "agent-00", "k"), "get on a after it took the agent back")
		switch {
		case !on && r.body.Value != "v2":
			t.Errorf("healthy: a reads %q, want v2", r.body.Value)
		case on && r.body.Value != "v1":
			t.Errorf("with the bug: a reads %q, want v1 (its stale cache)", r.body.Value)
		}
	})
}

// cas-not-atomic: concurrent cas with the same expected value; exactly one may swap. The
// bug's window (between the compare and the write) is narrow, and on a loaded machine one
// burst may never hit it, so bursts of 24 go to fresh keys, up to 10: the healthy host must
// swap exactly one per burst every time, the buggy one several in some burst.
func TestBugCASNotAtomic(t *testing.T) {
	withAndWithout(t, bugs.CASNotAtomic, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a")
		c.register(reg("agent-00", "a"))
		ha := c.startHost("a", withBugs(set, nil))
		c.serving(ha, "agent-00", 1)
		most := 0
		for burst := range 10 {
			var mu sync.Mutex
			swapped := 0
			var wg sync.WaitGroup
			for i := range 24 {
				wg.Go(func() {
					r := do(t, http.MethodPost, fmt.Sprintf("%s/agents/agent-00/cas/k%d", ha.url, burst), fmt.Sprintf(`{"expect": "", "value": "w%d"}`, i))
					mu.Lock()
					defer mu.Unlock()
					if r.status == http.StatusOK && r.body.Swapped {
						swapped++
					}
				})
			}
			wg.Wait()
			if !on && swapped != 1 {
				t.Fatalf("healthy: burst %d: %d of 24 cas from \"\" swapped, want 1", burst, swapped)
			}
			most = max(most, swapped)
			if on && most >= 2 {
				return
			}
		}
		if on {
			t.Errorf("with the bug: at most %d of 24 cas from \"\" swapped in 10 bursts, want several", most)
		}
	})
}

// cas-fail-returns-new: a cas whose compare fails answers with the value it tried to write.
func TestBugCASFailReturnsNew(t *testing.T) {
	withAndWithout(t, bugs.CASFailReturnsNew, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a")
		c.register(reg("agent-00", "a"))
		ha := c.startHost("a", withBugs(set, nil))
		c.serving(ha, "agent-00", 1)
		mustOK(t, put(t, ha, "agent-00", "k", "cur"), "put")
		r := mustOK(t, do(t, http.MethodPost, ha.url+"/agents/agent-00/cas/k", `{"expect": "other", "value": "new"}`), "cas")
		want := "cur"
		if on {
			want = "new"
		}
		if r.body.Swapped || r.body.Value != want {
			t.Errorf("failed cas answered swapped=%v value %q, want false %q", r.body.Swapped, r.body.Value, want)
		}
	})
}

// delta-skips-new-keys: a key first written after the chain's full is in no delta; the log
// behind the checkpoint is gone, so a restore loses it.
func TestBugDeltaSkipsNewKeys(t *testing.T) {
	withAndWithout(t, bugs.DeltaSkipsNewKeys, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		c.register(reg("agent-00", "a", "b"))
		small := func(cfg *Config) { cfg.CheckpointEvery = 2 }
		ha := c.startHost("a", withBugs(set, small))
		hb := c.startHost("b", withBugs(set, small))
		c.serving(ha, "agent-00", 1)
		mustOK(t, put(t, ha, "agent-00", "old", "1"), "put")
		mustOK(t, put(t, ha, "agent-00", "old", "2"), "put")
		c.waitCheckpoint("agent-00", 2) // the full
		mustOK(t, put(t, ha, "agent-00", "new", "1"), "put")
		mustOK(t, put(t, ha, "agent-00", "new", "2"), "put")
		c.waitCheckpoint("agent-00", 4) // a delta; the log up to seq 4 is truncated
		c.failOver(ha, hb, "agent-00", 1)
		r := mustOK(t, get(t, hb, "agent-00", "new"), "get on b")
		switch {
		case !on && r.body.Value != "2":
			t.Errorf("healthy: restored new=%q found=%v, want 2", r.body.Value, r.body.Found)
		case on && r.body.Found:
			t.Errorf("with the bug: restored new=%q, want it lost", r.body.Value)
		}
	})
}

// held-without-copy (async): while region b's store is unreachable, the shipper still
// records b as a holder of objects b does not have.
func TestBugHeldWithoutCopy(t *testing.T) {
	withAndWithout(t, bugs.HeldWithoutCopy, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		storeB := c.proxyStore("b")
		c.register(reg("agent-00", "a", "b"))
		storeB.Block() // from the start: b never holds anything
		ha := c.startHost("a", asyncCfg(func(cfg *Config) { cfg.Bugs = set }))
		c.serving(ha, "agent-00", 1)
		for i := range 5 {
			mustOK(t, put(t, ha, "agent-00", "k", fmt.Sprint("v", i)), "put")
		}
		// A copy to the black-holed store fails after the store's 3s op timeout.
		var listed []checkpoint.ObjectMeta
		deadline := time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) && len(listed) == 0 {
			for _, om := range c.chainMeta("agent-00").Objects() {
				if slices.Contains(om.Regions, "b") {
					listed = append(listed, om)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !on {
			if len(listed) > 0 {
				t.Errorf("healthy: b recorded as holder of %v while its store was unreachable", listed)
			}
			return
		}
		if len(listed) == 0 {
			t.Fatal("with the bug: b never recorded as a holder while unreachable")
		}
		if _, err := c.store.Get(context.Background(), "b", listed[0].Object); err == nil {
			t.Errorf("with the bug: b holds %s although its store was unreachable", listed[0].Object)
		}
	})
}

// failback-skips-log-tail: handed back to its home region, the agent restores its newest
// checkpoint (none here) without the log tail: every write is gone.
func TestBugFailbackSkipsLogTail(t *testing.T) {
	withAndWithout(t, bugs.FailbackSkipsLogTail, func(t *testing.T, set bugs.Set, on bool) {
		c := newCluster(t, "a", "b")
		c.register(reg("agent-00", "a", "b"))
		ha := c.startHost("a", withBugs(set, nil))
		hb := c.startHost("b", withBugs(set, nil))
		c.serving(ha, "agent-00", 1)
		mustOK(t, put(t, ha, "agent-00", "k", "v1"), "put on a")
		ha.stop() // a clean shutdown revokes a's lease
		c.serving(hb, "agent-00", 2)
		mustOK(t, put(t, hb, "agent-00", "k", "v2"), "put on b")
		ha = c.startHost("a", withBugs(set, nil))
		if n, err := controller.Failback(context.Background(), c.cli, "a", 0); err != nil || n != 1 {
			t.Fatalf("fail-back: %d agents, %v; want 1", n, err)
		}
		c.serving(ha, "agent-00", 3)
		r := mustOK(t, get(t, ha, "agent-00", "k"), "get after fail-back")
		switch {
		case !on && r.body.Value != "v2":
			t.Errorf("healthy: after fail-back k=%q, want v2", r.body.Value)
		case on && r.body.Found:
			t.Errorf("with the bug: after fail-back k=%q, want it lost with the log tail", r.body.Value)
		}
	})
}
