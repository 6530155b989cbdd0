// Package host is the agent host of one region: it holds an etcd lease, takes over agents
// that have no owner (home region first, then the failover order), restores their state
// from the newest checkpoint plus the etcd op log tail, and serves the refstack HTTP API
// for them.
//
// Safety rests on the epoch, not on the lease: every durable write is an etcd transaction
// guarded by Value(epoch) == the owner's epoch, and every read first checks, with a
// linearizable read, that the epoch has not moved. A host that lost its lease without
// noticing can therefore neither commit nor serve a stale read.
package host

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
	"github.com/geodrill/geodrill/refstack/clock"
	"github.com/geodrill/geodrill/refstack/controller"
)

// Config of a host. Zero timings take the defaults below.
type Config struct {
	Region        string
	Listen        string   // host:port to serve the API on
	Etcd          []string // this region's etcd client endpoints (host:port)
	MinIO         []checkpoint.Endpoint
	MinIOUser     string
	MinIOPassword string
	Bucket        string

	LeaseTTL        time.Duration // default 2s; etcd rounds up to whole seconds
	CheckpointEvery int           // sync-geo: log entries between checkpoints; default 200

	// Durability is api.DurabilitySyncGeo (default) or api.DurabilityAsync.
	Durability string
	// CheckpointInterval (async) is how often each agent's chain gets a new link; 1s.
	CheckpointInterval time.Duration
	// ChainLength is how many deltas follow a full before the next full; default 8.
	ChainLength int
	// Bugs are the unsafe switches turned on (refstack/bugs.Table), for checker self-tests;
	// the host hands them to its checkpoint store and controller too.
	Bugs bugs.Set

	Logger *slog.Logger // default: JSON to stderr

	ClaimStep      time.Duration // wait per failover rank before claiming an unowned agent; 400ms
	ReconcileEvery time.Duration // periodic ownership reconcile; 500ms
	FlushEvery     time.Duration // unsafe mode commit batch interval; 500ms
	OpTimeout      time.Duration // one etcd request on the serving path; 2s
	RestoreTimeout time.Duration // reading checkpoint and log tail; 15s
	RestoreBackoff time.Duration // after a failed restore, before this host claims again; 5s

	// TLSServer and TLSClient, when set, make every link of this host mutual TLS: the API
	// is served over HTTPS requiring a client certificate of the run's CA, and etcd, the
	// object stores and the controller's probes are reached with TLSClient.
	TLSServer, TLSClient *tls.Config

	// MaxAgents caps how many agents this host serves at once; 0 = unlimited.
	MaxAgents int
	// Controller, if set, runs a failover controller in this process (see package
	// controller); Region, Client, Logger and Metrics are filled in by the host.
	Controller *controller.Config
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.LeaseTTL, api.DefaultLeaseTTL)
	def(&c.ClaimStep, 400*time.Millisecond)
	def(&c.ReconcileEvery, 500*time.Millisecond)
	def(&c.FlushEvery, 500*time.Millisecond)
	def(&c.OpTimeout, 2*time.Second)
	def(&c.RestoreTimeout, 15*time.Second)
	def(&c.RestoreBackoff, 5*time.Second)
	def(&c.CheckpointInterval, api.DefaultCheckpointInterval)
	if c.Durability == "" {
		c.Durability = api.DefaultDurability
	}
	if c.ChainLength == 0 {
		c.ChainLength = api.DefaultChainLength
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = api.DefaultCheckpointEvery
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
}

// Validate reports the first unusable field and how to fix it.
func (c Config) Validate() error {
	switch {
	case c.Region == "":
		return errors.New("region is empty: give this host's region, e.g. a")
	case c.Listen == "":
		return errors.New("listen address is empty: give host:port, e.g. 127.0.0.1:8081")
	case len(c.Etcd) == 0:
		return errors.New("no etcd endpoint: give this region's etcd client address host:port")
	case c.Bucket == "":
		return errors.New("bucket is empty: give the checkpoint bucket name, e.g. geodrill")
	case c.CheckpointEvery < 0:
		return fmt.Errorf("checkpoint every %d: want a positive number of log entries", c.CheckpointEvery)
	case c.LeaseTTL < 0:
		return fmt.Errorf("lease TTL %s: want a positive duration such as 2s", c.LeaseTTL)
	case c.Durability != "" && c.Durability != api.DurabilitySyncGeo && c.Durability != api.DurabilityAsync:
		return fmt.Errorf("durability %q: want %s or %s", c.Durability, api.DurabilitySyncGeo, api.DurabilityAsync)
	case c.ChainLength < 0:
		return fmt.Errorf("chain length %d: want a positive number of deltas per full", c.ChainLength)
	}
	if err := c.Bugs.CheckDurability(c.Durability); err != nil {
		return err
	}
	if !slices.ContainsFunc(c.MinIO, func(e checkpoint.Endpoint) bool { return e.Region == c.Region }) {
		return fmt.Errorf("no object store for this host's region %q: include %s=HOST:PORT in the MinIO endpoints", c.Region, c.Region)
	}
	return nil
}

