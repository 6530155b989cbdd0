package controller

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

func withBugs(set bugs.Set) func(*Config) {
	return func(cfg *Config) { cfg.FailureThreshold = 3; cfg.Bugs = set }
}

func (e *env) hostKeyPresent(region string) bool {
	_, ok := e.get(api.HostKey(region))
	return ok
}

// release gives h a new lease and host key, as a restarted host does.
func (e *env) release(h *fakeHost) {
	e.t.Helper()
	g, err := e.cli.Grant(context.Background(), longTTL)
	if err != nil {
		e.t.Fatal(err)
	}
	h.lease = g.ID
	info, _ := json.Marshal(api.HostInfo{Region: h.region, URL: h.srv.URL, Lease: int64(g.ID)})
	if _, err := e.cli.Put(context.Background(), api.HostKey(h.region), string(info), clientv3.WithLease(g.ID)); err != nil {
		e.t.Fatal(err)
	}
}

// probe-threshold-one: one failed probe (of three allowed) revokes a healthy host's lease.
func TestBugProbeThresholdOne(t *testing.T) {
	for _, on := range []bool{false, true} {
		set := bugs.Set{}
		if on {
			set = bugs.Of(bugs.ProbeThresholdOne)
		}
		e := newEnv(t)
		a := e.host("a")
		e.host("b")
		e.controller("b", withBugs(set))
		time.Sleep(300 * time.Millisecond) // every host probed healthy
		a.ok.Store(false)
		time.Sleep(150 * time.Millisecond) // one or two failed probes at 100ms, fewer than 3
		a.ok.Store(true)
		time.Sleep(time.Second)
		if present := e.hostKeyPresent("a"); present == on {
			t.Errorf("%s: after a blip of failed probes host a's key present=%v, want %v", set, present, !on)
		}
	}
}

// dead-region-stays-dead: a region revoked for failing probes comes back healthy with a new
// lease; the buggy controller revokes that one too.
func TestBugDeadRegionStaysDead(t *testing.T) {
	for _, on := range []bool{false, true} {
		set := bugs.Set{}
		if on {
			set = bugs.Of(bugs.DeadRegionStaysDead)
		}
		e := newEnv(t)
		a := e.host("a")
		e.host("b")
		e.controller("b", withBugs(set))
		a.ok.Store(false)
		waitFor(t, 5*time.Second, "region a revoked", func() bool { return !e.hostKeyPresent("a") })
		a.ok.Store(true)
		time.Sleep(300 * time.Millisecond) // a answers probes again
		e.release(a)
		time.Sleep(time.Second)
		if present := e.hostKeyPresent("a"); present == on {
			t.Errorf("%s: recovered host a's new key present=%v, want %v", set, present, !on)
		}
	}
}

// controller-trusts-itself: the only controller's probes of every region fail, its own
// region's included (its certificate lapsed, say). It must declare nobody dead; the buggy
// one revokes every healthy region's lease.
func TestBugControllerTrustsItself(t *testing.T) {
	for _, on := range []bool{false, true} {
		set := bugs.Set{}
		if on {
			set = bugs.Of(bugs.ControllerTrustsItself)
		}
		e := newEnv(t)
		hosts := []*fakeHost{e.host("a"), e.host("b"), e.host("c")}
		c, stop := e.controller("a", withBugs(set))
		waitFor(t, 5*time.Second, "a controller leader", c.Leader)
		time.Sleep(300 * time.Millisecond) // every host probed healthy
		for _, h := range hosts {
			h.ok.Store(false)
		}
		time.Sleep(1500 * time.Millisecond) // well past three failed probes at 100ms
		for _, r := range []string{"b", "c"} {
			if present := e.hostKeyPresent(r); present == on {
				t.Errorf("%s: with every probe failing, region %s's host key present=%v, want %v", set, r, present, !on)
			}
		}
		if !on && c.Leader() {
			t.Errorf("%s: a controller whose own host fails its probes still leads", set)
		}
		stop()
	}
}
