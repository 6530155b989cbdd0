// Package controller is the reference stack's failover controller. One runs beside every
// agent host; an etcd election makes exactly one of them the leader that acts. Every
// controller probes every host's /healthz, so whichever becomes leader already knows who
// is dead.
//
// The leader declares a region dead when its host fails FailureThreshold consecutive probes
// or its host key (on the host's lease) is gone, chooses a target region for each of the
// dead region's agents (failover order, skipping dead regions and hosts at capacity),
// writes that choice as a hint, and revokes the dead host's lease so its owner keys vanish
// at once instead of after the TTL. The chosen host then claims with the usual
// epoch-bumping takeover transaction, which stays the only way ownership changes. A probe
// that is wrong costs availability, never safety: the revoked host is fenced by the epoch.
//
// An operator (or the drill harness, to test fencing) can ask the leader to declare a
// healthy region dead (Declare): the leader then does exactly what it does for a region
// that failed its probes, so the deposed host is alive, connected and still believes it
// owns its agents for a moment while the new owners serve newer epochs.
//
// A follower whose probes say the leader's own region is dead revokes the leader's
// election session, so the controller does not die with the region it should be failing
// over.
//
// Fail-back returns agents to their home region once it has been healthy for a hold time:
// automatically (FailbackAuto) or when an operator asks (Failback, `refstack failback`).
package controller

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/config"
)

// Fail-back modes.
const (
	FailbackManual = config.FailbackManual // agents stay where they failed over until `refstack failback`
	FailbackAuto   = config.FailbackAuto   // agents return once their home has been healthy for the hold time
)

// Defaults.
const (
	DefaultProbeEvery       = 200 * time.Millisecond
	DefaultFailureThreshold = 3
	DefaultFailbackHold     = 5 * time.Second
)

// Config of one controller.
type Config struct {
	Region string           // region this controller runs in (its election value)
	Client *clientv3.Client // this region's etcd; the caller closes it
	// TLS, when set, is the client configuration the probes present to the hosts.
	TLS *tls.Config

	ProbeEvery       time.Duration // default 200ms
	ProbeTimeout     time.Duration // one /healthz GET; default max(2 × ProbeEvery, 1s)
	FailureThreshold int           // consecutive failed probes before a region is dead; default 3
	SessionTTL       int           // election session TTL in seconds; default 2
	MaxAgentsPerHost int           // capacity of a host when choosing targets; 0 = unlimited
	FailbackMode     string        // manual (default) or auto
	FailbackHold     time.Duration // healthy time before auto fail-back; default 5s
	OpTimeout        time.Duration // one etcd request; default 2s
	// DeposeTimeout bounds one attempt to revoke a dead leader's election session; default
	// 500ms. The attempt usually comes while etcd is still noticing that the killed region
	// held its leader too, and a write sent then is forwarded to the dead leader and lost:
	// it waits its whole timeout. A short attempt, retried each probe round, lets the next
	// one reach the new leader (seed 1 of leader-outage: 2s of a 2.6s RTO were one lost
	// attempt).
	DeposeTimeout time.Duration

	// Bugs are the unsafe switches turned on (self-validation only).
	Bugs bugs.Set

	Logger  *slog.Logger
	Metrics *Metrics // nil: not exported
}

func (c *Config) setDefaults() {
	if c.ProbeEvery <= 0 {
		c.ProbeEvery = DefaultProbeEvery
	}
	if c.ProbeTimeout <= 0 {
		// A dead process refuses the connection at once; the timeout only decides when a
		// hung one counts as failed, and on a loaded machine a healthy host can be slow.
		c.ProbeTimeout = max(2*c.ProbeEvery, time.Second)
	}
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 2
	}
	if c.FailbackMode == "" {
		c.FailbackMode = FailbackManual
	}
	if c.FailbackHold <= 0 {
		c.FailbackHold = DefaultFailbackHold
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 2 * time.Second
	}
	if c.DeposeTimeout <= 0 {
		c.DeposeTimeout = min(500*time.Millisecond, c.OpTimeout)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
}

// Validate reports the first unusable field and how to fix it.
func (c Config) Validate() error {
	switch {
	case c.Region == "":
		return errors.New("controller: region is empty: give the region it runs in")
	case c.Client == nil:
		return errors.New("controller: no etcd client")
	case c.FailbackMode != FailbackManual && c.FailbackMode != FailbackAuto:
		return fmt.Errorf("controller: fail-back mode %q: want manual or auto", c.FailbackMode)
	case c.MaxAgentsPerHost < 0:
		return fmt.Errorf("controller: max agents per host %d: want 0 (unlimited) or more", c.MaxAgentsPerHost)
	}
	return nil
}

