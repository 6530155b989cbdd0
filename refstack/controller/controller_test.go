package controller

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
	"github.com/geodrill/geodrill/refstack/registry"
)

// These tests run controllers against a real etcd. The agent hosts are stand-ins: an HTTP
// /healthz that can be switched off plus the host and owner keys a host writes, on a lease
// whose TTL (longTTL) is far longer than any wait here, so only a revocation can explain
// keys vanishing in time.
const longTTL = 30

type env struct {
	t    *testing.T
	etcd string
	cli  *clientv3.Client
	logs *testenv.SyncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, logs: &testenv.SyncBuffer{}}
	e.etcd = testenv.Etcd(t)
	e.cli = testenv.Client(t, e.etcd)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("controller logs:\n%s", e.logs.String())
		}
	})
	return e
}

type fakeHost struct {
	region string
	lease  clientv3.LeaseID
	srv    *httptest.Server
	ok     atomic.Bool
}

// host registers a live host for region: a healthz server and the host key on a lease.
func (e *env) host(region string) *fakeHost {
	e.t.Helper()
	h := &fakeHost{region: region}
	h.ok.Store(true)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.ok.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	e.t.Cleanup(h.srv.Close)
	g, err := e.cli.Grant(context.Background(), longTTL)
	if err != nil {
		e.t.Fatal(err)
	}
	h.lease = g.ID
	info, _ := json.Marshal(api.HostInfo{Region: region, URL: h.srv.URL, Lease: int64(g.ID)})
	if _, err := e.cli.Put(context.Background(), api.HostKey(region), string(info), clientv3.WithLease(g.ID)); err != nil {
		e.t.Fatal(err)
	}
	return h
}

// own makes h the owner of agent at epoch.
func (e *env) own(h *fakeHost, agent string, epoch int64) {
	e.t.Helper()
	o, _ := json.Marshal(api.Owner{Region: h.region, Epoch: epoch, URL: h.srv.URL})
	_, err := e.cli.Txn(context.Background()).Then(
		clientv3.OpPut(api.EpochKey(agent), strconv.FormatInt(epoch, 10)),
		clientv3.OpPut(api.OwnerKey(agent), string(o), clientv3.WithLease(h.lease)),
	).Commit()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) register(regs ...api.Registration) {
	e.t.Helper()
	if err := registry.Put(context.Background(), e.cli, regs); err != nil {
		e.t.Fatal(err)
	}
}

// controller starts a controller for region with its own etcd client; stop ends it without
// revoking its election session (the client is closed first), as a region's death would.
func (e *env) controller(region string, mod func(*Config)) (c *Controller, stop func()) {
	e.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.etcd}, DialTimeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Config{
		Region: region, Client: cli, ProbeEvery: 100 * time.Millisecond, SessionTTL: longTTL,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err = New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cli.Close()
			cancel()
			<-done
		})
	}
	e.t.Cleanup(stop)
	return c, stop
}

