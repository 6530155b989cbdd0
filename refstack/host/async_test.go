package host

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

func asyncCfg(mod func(*Config)) func(*Config) {
	return func(cfg *Config) {
		cfg.Durability = api.DurabilityAsync
		cfg.CheckpointInterval = 100 * time.Millisecond
		cfg.ChainLength = 3
		cfg.RestoreBackoff = time.Minute
		if mod != nil {
			mod(cfg)
		}
	}
}

func (c *cluster) chainMeta(agent string) checkpoint.Meta {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), api.CheckpointKey(agent))
	if err != nil {
		c.t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return checkpoint.Meta{}
	}
	m, err := checkpoint.ParseMeta(resp.Kvs[0].Value)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// shippedThrough reports whether every object of the newest chain up to seq is held by
// every region in regions.
func shippedThrough(m checkpoint.Meta, seq int64, regions ...string) bool {
	if m.Seq < seq {
		return false
	}
	for _, om := range m.Current() {
		for _, r := range regions {
			if !slices.Contains(om.Regions, r) {
				return false
			}
		}
	}
	return true
}

func replication(t *testing.T, h *runningHost) api.ReplicationStatus {
	t.Helper()
	resp, err := http.Get(h.url + "/replication")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.ReplicationStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Async durability on real etcd and MinIO: writes are acknowledged without touching the
// etcd log, checkpoint chains (fulls every ChainLength deltas) are shipped to the other
// region, and /replication shows the backlog while the other region is unreachable. When
// the owner's region then dies, the new owner restores the newest chain prefix the
// surviving region holds: the writes after it are lost, the ones before it are not.
func TestAsyncShipsChainsAndLosesOnlyUnshippedWrites(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	// a reaches b's object store through a proxy, so replication can be cut; b cannot
	// reach a's store at all, as if region a were already gone when b restores.
	toB := testenv.StartProxy(t, c.endpoints[1].Addr)
	ha := c.startHost("a", asyncCfg(func(cfg *Config) {
		cfg.MinIO = []checkpoint.Endpoint{c.endpoints[0], {Region: "b", Addr: toB.Addr()}}
	}))
	c.serving(ha, "agent-00", 1)

	shipped := map[string]string{}
	for i := range 20 {
		k, v := fmt.Sprintf("k%d", i%4), fmt.Sprintf("shipped-%d", i)
		mustOK(t, put(t, ha, "agent-00", k, v), "put")
		shipped[k] = v
		time.Sleep(15 * time.Millisecond) // spread the writes over several checkpoints
	}
	if n := len(c.logEntries("agent-00")); n != 0 {
		t.Errorf("async mode wrote %d log entries to etcd, want none", n)
	}
	var meta checkpoint.Meta
	waitFor(t, 10*time.Second, "seq 20 shipped to b", func() bool {
		meta = c.chainMeta("agent-00")
		return shippedThrough(meta, 20, "a", "b")
	})
	kinds := map[string]int{}
	for _, chain := range meta.Chains {
		for i, om := range chain {
			kinds[om.Kind]++
			if (i == 0) != (om.Kind == checkpoint.KindFull) || len(chain) > 1+3 {
				t.Errorf("chain %v: want one full first and at most 3 deltas", chain)
			}
		}
	}
	if kinds[checkpoint.KindDelta] == 0 {
		t.Errorf("no deltas in %+v", meta.Chains)
	}
	if st := replication(t, ha); st.Replication != api.ReplicationAsync || st.Regions["b"].PendingObjects != 0 || st.Regions["b"].ShippedObjects == 0 {
		t.Errorf("/replication after catching up = %+v", st)
	}

	toB.Block()
	for i := range 6 {
		mustOK(t, put(t, ha, "agent-00", fmt.Sprintf("k%d", i%4), fmt.Sprintf("unshipped-%d", i)), "put")
	}
	waitFor(t, 10*time.Second, "checkpoint at seq 26 in region a only", func() bool {
		return c.chainMeta("agent-00").Seq >= 26
	})
	waitFor(t, 10*time.Second, "replication lag to b visible", func() bool {
		l := replication(t, ha).Regions["b"]
		return l.PendingObjects > 0 && l.LagSeconds > 0.2
	})

	// Region a dies. Host b sees a's store as unreachable and restores from its own.
	hb := c.startHost("b", asyncCfg(func(cfg *Config) {
		cfg.MinIO = []checkpoint.Endpoint{{Region: "a", Addr: testenv.FreeAddr(t)}, c.endpoints[1]}
	}))
	ha.stop()
	c.serving(hb, "agent-00", 2)
	for k, v := range shipped {
		if r := mustOK(t, get(t, hb, "agent-00", k), "read after failover"); r.body.Value != v {
			t.Errorf("%s = %q after failover, want the last shipped value %q", k, r.body.Value, v)
		}
	}
	a := hb.owned("agent-00")
	if err := a.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, seq := maps.Clone(a.data), a.restoredSeq
	a.unlock()
	if seq != 20 || !maps.Equal(got, shipped) {
		t.Errorf("restored %v at seq %d, want %v at 20", got, seq, shipped)
	}
	// The new owner starts a chain of its own epoch, with a's shipped prefix as fallback.
	waitFor(t, 10*time.Second, "new owner's full published", func() bool {
		m := c.chainMeta("agent-00")
		return len(m.Chains) == 2 && m.Chains[0][0].Epoch == 2 && m.Chains[0][0].Kind == checkpoint.KindFull && m.Chains[1][len(m.Chains[1])-1].Seq == 20
	})
}

// With replication switched off, the surviving region holds no chain: the async new owner
// starts empty (every acknowledged write is lost) rather than waiting for the dead region.
func TestAsyncNoReplicationLosesEverything(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", asyncCfg(func(cfg *Config) { cfg.Bugs = bugs.Of(bugs.NoReplication) }))
	c.serving(ha, "agent-00", 1)
	for i := range 8 {
		mustOK(t, put(t, ha, "agent-00", fmt.Sprintf("k%d", i%4), fmt.Sprint(i)), "put")
	}
	waitFor(t, 10*time.Second, "checkpoint at seq 8", func() bool { return c.chainMeta("agent-00").Seq >= 8 })
	for _, chain := range c.chainMeta("agent-00").Chains {
		for _, om := range chain {
			if strings.Join(om.Regions, ",") != "a" {
				t.Errorf("object %s held by %v with replication off, want a only", om.Object, om.Regions)
			}
		}
	}
	if st := replication(t, ha); st.Replication != api.ReplicationDisabled {
		t.Errorf("/replication = %+v, want disabled", st)
	}
	hb := c.startHost("b", asyncCfg(func(cfg *Config) {
		cfg.MinIO = []checkpoint.Endpoint{{Region: "a", Addr: testenv.FreeAddr(t)}, c.endpoints[1]}
	}))
	ha.stop()
	c.serving(hb, "agent-00", 2)
	if r := mustOK(t, get(t, hb, "agent-00", "k0"), "read after failover"); r.body.Found {
		t.Errorf("k0 = %q after failover without replication, want empty", r.body.Value)
	}
	if !strings.Contains(c.logs.String(), "RESTORE FOUND NO CHAIN") {
		t.Error("the empty start was not logged")
	}
}

// Chains that fall off the metadata are deleted from every region, so the buckets stay as
// bounded as the metadata.
func TestAsyncRemovesUnreferencedChains(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", asyncCfg(func(cfg *Config) {
		cfg.CheckpointInterval = 50 * time.Millisecond
		cfg.ChainLength = 1 // a full, a delta, a full, ...: a new chain every other link
	}))
	c.serving(ha, "agent-00", 1)
	for i := range 16 {
		mustOK(t, put(t, ha, "agent-00", fmt.Sprintf("k%d", i%3), fmt.Sprint(i)), "put")
		time.Sleep(60 * time.Millisecond)
	}
	var meta checkpoint.Meta
	waitFor(t, 10*time.Second, "seq 16 shipped", func() bool {
		meta = c.chainMeta("agent-00")
		return shippedThrough(meta, 16, "a", "b")
	})
	if fulls := strings.Count(c.logs.String(), `"kind":"full"`); fulls < 3 {
		t.Fatalf("only %d fulls written; the test needs chains to fall off the metadata", fulls)
	}
	var want []string
	for _, om := range meta.Objects() {
		want = append(want, om.Object)
	}
	slices.Sort(want)
	for _, region := range []string{"a", "b"} {
		waitFor(t, 10*time.Second, "region "+region+" holds only referenced objects", func() bool {
			got, err := c.store.List(context.Background(), region, "agents/agent-00/")
			if err != nil {
				t.Fatal(err)
			}
			meta = c.chainMeta("agent-00") // the last links may still be arriving
			want = want[:0]
			for _, om := range meta.Objects() {
				want = append(want, om.Object)
			}
			slices.Sort(want)
			return slices.Equal(got, want)
		})
	}
}