// region is what probes and etcd say about one region's host.
type region struct {
	url          string
	lease        int64     // lease of the host key; 0 while the key is absent
	failures     int       // consecutive failed probes
	firstFailed  time.Time // when the first of them was sent
	healthySince time.Time
	probed       bool
}

// Controller detects dead regions and moves their agents.
type Controller struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client

	leader  atomic.Bool
	failing atomic.Bool // the last leader pass failed

	mu      sync.Mutex
	regions map[string]*region
	session *concurrency.Session // the election session while leader; nil otherwise
	doubted bool                 // "own host fails probes" was logged and not yet cleared
}

// New checks cfg.
func New(cfg Config) (*Controller, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Controller{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "controller", "region", cfg.Region),
		http:    &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, TLSClientConfig: cfg.TLS}, Timeout: cfg.ProbeTimeout},
		regions: map[string]*region{},
	}, nil
}

// Leader reports whether this controller is the acting leader.
func (c *Controller) Leader() bool { return c.leader.Load() }

// Run probes and, while leader, acts, until ctx is done. Probing has a loop of its own:
// acting needs an etcd leader, and when the dead region held it, counting failed probes
// must not wait for etcd's election.
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.campaignLoop(ctx) })
	probed := make(chan struct{}, 1)
	wg.Go(func() {
		t := time.NewTicker(c.cfg.ProbeEvery)
		defer t.Stop()
		for {
			c.probeRound(ctx)
			select {
			case probed <- struct{}{}:
			default:
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-probed:
		}
		c.actRound(ctx)
	}
}

// campaignLoop keeps this controller in the election; leader is true between winning and
// losing the session.
func (c *Controller) campaignLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if c.selfDoubt() {
			sleep(ctx, c.cfg.ProbeEvery)
			continue
		}
		s, err := concurrency.NewSession(c.cfg.Client, concurrency.WithTTL(c.cfg.SessionTTL), concurrency.WithContext(ctx))
		if err != nil {
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		e := concurrency.NewElection(s, api.ElectionPrefix())
		if err := e.Campaign(ctx, c.cfg.Region); err != nil {
			_ = s.Close()
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		c.mu.Lock()
		c.session = s
		c.mu.Unlock()
		c.leader.Store(true)
		c.cfg.Metrics.setLeader(true)
		c.log.Info("controller leader elected", "event", "controller_leader", "session_lease", fmt.Sprintf("%x", int64(s.Lease())))
		select {
		case <-ctx.Done():
		case <-s.Done():
			c.log.Warn("controller lost leadership (session ended)")
		}
		c.leader.Store(false)
		c.cfg.Metrics.setLeader(false)
		c.mu.Lock()
		c.session = nil
		c.mu.Unlock()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = c.cfg.Client.Revoke(rctx, s.Lease())
		cancel()
		_ = s.Close()
	}
}

// selfDoubt says whether this controller's own region fails its probes. The controller
// runs in that region's host, so it is the one vantage point sure to reach it: when even
// that probe fails, the fault is likely the controller's own (its certificate lapsed, its
// host lost its lease), and what its probes say of other regions is not to be trusted. A
// doubting controller does not campaign, steps down if it leads, and deposes nobody.
func (c *Controller) selfDoubt() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.regions[c.cfg.Region]
	// BUG (controller-trusts-itself): never doubts its own vantage point.
	doubt := r != nil && c.deadLocked(r) && !c.cfg.Bugs.On(bugs.ControllerTrustsItself)
	if doubt != c.doubted {
		c.doubted = doubt
		if doubt {
			c.log.Warn("own host fails probes: not leading and declaring nothing until it answers", "failures", r.failures)
		} else {
			c.log.Info("own host answers probes again")
		}
	}
	return doubt
}

// stepDown ends the election session, if leading, so that a controller in a healthy
// region takes over.
func (c *Controller) stepDown() {
	c.mu.Lock()
	s := c.session
	c.mu.Unlock()
	if s != nil {
		_ = s.Close() // ends the keep-alive at once and revokes the lease
	}
}

// probeRound refreshes the host list and probes every known host.
func (c *Controller) probeRound(ctx context.Context) {
	if err := c.refreshHosts(ctx); err != nil && ctx.Err() == nil {
		c.log.Debug("listing hosts failed", "err", err)
	}
	c.probeAll(ctx)
}

// actRound acts on the latest probes (leader) or watches the leader (follower).
func (c *Controller) actRound(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if c.selfDoubt() {
		if c.leader.Load() {
			c.stepDown()
		}
		return
	}
	if c.leader.Load() {
		if err := c.act(ctx); err != nil {
			// Once per outage (e.g. etcd without quorum), not every round.
			if ctx.Err() == nil && c.failing.CompareAndSwap(false, true) {
				c.log.Warn("controller pass failed; retrying every round", "err", err)
			}
			return
		}
		if c.failing.CompareAndSwap(true, false) {
			c.log.Info("controller pass succeeded again")
		}
		return
	}
	c.deposeDeadLeader(ctx)
}