// Host serves the agents its region owns.
type Host struct {
	cfg   Config
	log   *slog.Logger
	cli   *clientv3.Client
	store *checkpoint.Store

	url string          // advertised in owner keys; set by Run before any takeover
	bg  context.Context // background work (claims, checkpoints); set by Run

	kickc    chan struct{}       // wakes the reconcile loop
	shippers map[string]*shipper // async: one per other region
	wg       sync.WaitGroup

	mu           sync.Mutex
	lease        clientv3.LeaseID // 0 while there is none
	leaseGen     uint64           // bumped on every grant and loss
	agents       map[string]*agent
	claiming     map[string]bool
	unownedSince map[string]unowned
	backoff      map[string]time.Time

	metrics *metrics
	ctrl    *controller.Controller // nil unless cfg.Controller

	readCache sync.Map // agent/key -> value; the stale-read-cache switch only

	inFlight atomic.Int64 // client operations being handled (Status)
}

// New checks cfg and connects clients; nothing is contacted until Run.
func New(cfg Config) (*Host, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	store, err := checkpoint.NewStore(checkpoint.StoreConfig{
		Endpoints: cfg.MinIO, User: cfg.MinIOUser, Password: cfg.MinIOPassword, Bucket: cfg.Bucket,
		Bugs: cfg.Bugs, TLS: cfg.TLSClient,
	})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Etcd, DialTimeout: 2 * time.Second, TLS: cfg.TLSClient})
	if err != nil {
		return nil, fmt.Errorf("host: etcd %v: %w", cfg.Etcd, err)
	}
	h := &Host{
		cfg:          cfg,
		log:          cfg.Logger.With("component", "host", "region", cfg.Region),
		cli:          cli,
		store:        store,
		kickc:        make(chan struct{}, 1),
		agents:       map[string]*agent{},
		claiming:     map[string]bool{},
		unownedSince: map[string]unowned{},
		backoff:      map[string]time.Time{},
	}
	if err := h.setupObservability(); err != nil {
		cli.Close()
		return nil, fmt.Errorf("host: %w", err)
	}
	return h, nil
}

// Run listens on cfg.Listen and serves until ctx is done. On a clean shutdown it stops
// taking requests, commits what unsafe mode still holds, and revokes its lease so other
// regions take over at once instead of after the TTL.
func (h *Host) Run(ctx context.Context) error {
	defer h.cli.Close()
	ln, err := net.Listen("tcp", h.cfg.Listen)
	if err != nil {
		return fmt.Errorf("host %s: listen: %w", h.cfg.Region, err)
	}
	h.url = "http://" + ln.Addr().String()
	if h.cfg.TLSServer != nil {
		ln = tls.NewListener(ln, h.cfg.TLSServer)
		h.url = "https://" + ln.Addr().String()
	}
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 5 * time.Second}

	bg, stopBg := context.WithCancel(context.Background())
	h.bg = bg
	h.shippers = newShippers(h.cfg, h.store.Regions())
	var loops sync.WaitGroup
	loops.Go(func() { h.leaseLoop(bg) })
	loops.Go(func() { h.reconcileLoop(bg) })
	loops.Go(func() { h.watchLoop(bg) })
	loops.Go(func() { h.bucketLoop(bg) })
	if h.ctrl != nil {
		loops.Go(func() { h.ctrl.Run(bg) })
	}
	if h.cfg.Bugs.On(bugs.AckBeforeCommit) {
		loops.Go(func() { h.flushLoop(bg) })
	}
	if h.async() {
		loops.Go(func() { h.checkpointLoop(bg) })
		for _, s := range h.shippers {
			loops.Go(func() { h.shipLoop(bg, s) })
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	h.log.Info("host serving", "url", h.url, "etcd", h.cfg.Etcd, "unsafe", h.cfg.Bugs.String(),
		"durability", h.cfg.Durability, "checkpoint_interval", h.cfg.CheckpointInterval.String(),
		"chain_length", h.cfg.ChainLength)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("host %s: serve: %w", h.cfg.Region, err)
	}

	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if h.cfg.Bugs.On(bugs.AckBeforeCommit) {
		h.flushAll()
	}
	if h.async() {
		h.checkpointAll(sctx)
		h.drainShippers(sctx)
	}
	h.mu.Lock()
	lease := h.lease
	h.mu.Unlock()
	stopBg()
	loops.Wait()
	if lease != 0 {
		if _, err := h.cli.Revoke(sctx, lease); err != nil {
			h.log.Warn("revoking lease at shutdown failed; owner keys expire with the TTL", "err", err)
		}
	}
	h.wg.Wait()
	h.log.Info("host stopped")
	return runErr
}