func (e *env) get(key string) (string, bool) {
	e.t.Helper()
	resp, err := e.cli.Get(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

func reg(agent string, order ...string) api.Registration {
	return api.Registration{Agent: agent, Home: order[0], Order: order}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("after %s: still waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// A region whose host fails its probes is declared dead: targets are written by failover
// order and capacity, then its lease is revoked, long before the lease TTL.
func TestDeadRegionIsRevokedWithTargetsByOrderAndCapacity(t *testing.T) {
	e := newEnv(t)
	e.register(reg("agent-00", "a", "b", "c"), reg("agent-01", "a", "b", "c"), reg("agent-02", "b", "c", "a"))
	a, b, c := e.host("a"), e.host("b"), e.host("c")
	e.own(a, "agent-00", 1)
	e.own(a, "agent-01", 1)
	e.own(b, "agent-02", 1)
	ctrl, _ := e.controller("b", func(c *Config) { c.MaxAgentsPerHost = 2 })
	waitFor(t, 10*time.Second, "controller b to lead", ctrl.Leader)
	time.Sleep(500 * time.Millisecond) // healthy rounds first: nothing may happen
	if _, ok := e.get(api.HostKey("a")); !ok {
		t.Fatal("healthy region a lost its host key")
	}

	a.ok.Store(false)
	took := waitFor(t, 5*time.Second, "a's host key to vanish", func() bool { _, ok := e.get(api.HostKey("a")); return !ok })
	t.Logf("region a revoked %s after its probes started failing (lease TTL %ds)", took, longTTL)
	for _, agent := range []string{"agent-00", "agent-01"} {
		if _, ok := e.get(api.OwnerKey(agent)); ok {
			t.Errorf("%s still has an owner key after a's lease was revoked", agent)
		}
	}
	// b already serves agent-02; with 2 agents per host only one of a's agents fits there.
	if got, _ := e.get(api.TargetKey("agent-00")); got != "b" {
		t.Errorf("target of agent-00 = %q, want b (next in its order)", got)
	}
	if got, _ := e.get(api.TargetKey("agent-01")); got != "c" {
		t.Errorf("target of agent-01 = %q, want c (b is at capacity)", got)
	}
	if _, ok := e.get(api.OwnerKey("agent-02")); !ok {
		t.Error("agent-02 (owned by healthy b) lost its owner")
	}
	if _, ok := e.get(api.HostKey("c")); !ok {
		t.Error("healthy region c lost its host key")
	}
	// The declaration is on record for the harness: how many probes failed, since when.
	raw, ok := e.get(api.DeadKey("a"))
	var dead api.RegionDead
	if !ok || json.Unmarshal([]byte(raw), &dead) != nil || dead.Region != "a" || dead.Declared ||
		dead.FailedProbes < DefaultFailureThreshold || dead.FirstFailureAgoMs <= 0 || dead.FirstFailureAgoMs > took.Milliseconds()+1000 {
		t.Errorf("dead record of a: %q (%+v), want a's failed probes and when they began (within %s)", raw, dead, took)
	}
	if _, ok := e.get(api.DeadKey("b")); ok {
		t.Error("healthy region b has a dead record")
	}
	_ = c
}

// When the leader dies with its region, a follower revokes the leader's session (whose TTL
// is long here) and then fails the region over.
func TestFollowerDeposesLeaderInDeadRegion(t *testing.T) {
	e := newEnv(t)
	e.register(reg("agent-00", "a", "b"))
	a, _ := e.host("a"), e.host("b")
	e.own(a, "agent-00", 1)
	ctrlA, stopA := e.controller("a", nil)
	waitFor(t, 10*time.Second, "controller a to lead", ctrlA.Leader)
	ctrlB, _ := e.controller("b", nil)
	time.Sleep(300 * time.Millisecond)
	if ctrlB.Leader() {
		t.Fatal("two leaders")
	}

	stopA() // the controller dies without giving up its session
	a.ok.Store(false)
	took := waitFor(t, 5*time.Second, "b to lead and revoke a", func() bool {
		_, ok := e.get(api.HostKey("a"))
		return ctrlB.Leader() && !ok
	})
	t.Logf("follower took over and revoked a within %s (session TTL %ds)", took, longTTL)
	if got, _ := e.get(api.TargetKey("agent-00")); got != "b" {
		t.Errorf("target of agent-00 = %q, want b", got)
	}
}

// A probe that is wrong is safe: a revoked host that is still alive is no longer the owner
// and the fencing epoch is untouched by the controller; only a takeover bumps it.
func TestRevocationDoesNotTouchEpochs(t *testing.T) {
	e := newEnv(t)
	e.register(reg("agent-00", "a", "b"))
	a, _ := e.host("a"), e.host("b")
	e.own(a, "agent-00", 7)
	ctrl, _ := e.controller("b", func(c *Config) { c.FailureThreshold = 2 })
	waitFor(t, 10*time.Second, "controller b to lead", ctrl.Leader)
	a.ok.Store(false) // a is alive, but its healthz says otherwise
	waitFor(t, 5*time.Second, "a's owner key to vanish", func() bool { _, ok := e.get(api.OwnerKey("agent-00")); return !ok })
	if got, _ := e.get(api.EpochKey("agent-00")); got != "7" {
		t.Errorf("epoch = %q after revocation, want 7 (only takeovers bump it)", got)
	}
}

// Auto fail-back hands agents home once the home region has been healthy for the hold time;
// manual fail-back does nothing until Failback is called.
func TestFailback(t *testing.T) {
	for _, mode := range []string{FailbackAuto, FailbackManual} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			e.register(reg("agent-00", "a", "b"), reg("agent-01", "b", "a"))
			_, b := e.host("a"), e.host("b")
			e.own(b, "agent-00", 4) // failed over earlier
			e.own(b, "agent-01", 2) // at home
			hold := 700 * time.Millisecond
			ctrl, _ := e.controller("b", func(c *Config) { c.FailbackMode, c.FailbackHold = mode, hold })
			start := time.Now()
			waitFor(t, 10*time.Second, "controller to lead", ctrl.Leader)
			if mode == FailbackManual {
				time.Sleep(2 * hold)
				if _, ok := e.get(api.OwnerKey("agent-00")); !ok {
					t.Fatal("manual mode handed agent-00 back by itself")
				}
				n, err := Failback(context.Background(), e.cli, "a", 0)
				if err != nil || n != 1 {
					t.Fatalf("Failback = %d, %v; want 1 agent", n, err)
				}
			}
			took := waitFor(t, 5*time.Second, "agent-00 handed back", func() bool { _, ok := e.get(api.OwnerKey("agent-00")); return !ok })
			if mode == FailbackAuto && time.Since(start) < hold {
				t.Errorf("handed back after %s, before the hold of %s", took, hold)
			}
			if got, _ := e.get(api.TargetKey("agent-00")); got != "a" {
				t.Errorf("target of agent-00 = %q, want its home a", got)
			}
			if got, _ := e.get(api.EpochKey("agent-00")); got != "4" {
				t.Errorf("epoch = %q, want 4: the handoff must not bump it, the home's takeover does", got)
			}
			if _, ok := e.get(api.OwnerKey("agent-01")); !ok {
				t.Error("agent-01, at home in b, was moved")
			}
		})
	}
}

// Failback refuses a region without a live host.
func TestFailbackNeedsLiveHost(t *testing.T) {
	e := newEnv(t)
	e.register(reg("agent-00", "a", "b"))
	if _, err := Failback(context.Background(), e.cli, "a", 0); err == nil {
		t.Fatal("Failback to a region without host succeeded")
	}
}

// An agent whose owner key went with an expired lease (epoch > 0, no owner) gets a target
// among the live regions; one never owned is left to the hosts' rank order, so a home host
// that starts a moment later than the others still gets its agents.
func TestOrphanedAgentsGetTargetsNeverOwnedDoNot(t *testing.T) {
	e := newEnv(t)
	e.register(reg("agent-00", "a", "b"), reg("agent-01", "a", "b"))
	if _, err := e.cli.Put(context.Background(), api.EpochKey("agent-01"), "3"); err != nil {
		t.Fatal(err)
	}
	e.host("b") // a is not up (its lease expired, or it has not started)
	ctrl, _ := e.controller("b", nil)
	waitFor(t, 10*time.Second, "controller to lead", ctrl.Leader)
	waitFor(t, 5*time.Second, "a target for the orphaned agent-01", func() bool { got, _ := e.get(api.TargetKey("agent-01")); return got == "b" })
	time.Sleep(300 * time.Millisecond) // a few more rounds
	if got, ok := e.get(api.TargetKey("agent-00")); ok {
		t.Errorf("never-owned agent-00 got target %q; its placement is the hosts' rank order", got)
	}
}

// A declaration makes the leader fail a healthy host over exactly as if its probes had
// failed (targets, then revocation), and is spent; a declaration naming a lease the host no
// longer holds is dropped without revoking anything.
func TestDeclareFailsHealthyHostOver(t *testing.T) {
	e := newEnv(t)
	e.register(reg("agent-00", "a", "b"), reg("agent-01", "b", "a"))
	a, b := e.host("a"), e.host("b")
	e.own(a, "agent-00", 3)
	e.own(b, "agent-01", 1)
	ctrl, _ := e.controller("b", nil)
	waitFor(t, 10*time.Second, "controller b to lead", ctrl.Leader)
	time.Sleep(300 * time.Millisecond) // healthy rounds: nothing may happen
	if _, ok := e.get(api.HostKey("a")); !ok {
		t.Fatal("healthy region a lost its host key before any declaration")
	}

	if err := Declare(context.Background(), e.cli, "b", int64(b.lease)+1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the stale declaration of b to be dropped", func() bool { _, ok := e.get(api.DeclareKey("b")); return !ok })
	if _, ok := e.get(api.HostKey("b")); !ok {
		t.Fatal("a declaration naming another lease revoked b's host")
	}

	if err := Declare(context.Background(), e.cli, "a", int64(a.lease)); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, "a's host key to vanish", func() bool { _, ok := e.get(api.HostKey("a")); return !ok })
	t.Logf("healthy region a declared dead and revoked %s after the request", took)
	if _, ok := e.get(api.OwnerKey("agent-00")); ok {
		t.Error("agent-00 still has an owner key after a was declared dead")
	}
	if got, _ := e.get(api.TargetKey("agent-00")); got != "b" {
		t.Errorf("target of agent-00 = %q, want b", got)
	}
	if got, _ := e.get(api.EpochKey("agent-00")); got != "3" {
		t.Errorf("epoch = %q, want 3: only a takeover bumps it", got)
	}
	if _, ok := e.get(api.DeclareKey("a")); ok {
		t.Error("the honoured declaration was not deleted")
	}
	if _, ok := e.get(api.OwnerKey("agent-01")); !ok {
		t.Error("agent-01 (owned by b) lost its owner")
	}
}