// refreshHosts reads the host keys. A serializable read answers from the local member even
// while etcd elects a leader, which is exactly when probes matter most.
func (c *Controller) refreshHosts(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	resp, err := c.cfg.Client.Get(rctx, api.HostsPrefix(), clientv3.WithPrefix(), clientv3.WithSerializable())
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, kv := range resp.Kvs {
		var hi api.HostInfo
		if err := json.Unmarshal(kv.Value, &hi); err != nil || hi.Region == "" {
			continue
		}
		r := c.regions[hi.Region]
		if r == nil {
			r = &region{}
			c.regions[hi.Region] = r
		}
		if hi.URL != "" {
			r.url = hi.URL
		}
		r.lease = kv.Lease // the key's own lease is the truth; HostInfo.Lease is for people
		seen[hi.Region] = true
	}
	for name, r := range c.regions {
		if !seen[name] {
			r.lease = 0
			r.healthySince = time.Time{}
		}
	}
	return nil
}

// probeAll GETs every known host's /healthz at once.
func (c *Controller) probeAll(ctx context.Context) {
	c.mu.Lock()
	urls := map[string]string{}
	for name, r := range c.regions {
		if r.url != "" {
			urls[name] = r.url
		}
	}
	c.mu.Unlock()
	type result struct {
		region string
		err    error
	}
	out := make(chan result, len(urls))
	for name, url := range urls {
		go func() { out <- result{name, c.probe(ctx, url)} }()
	}
	now := time.Now() // the probes were sent just before
	for range urls {
		res := <-out
		c.cfg.Metrics.probe(res.region, res.err == nil)
		c.mu.Lock()
		r := c.regions[res.region]
		r.probed = true
		if res.err != nil {
			if r.failures == 0 {
				r.firstFailed = now
			}
			r.failures++
			r.healthySince = time.Time{}
			if r.failures == c.cfg.FailureThreshold {
				c.log.Warn("region failing probes", "target_region", res.region, "failures", r.failures, "err", res.err)
			}
		} else {
			if r.failures >= c.cfg.FailureThreshold {
				c.log.Info("region answers probes again", "target_region", res.region)
			}
			if r.failures < c.cfg.FailureThreshold || !c.cfg.Bugs.On(bugs.DeadRegionStaysDead) {
				r.failures = 0 // BUG (dead-region-stays-dead) resets the count only below the threshold
			}
			if r.healthySince.IsZero() && r.lease != 0 {
				r.healthySince = now
			}
		}
		c.mu.Unlock()
	}
}

func (c *Controller) probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}

// dead: the host failed the threshold of probes in a row. alive: it holds a lease and is
// not dead. A region can be neither (not seen yet, or restarting without a lease).
func (c *Controller) deadLocked(r *region) bool {
	if c.cfg.Bugs.On(bugs.ProbeThresholdOne) {
		return r.failures >= 1 // BUG (probe-threshold-one): the configured threshold is not used
	}
	return r.failures >= c.cfg.FailureThreshold
}
func (c *Controller) aliveLocked(r *region) bool {
	return r != nil && r.lease != 0 && !c.deadLocked(r)
}

// deposeDeadLeader revokes the leader's session when the leader's region fails its probes,
// so a follower wins the election without waiting for the session TTL.
func (c *Controller) deposeDeadLeader(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	opts := append(clientv3.WithFirstCreate(), clientv3.WithSerializable())
	resp, err := c.cfg.Client.Get(rctx, api.ElectionPrefix(), opts...)
	if err != nil || len(resp.Kvs) == 0 {
		return
	}
	kv := resp.Kvs[0]
	leaderRegion := string(kv.Value)
	c.mu.Lock()
	r := c.regions[leaderRegion]
	dead := r != nil && c.deadLocked(r)
	c.mu.Unlock()
	if !dead || leaderRegion == c.cfg.Region {
		return
	}
	vctx, vcancel := context.WithTimeout(ctx, c.cfg.DeposeTimeout)
	defer vcancel()
	if _, err := c.cfg.Client.Revoke(vctx, clientv3.LeaseID(kv.Lease)); err == nil {
		c.log.Warn("revoked the session of a controller leader in a dead region", "leader_region", leaderRegion)
	}
}