// leaseLoop keeps one lease alive with the host key on it. When the lease is lost the host
// stops serving every agent at once and grants a new lease.
func (h *Host) leaseLoop(ctx context.Context) {
	for ctx.Err() == nil {
		id, alive, err := h.grantLease(ctx)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("lease grant failed; retrying", "err", err)
				sleep(ctx, 500*time.Millisecond)
			}
			continue
		}
		h.mu.Lock()
		h.lease, h.leaseGen = id, h.leaseGen+1
		h.mu.Unlock()
		h.log.Info("lease granted", "lease", fmt.Sprintf("%x", int64(id)), "ttl", h.cfg.LeaseTTL.String())
		h.kick()
		for range alive {
		}

		h.mu.Lock()
		h.lease, h.leaseGen = 0, h.leaseGen+1
		lost := h.agents
		h.agents = map[string]*agent{}
		if h.cfg.Bugs.On(bugs.NoFencing) {
			// UNSAFE: without fencing the host trusts its own view of ownership and keeps
			// serving what it held when its lease went; only noticing a new owner in etcd
			// (reconcile) stops it — Jepsen's "etcd lock without a guard".
			h.agents, lost = lost, nil
		}
		h.mu.Unlock()
		for _, a := range lost {
			h.markDropped(a, "lease lost")
		}
		if ctx.Err() != nil {
			return
		}
		h.metrics.leaseLosses.Inc()
		h.log.Warn("lease lost; stopped serving every agent", "lease", fmt.Sprintf("%x", int64(id)), "agents", len(lost))
		// The keepalive may have given up while etcd still holds the lease; revoking it
		// frees our owner keys now so the agents can be retaken.
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, _ = h.cli.Revoke(rctx, id)
		cancel()
	}
}

func (h *Host) grantLease(ctx context.Context) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
	ttl := max(int64(math.Ceil(h.cfg.LeaseTTL.Seconds())), 1)
	gctx, cancel := context.WithTimeout(ctx, h.cfg.OpTimeout)
	defer cancel()
	g, err := h.cli.Grant(gctx, ttl)
	if err != nil {
		return 0, nil, err
	}
	info, _ := json.Marshal(api.HostInfo{Region: h.cfg.Region, URL: h.url, Lease: int64(g.ID)})
	if _, err := h.cli.Put(gctx, api.HostKey(h.cfg.Region), string(info), clientv3.WithLease(g.ID)); err != nil {
		_, _ = h.cli.Revoke(gctx, g.ID)
		return 0, nil, err
	}
	alive, err := h.cli.KeepAlive(ctx, g.ID)
	if err != nil {
		return 0, nil, err
	}
	return g.ID, alive, nil
}

// bucketLoop makes sure every region's bucket exists, retrying regions that were down.
func (h *Host) bucketLoop(ctx context.Context) {
	for {
		failed := h.store.EnsureBuckets(ctx)
		if len(failed) == 0 || ctx.Err() != nil {
			return
		}
		for r, err := range failed {
			h.log.Debug("bucket not ensured yet", "store_region", r, "err", err)
		}
		if !sleep(ctx, 2*time.Second) {
			return
		}
	}
}

// Handler serves the refstack API.
func (h *Host) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /agents/{agent}/kv/{key}", h.countOps("get", h.handleGet))
	mux.HandleFunc("PUT /agents/{agent}/kv/{key}", h.countOps("put", h.handlePut))
	mux.HandleFunc("POST /agents/{agent}/cas/{key}", h.countOps("cas", h.handleCAS))
	mux.HandleFunc("GET /healthz", h.handleHealthz)
	mux.HandleFunc("GET /status", h.handleStatus)
	mux.HandleFunc("GET /replication", h.handleReplication)
	mux.Handle("GET /metrics", h.metrics.handler)
	mux.Handle("/clock", clock.Handler()) // the harness's clock-skew fault sets the offset here
	return mux
}

func (h *Host) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	lease := h.lease
	h.mu.Unlock()
	w.Header().Set(api.HeaderRegion, h.cfg.Region)
	if lease == 0 {
		http.Error(w, "no lease", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Status lists the agents this host serves (restored and not dropped) with their epochs.
// It does not wait for agents busy with a request.
func (h *Host) Status() api.HostStatus {
	st := api.HostStatus{Region: h.cfg.Region, Agents: map[string]int64{}, InFlight: h.inFlight.Load()}
	for _, a := range h.ownedAgents() {
		if a.serving.Load() && !a.dropped.Load() {
			st.Agents[a.name] = a.epoch
		}
	}
	return st
}

func (h *Host) handleStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderRegion, h.cfg.Region)
	_ = json.NewEncoder(w).Encode(h.Status())
}

func (h *Host) ownedAgents() []*agent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*agent, 0, len(h.agents))
	for _, a := range h.agents {
		out = append(out, a)
	}
	return out
}

func (h *Host) owned(name string) *agent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.agents[name]
}

func (h *Host) kick() {
	select {
	case h.kickc <- struct{}{}:
	default:
	}
}

func epochString(e int64) string { return strconv.FormatInt(e, 10) }

// sleep waits d or until ctx is done; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