// Sync-geo keeps its guarantee with chains: a delta damaged in the restoring region is read
// from another region's copy, and a chain that can no longer reach the published seq (a
// delta gone everywhere; the log before it is truncated) is refused rather than served
// with committed writes missing.
func TestSyncGeoChainRestore(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  []string // regions whose copy of the first delta is damaged
		serving bool
	}{
		{name: "delta-corrupt-in-own-region", damage: []string{"b"}, serving: true},
		{name: "delta-lost-everywhere", damage: []string{"a", "b"}, serving: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, "a", "b")
			c.register(reg("agent-00", "a", "b"))
			cfg := func(cfg *Config) { cfg.CheckpointEvery = 4; cfg.RestoreBackoff = time.Minute }
			ha := c.startHost("a", cfg)
			hb := c.startHost("b", cfg)
			c.serving(ha, "agent-00", 1)
			want := map[string]string{}
			write := func(i int) {
				k, v := fmt.Sprintf("k%d", i%3), fmt.Sprintf("%s-%d", tc.name, i)
				mustOK(t, put(t, ha, "agent-00", k, v), "put")
				want[k] = v
			}
			var meta checkpoint.Meta
			for i := 0; ; i++ {
				write(i)
				if m := c.chainMeta("agent-00"); len(m.Current()) >= 3 {
					meta = m
					break
				}
				if i > 200 {
					t.Fatalf("no chain of a full and two deltas after %d writes: %+v", i, c.chainMeta("agent-00"))
				}
				time.Sleep(5 * time.Millisecond)
			}
			delta := meta.Current()[1]
			if delta.Kind != checkpoint.KindDelta {
				t.Fatalf("second link %+v is not a delta", delta)
			}
			for _, region := range tc.damage {
				body, err := c.store.Get(context.Background(), region, delta.Object)
				if err == nil {
					body[len(body)/2] ^= 1
					err = c.store.Put(context.Background(), region, delta.Object, body)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			ha.stop()
			if !tc.serving {
				waitFor(t, 10*time.Second, "restore refused", func() bool {
					return strings.Contains(c.logs.String(), "RESTORE FAILED") && strings.Contains(c.logs.String(), "log before it is truncated")
				})
				if r := get(t, hb, "agent-00", "k0"); r.status != http.StatusConflict {
					t.Errorf("agent served without its committed writes: %+v", r)
				}
				return
			}
			c.serving(hb, "agent-00", 2)
			for k, v := range want {
				if r := mustOK(t, get(t, hb, "agent-00", k), "read after restore"); r.body.Value != v {
					t.Errorf("%s = %q after restore, want %q", k, r.body.Value, v)
				}
			}
		})
	}
}

// While the owner region's object store is down, async checkpoints go to another region
// first (and ship on from there) instead of stopping.
func TestAsyncCheckpointsThroughOwnStoreOutage(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	c.register(reg("agent-00", "a", "b", "c"))
	ha := c.startHost("a", asyncCfg(func(cfg *Config) {
		cfg.MinIO = []checkpoint.Endpoint{{Region: "a", Addr: testenv.FreeAddr(t)}, c.endpoints[1], c.endpoints[2]}
	}))
	c.serving(ha, "agent-00", 1)
	for i := range 6 {
		mustOK(t, put(t, ha, "agent-00", fmt.Sprintf("k%d", i%2), fmt.Sprint(i)), "put")
	}
	var meta checkpoint.Meta
	waitFor(t, 15*time.Second, "seq 6 checkpointed in b and shipped to c", func() bool {
		meta = c.chainMeta("agent-00")
		return shippedThrough(meta, 6, "b", "c")
	})
	for _, om := range meta.Objects() {
		if slices.Contains(om.Regions, "a") {
			t.Errorf("object %s claims a copy in the unreachable region a: %v", om.Object, om.Regions)
		}
	}
}
