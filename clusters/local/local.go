// Package local runs the reference stack rootless on one machine: every region's etcd
// member, MinIO and agent host, plus the router, are child processes on 127.0.0.1 with
// free ports, logging to RunDir/logs. Cleanup is guaranteed three ways: Down stops and
// reaps every process; each process leads its own process group; and each dies with the
// harness through Pdeathsig, even when the harness is SIGKILLed.
package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
)

// Timeouts. Generous because the stack often shares a small machine with builds and tests.
const (
	readyTimeout    = 60 * time.Second // one service (or a group started together) ready
	registerTimeout = 60 * time.Second // `refstack register` finished
	ownersTimeout   = 60 * time.Second // the router knows an owner for every agent
	stopGrace       = 5 * time.Second  // SIGTERM → SIGKILL
	probeTimeout    = 2 * time.Second  // one readiness GET
)

// EnvMarker is set in the environment of every process a cluster starts, to the absolute
// run directory, so that Leftovers can find them even if the harness lost track.
const EnvMarker = "GEODRILL_CLUSTER"

type state int

const (
	created state = iota
	starting
	up
	down
)

// Cluster is the local provider. Create it with New; it starts nothing until Up.
type Cluster struct {
	spec     clusters.Spec // with defaults
	refstack string        // binary paths
	minio    string
	progress func(string)
	client   *http.Client
	// tlsDir and tlsClient are the run's certificates and the harness's client
	// configuration when the stack runs with TLS (tls.go); empty and nil without.
	tlsDir    string
	tlsClient *tls.Config
	tlsHosts  []string // the names and addresses the certificates are valid for

	// life ends when Down begins, so that a running Up or RestoreRegion stops waiting.
	life    context.Context
	endLife context.CancelFunc

	ops sync.Mutex // serialises Up and Down
	// regionOps serialise KillRegion and RestoreRegion per region. Different regions do not
	// wait for each other: restoring two regions that together hold the etcd quorum only
	// works when both restart at once.
	regionOps map[string]*sync.Mutex

	mu       sync.Mutex // guards the fields below and every service's cur; held while starting
	state    state
	runDir   string
	services []*service // start order; the router is last
	eps      clusters.Endpoints

	// net places each region's services; the zero value keeps them all on 127.0.0.1 in
	// this network namespace (see NewIn).
	net Network
	// px are the embedded Toxiproxy proxies on the paths that can be proxied.
	px proxies
}

// service is one long-running process of the stack and how to (re)start it.
type service struct {
	region string // "" for the router
	name   string // api.ServiceEtcd, ...
	log    string
	path   string
	args   func(restart bool) []string // restart: brought back after a kill
	env    []string
	ready  func(ctx context.Context) error
	cur    Proc // nil before the first start
}

func (s *service) String() string {
	if s.region == "" {
		return s.name
	}
	return s.name + " " + s.region
}

// New checks the spec and the binaries; it starts nothing.
func New(s clusters.Spec) (*Cluster, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	bin, err := clusters.FindBinDir(s.BinDir)
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	s.BinDir = bin
	c := &Cluster{
		spec:     s,
		refstack: filepath.Join(bin, "refstack"),
		minio:    filepath.Join(bin, "minio"),
		client: &http.Client{Transport: &http.Transport{
			Proxy:           nil, // loopback only; never through $HTTP_PROXY
			IdleConnTimeout: 5 * time.Second,
		}},
	}
	for _, p := range []string{c.refstack, c.minio} {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("local cluster: %w (run `make build`, or set $%s)", err, clusters.EnvBinDir)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("local cluster: %s is not an executable file", p)
		}
	}
	if report := s.Progress; report != nil {
		// Readiness is awaited concurrently; the callback should not have to care.
		var mu sync.Mutex
		c.progress = func(msg string) { mu.Lock(); defer mu.Unlock(); report(msg) }
	} else {
		c.progress = func(string) {}
	}
	c.life, c.endLife = context.WithCancel(context.Background())
	c.regionOps = map[string]*sync.Mutex{"": {}} // "": the router
	for _, r := range s.Regions {
		c.regionOps[r] = &sync.Mutex{}
	}
	return c, nil
}

// opContext is ctx, also cancelled when Down begins.
func (c *Cluster) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(c.life, func() { cancel(errors.New("cluster is going down")) })
	return ctx, func() { stop(); cancel(nil) }
}

// RunDir is the run directory (after Up, when the spec left it empty).
func (c *Cluster) RunDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runDir
}

// Endpoints is where the stack answers; the zero value before Up.
func (c *Cluster) Endpoints() clusters.Endpoints {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps := c.eps
	eps.Etcd = append([]string(nil), c.eps.Etcd...)
	eps.Regions = make(map[string]clusters.RegionEndpoints, len(c.eps.Regions))
	for r, e := range c.eps.Regions {
		eps.Regions[r] = e
	}
	return eps
}