// act is one leader pass: revoke dead regions' leases (after writing target hints for their
// agents), give unowned agents a target, and fail agents back home when due.
func (c *Controller) act(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	st, err := readState(actx, c.cfg.Client)
	if err != nil {
		return err
	}
	declared, err := readDeclarations(actx, c.cfg.Client)
	if err != nil {
		return err
	}
	c.mu.Lock()
	var deadLeases []revocation
	alive := map[string]bool{}
	healthy := map[string]time.Time{}
	for name, r := range c.regions {
		d, isDeclared := declared[name]
		switch {
		case c.deadLocked(r) && r.lease != 0:
			deadLeases = append(deadLeases, revocation{region: name, lease: r.lease, failures: r.failures, firstFailed: r.firstFailed})
		case isDeclared && d.lease == r.lease && r.lease != 0:
			// Declared dead on request: from here on handled exactly like a region that
			// failed its probes, whatever the probes say.
			deadLeases = append(deadLeases, revocation{region: name, lease: r.lease, failures: r.failures, declared: true})
		case c.aliveLocked(r):
			alive[name] = true
			healthy[name] = r.healthySince
		}
	}
	c.mu.Unlock()
	sort.Slice(deadLeases, func(i, j int) bool { return deadLeases[i].region < deadLeases[j].region })

	load := st.load()
	targets := map[string]string{}
	for _, a := range st.agents {
		switch {
		case a.Owner != nil && alive[a.Owner.Region]:
			continue
		case a.Owner != nil && !slices.ContainsFunc(deadLeases, func(d revocation) bool { return d.region == a.Owner.Region }):
			continue // owned by a region that is neither alive nor dead by probes: leave it to the lease
		}
		if a.Target != "" && alive[a.Target] {
			continue // already chosen
		}
		if a.Owner == nil && a.Epoch == 0 {
			// Never owned: the hosts place it by failover rank, home first. Choosing here
			// would race the hosts' start and could put it away from a home still starting.
			continue
		}
		if t := c.choose(a.Reg, alive, load); t != "" {
			targets[a.Reg.Agent] = t
			load[t]++
		}
	}
	if err := putTargets(actx, c.cfg.Client, targets); err != nil {
		return err
	}
	for _, d := range deadLeases {
		rec := api.RegionDead{Region: d.region, FailedProbes: d.failures, Declared: d.declared, Lease: d.lease}
		if !d.firstFailed.IsZero() && !d.declared {
			rec.FirstFailureAgoMs = time.Since(d.firstFailed).Milliseconds()
		}
		if b, err := json.Marshal(rec); err == nil {
			if _, err := c.cfg.Client.Put(actx, api.DeadKey(d.region), string(b)); err != nil {
				return fmt.Errorf("record dead region %s: %w", d.region, err)
			}
		}
		if _, err := c.cfg.Client.Revoke(actx, clientv3.LeaseID(d.lease)); err != nil {
			return fmt.Errorf("revoke lease %x of dead region %s: %w", d.lease, d.region, err)
		}
		moved := 0
		for _, a := range st.agents {
			if a.Owner != nil && a.Owner.Region == d.region {
				moved++
			}
		}
		c.cfg.Metrics.revoked(d.region)
		c.log.Warn("region dead: revoked its host lease", "event", "region_dead", "target_region", d.region,
			"lease", fmt.Sprintf("%x", d.lease), "failed_probes", d.failures, "declared", d.declared,
			"agents", moved, "targets", targets)
		c.mu.Lock()
		if r := c.regions[d.region]; r != nil && r.lease == d.lease {
			r.lease = 0
		}
		c.mu.Unlock()
	}
	// Every request is spent once read: honoured above, or stale (its lease is gone, so the
	// host it named is already deposed or restarted).
	if err := deleteDeclarations(actx, c.cfg.Client, declared); err != nil {
		return err
	}
	if c.cfg.FailbackMode == FailbackAuto {
		now := time.Now()
		for name, since := range healthy {
			if since.IsZero() || now.Sub(since) < c.cfg.FailbackHold {
				continue
			}
			n, err := failback(actx, c.cfg.Client, st, name, c.cfg.MaxAgentsPerHost)
			if err != nil {
				return err
			}
			if n > 0 {
				c.cfg.Metrics.failedBack(name, n)
				c.log.Info("fail-back: agents handed back to their home region", "event", "failback", "target_region", name,
					"agents", n, "healthy_for", now.Sub(since).Round(time.Millisecond).String())
			}
		}
	}
	return nil
}

// choose picks the first alive region in the agent's failover order with spare capacity.
func (c *Controller) choose(reg api.Registration, alive map[string]bool, load map[string]int) string {
	for _, r := range reg.Order {
		if alive[r] && (c.cfg.MaxAgentsPerHost == 0 || load[r] < c.cfg.MaxAgentsPerHost) {
			return r
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