// Up starts etcd and MinIO in every region, registers the agents, starts the hosts and the
// router, and returns when the router knows an owner for every agent. On failure it stops
// whatever it started; the error names what never became ready and the log to read.
func (c *Cluster) Up(ctx context.Context) (err error) {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	st := c.state
	if st == created {
		c.state = starting
	}
	c.mu.Unlock()
	switch st {
	case starting, up:
		return errors.New("local cluster: already up")
	case down:
		return errors.New("local cluster: already brought down; create a new cluster")
	}
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	began := time.Now()
	defer func() {
		if err == nil {
			return
		}
		c.progress("startup failed; stopping what was started")
		c.mu.Lock()
		c.state = down
		c.mu.Unlock()
		// ctx may be why we failed; stopping must not depend on it.
		if serr := c.stopAll(context.WithoutCancel(ctx)); serr != nil {
			err = errors.Join(err, serr)
		}
		err = fmt.Errorf("local cluster up: %w", err)
	}()

	if err := c.prepare(); err != nil {
		return err
	}
	byName := func(name string) []*service {
		var out []*service
		for _, s := range c.services {
			if s.name == name {
				out = append(out, s)
			}
		}
		return out
	}

	// etcd members must start together (each waits for a quorum); MinIO does not need etcd,
	// so it starts alongside to save time.
	// Any process exiting during Up fails it at once, whatever is being waited for.
	all := c.services
	storage := append(byName(api.ServiceEtcd), byName(api.ServiceMinIO)...)
	if err := c.startAndAwait(ctx, storage, all, false); err != nil {
		return err
	}
	if err := c.register(ctx); err != nil {
		return err
	}
	if err := c.startAndAwait(ctx, byName(api.ServiceHost), all, false); err != nil {
		return err
	}
	if err := c.startAndAwait(ctx, byName(api.ServiceRouter), all, false); err != nil {
		return err
	}
	if err := c.awaitOwners(ctx); err != nil {
		return err
	}
	if err := c.writeState(); err != nil {
		return err
	}
	c.mu.Lock()
	c.state = up
	c.mu.Unlock()
	c.progress(fmt.Sprintf("cluster up in %.1fs (logs in %s)", time.Since(began).Seconds(), c.eps.Logs))
	return nil
}

// Down stops every process: SIGTERM to each process group (router and hosts first, so they
// leave etcd cleanly), up to 5s grace, then SIGKILL, and reaps them all. It is idempotent,
// safe after a failed Up, and interrupts a running Up or RestoreRegion. A cancelled ctx
// only skips the grace period.
func (c *Cluster) Down(ctx context.Context) error {
	c.endLife()
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	st := c.state
	c.state = down
	c.mu.Unlock()
	if st == down || st == created {
		return nil
	}
	c.progress("stopping the cluster")
	began := time.Now()
	if err := c.stopAll(ctx); err != nil {
		return fmt.Errorf("local cluster down: %w", err)
	}
	c.progress(fmt.Sprintf("cluster stopped in %.1fs", time.Since(began).Seconds()))
	return nil
}

// stopAll stops every running service: the router and the hosts first, so they leave etcd
// cleanly; then MinIO, and the etcd members one at a time, because a leader stopped
// together with its peers waits out a leadership transfer that can no longer complete.
// The caller holds ops and has set the state to down.
func (c *Cluster) stopAll(ctx context.Context) error {
	defer c.client.CloseIdleConnections()
	defer c.stopProxies() // after the processes that hold connections through them
	c.mu.Lock()
	var front, back [][]*service // lanes: services in a lane stop one after another
	var etcd []*service
	for _, s := range c.services {
		if s.cur == nil || !s.cur.Running() {
			continue
		}
		switch s.name {
		case api.ServiceHost, api.ServiceRouter:
			front = append(front, []*service{s})
		case api.ServiceEtcd:
			etcd = append(etcd, s)
		default:
			back = append(back, []*service{s})
		}
	}
	c.mu.Unlock()
	back = append(back, etcd)
	var (
		mu   sync.Mutex
		errs []error
	)
	for _, tier := range [][][]*service{front, back} {
		var wg sync.WaitGroup
		for _, lane := range tier {
			wg.Go(func() {
				for _, s := range lane {
					killed, err := s.cur.Stop(ctx, stopGrace)
					if killed && ctx.Err() == nil {
						// Worth knowing: a service that ignores SIGTERM slows every drill.
						c.progress(fmt.Sprintf("%s ignored SIGTERM for %v; killed", s, stopGrace))
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("%s: %w", s, err))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}
