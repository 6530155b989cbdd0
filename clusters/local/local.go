// Package local runs the reference stack rootless on one machine: every region's etcd
// member, MinIO and agent host, plus the router, are child processes on 127.0.0.1 with
// free ports, logging to RunDir/logs. Cleanup is guaranteed three ways: Down stops and
// reaps every process; each process leads its own process group; and each dies with the
// harness through Pdeathsig, even when the harness is SIGKILLed.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/geodrill/geodrill/clusters/internal/spec"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/rundir"
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
	spec     spec.Spec // with defaults
	refstack string    // binary paths
	minio    string
	progress func(string)
	client   *http.Client

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
	eps      spec.Endpoints

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
	cur    *child // nil before the first start
}

func (s *service) String() string {
	if s.region == "" {
		return s.name
	}
	return s.name + " " + s.region
}

// New checks the spec and the binaries; it starts nothing.
func New(s spec.Spec) (*Cluster, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	bin, err := spec.FindBinDir(s.BinDir)
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
			return nil, fmt.Errorf("local cluster: %w (run `make build`, or set $%s)", err, spec.EnvBinDir)
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
func (c *Cluster) Endpoints() spec.Endpoints {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps := c.eps
	eps.Etcd = append([]string(nil), c.eps.Etcd...)
	eps.Regions = make(map[string]spec.RegionEndpoints, len(c.eps.Regions))
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

// prepare creates the directories, picks the ports and describes every service.
func (c *Cluster) prepare() error {
	runDir := c.spec.RunDir
	if runDir == "" {
		d, err := os.MkdirTemp("", "geodrill-local-")
		if err != nil {
			return fmt.Errorf("run dir: %w", err)
		}
		runDir = d
	}
	runDir, err := filepath.Abs(runDir)
	if err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	logs := filepath.Join(runDir, rundir.LogsDir)
	dirs := []string{logs}
	for _, r := range c.spec.Regions {
		dirs = append(dirs, c.dataDir(runDir, r, api.ServiceEtcd), c.dataDir(runDir, r, api.ServiceMinIO))
	}
	for _, d := range dirs {
		// 0700: etcd warns about, and MinIO data should not have, wider permissions.
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}

	ports := newPortPicker()
	type regionPorts struct{ client, peer, minio, console, host int }
	rp := map[string]regionPorts{}
	for _, r := range c.spec.Regions {
		var p regionPorts
		for _, dst := range []*int{&p.client, &p.peer, &p.minio, &p.console, &p.host} {
			if *dst, err = ports.pick(); err != nil {
				return err
			}
		}
		rp[r] = p
	}
	routerPort, err := ports.pick()
	if err != nil {
		return err
	}
	var moreRouterPorts []int // the routers after the first
	for i := 1; i < c.spec.Routers; i++ {
		p, err := ports.pick()
		if err != nil {
			return err
		}
		moreRouterPorts = append(moreRouterPorts, p)
	}

	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	// The router reaches each host through a proxy of its own (not inside per-region
	// networks, as in minioFor), so that faults can act on the router → host path alone.
	var hostVia []string
	if c.net.IP == nil {
		for _, r := range c.spec.Regions {
			port, err := ports.pick()
			if err != nil {
				return err
			}
			hostVia = append(hostVia, r+"="+c.hostVia(r, addr(port), addr(rp[r].host)))
		}
	}
	eps := spec.Endpoints{
		Router:        "http://" + addr(routerPort),
		Regions:       map[string]spec.RegionEndpoints{},
		MinIOUser:     spec.MinIOUser,
		MinIOPassword: spec.MinIOPassword,
		Bucket:        spec.Bucket,
		Logs:          logs,
	}
	// Clients reach the router through a proxy; the harness's own reads go direct.
	via, err := c.routerVia(addr(routerPort))
	if err != nil {
		return err
	}
	if via != addr(routerPort) {
		eps.Router, eps.RouterDirect = "http://"+via, eps.Router
	}
	eps.Routers = []string{eps.Router}
	for _, p := range moreRouterPorts {
		eps.Routers = append(eps.Routers, "http://"+addr(p))
	}
	var peers, minios []string
	for _, r := range c.spec.Regions {
		p := rp[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		eps.Regions[r] = spec.RegionEndpoints{Etcd: addr(p.client), MinIO: addr(p.minio), Host: "http://" + addr(p.host)}
		eps.Etcd = append(eps.Etcd, addr(p.client))
		peers = append(peers, r+"=http://"+addr(p.peer))
		minios = append(minios, r+"="+addr(p.minio))
	}

	marker := EnvMarker + "=" + runDir
	stackEnv := []string{marker, "GOTRACEBACK=all"}
	var svcs []*service
	for _, r := range c.spec.Regions {
		p, re := rp[r], eps.Regions[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		svcs = append(svcs, &service{
			region: r, name: api.ServiceEtcd, path: c.refstack, env: stackEnv,
			log: filepath.Join(logs, r+"-etcd.log"),
			args: func(restart bool) []string {
				// After a kill the member rejoins the cluster it already belongs to.
				state := "new"
				if restart {
					state = "existing"
				}
				return []string{"etcd", "--name", r, "--data-dir", c.dataDir(runDir, r, api.ServiceEtcd),
					"--listen-client", addr(p.client), "--listen-peer", addr(p.peer),
					"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", state}
			},
			ready: func(ctx context.Context) error { return c.etcdHealthy(ctx, re.Etcd) },
		})
	}
	for _, r := range c.spec.Regions {
		p, re := rp[r], eps.Regions[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		svcs = append(svcs, &service{
			region: r, name: api.ServiceMinIO, path: c.minio,
			env: []string{marker, "MINIO_ROOT_USER=" + spec.MinIOUser, "MINIO_ROOT_PASSWORD=" + spec.MinIOPassword,
				"MINIO_UPDATE=off", "MINIO_PROMETHEUS_AUTH_TYPE=public"}, // /minio/v2/metrics/* without a token
			log: filepath.Join(logs, r+"-minio.log"),
			args: func(bool) []string {
				return []string{"server", "--address", addr(p.minio), "--console-address", addr(p.console),
					"--quiet", c.dataDir(runDir, r, api.ServiceMinIO)}
			},
			ready: func(ctx context.Context) error { return c.get200(ctx, "http://"+re.MinIO+"/minio/health/live") },
		})
	}
	for _, r := range c.spec.Regions {
		p, re := rp[r], eps.Regions[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		minioArg, err := c.minioFor(r, minios)
		if err != nil {
			return err
		}
		etcdArg, err := c.etcdFor(r, re.Etcd)
		if err != nil {
			return err
		}
		args := []string{"host", "--region", r, "--listen", addr(p.host), "--etcd", etcdArg,
			"--minio", minioArg, "--minio-user", spec.MinIOUser,
			"--minio-password", spec.MinIOPassword, "--bucket", spec.Bucket,
			"--lease-ttl", c.spec.LeaseTTL.String(), "--checkpoint-every", strconv.Itoa(c.spec.CheckpointEvery)}
		args = append(args, durabilityArgs(c.spec)...)
		args = append(args, c.spec.UnsafeArgs()...)
		args = append(args, c.spec.Controller.Args()...)
		svcs = append(svcs, &service{
			region: r, name: api.ServiceHost, path: c.refstack, env: stackEnv,
			log:   filepath.Join(logs, r+"-host.log"),
			args:  func(bool) []string { return args },
			ready: func(ctx context.Context) error { return c.get200(ctx, re.Host+"/healthz") },
		})
	}
	routerArgs := func(port int) []string {
		args := []string{"router", "--listen", addr(port), "--etcd", strings.Join(eps.Etcd, ","),
			"--owner-ttl", c.spec.RouterOwnerTTL.String()}
		if len(hostVia) > 0 {
			args = append(args, "--host-via", strings.Join(hostVia, ","))
		}
		return append(args, c.spec.UnsafeArgs()...)
	}
	// The first router is the one faults on "router" act on; the others share its name, so
	// they start and stop with it.
	svcs = append(svcs, &service{
		name: api.ServiceRouter, path: c.refstack, env: stackEnv,
		log:   filepath.Join(logs, "router.log"),
		args:  func(bool) []string { return routerArgs(routerPort) },
		ready: func(ctx context.Context) error { return c.get200(ctx, eps.StatusRouter()+"/healthz") },
	})
	for i, p := range moreRouterPorts {
		url := eps.Routers[i+1]
		svcs = append(svcs, &service{
			name: api.ServiceRouter, path: c.refstack, env: stackEnv,
			log:   filepath.Join(logs, fmt.Sprintf("router-%d.log", i+2)),
			args:  func(bool) []string { return routerArgs(p) },
			ready: func(ctx context.Context) error { return c.get200(ctx, url+"/healthz") },
		})
	}

	c.mu.Lock()
	c.runDir, c.services, c.eps = runDir, svcs, eps
	c.mu.Unlock()
	return nil
}

// dataDir is where service keeps its data in runDir.
func (c *Cluster) dataDir(runDir, region, service string) string {
	return filepath.Join(runDir, rundir.DataDir, region, service)
}

// start launches s unless the cluster is going down. Checking the state and recording the
// child under one lock is what guarantees that Down, which flips the state and then stops
// every recorded child, never misses a process.
func (c *Cluster) start(s *service, restart bool) error {
	c.progress("starting " + s.String()) // outside mu: the callback may call back in
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != starting && c.state != up {
		return fmt.Errorf("start %s: the cluster is going down", s)
	}
	path, args := c.command(s, restart)
	ch, err := startChild(path, args, s.env, c.runDir, s.log)
	if err != nil {
		return fmt.Errorf("%s: %w (log: %s)", s, err, s.log)
	}
	s.cur = ch
	if s.name == api.ServiceHost {
		c.watchHost(s.region, ch)
	}
	return nil
}

// startAndAwait starts every service in svcs that is not running and waits until all are
// ready, failing early if a process of watch that is running now exits. Only the caller
// starts these services (Up holds ops, RestoreRegion the region's lock), so reading cur
// needs no lock.
func (c *Cluster) startAndAwait(ctx context.Context, svcs, watch []*service, restart bool) error {
	for _, s := range svcs {
		if s.cur != nil && s.cur.running() {
			continue
		}
		if err := c.start(s, restart); err != nil {
			return err
		}
	}
	var running []watched
	c.mu.Lock()
	for _, s := range watch {
		if s.cur != nil && s.cur.running() {
			running = append(running, watched{s, s.cur})
		}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range svcs {
		g.Go(func() error {
			if err := c.await(gctx, s.String()+" to be ready", s.ready, running, s.log); err != nil {
				return err
			}
			if s.name == api.ServiceHost {
				if err := c.hostReady(s.region, s.cur); err != nil {
					return err
				}
			}
			c.progress(s.String() + " ready")
			return nil
		})
	}
	return g.Wait()
}

// watched is a process whose exit fails a wait.
type watched struct {
	svc   *service
	child *child
}

// await polls check until it passes. It fails as soon as a watched process exits (with the
// tail of its log) or when ctx ends (naming the logs to read).
func (c *Cluster) await(ctx context.Context, what string, check func(context.Context) error, watch []watched, logs ...string) error {
	delay := 50 * time.Millisecond
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		for _, w := range watch {
			if !w.child.running() {
				return fmt.Errorf("%s%s exited (%v) while waiting for %s; last lines of %s:\n%s",
					rootCause(w.svc.log), w.svc, exitText(w.child.err), what, w.svc.log, logTail(w.svc.log, 20))
			}
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
			}
			var tails strings.Builder
			for _, l := range logs {
				fmt.Fprintf(&tails, "\nlast lines of %s:\n%s", l, logTail(l, 10))
			}
			return fmt.Errorf("%sgave up waiting for %s (%w); last check: %v%s", rootCause(logs...), what, ctx.Err(), err, tails.String())
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// register runs the one-shot `refstack register` that writes the agent registry.
func (c *Cluster) register(ctx context.Context) error {
	args := []string{"register", "--etcd", strings.Join(c.eps.Etcd, ","),
		"--regions", strings.Join(c.spec.Regions, ","), "--agents", strconv.Itoa(c.spec.Agents)}
	var placement []string
	for _, r := range c.spec.Regions {
		if n, ok := c.spec.Placement[r]; ok {
			placement = append(placement, r+"="+strconv.Itoa(n))
		}
	}
	if len(placement) > 0 {
		args = append(args, "--placement", strings.Join(placement, ","))
	}
	log := filepath.Join(c.eps.Logs, "register.log")
	c.progress(fmt.Sprintf("registering %d agents", c.spec.Agents))
	ch, err := startChild(c.refstack, args, []string{EnvMarker + "=" + c.runDir}, c.runDir, log)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	// Whatever happens below, the one-shot process does not outlive this call.
	defer func() { _, _ = ch.stop(context.WithoutCancel(ctx), 0) }()
	t := time.NewTimer(registerTimeout)
	defer t.Stop()
	select {
	case <-ch.done:
		if ch.err != nil {
			return fmt.Errorf("%sregister failed (%v); last lines of %s:\n%s", rootCause(log), ch.err, log, logTail(log, 20))
		}
		return nil
	case <-t.C:
		return fmt.Errorf("register did not finish within %v; last lines of %s:\n%s", registerTimeout, log, logTail(log, 20))
	case <-ctx.Done():
		return fmt.Errorf("register: %w", context.Cause(ctx))
	}
}

// awaitOwners waits until the router reports an owner for every registered agent.
func (c *Cluster) awaitOwners(ctx context.Context) error {
	c.progress(fmt.Sprintf("waiting for owners of %d agents", c.spec.Agents))
	ctx, cancel := context.WithTimeout(ctx, ownersTimeout)
	defer cancel()
	logs := []string{filepath.Join(c.eps.Logs, "router.log")}
	for _, r := range c.spec.Regions {
		logs = append(logs, filepath.Join(c.eps.Logs, r+"-host.log"))
	}
	check := func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		owners, err := spec.RouterOwners(rctx, c.client, c.eps.StatusRouter())
		if err != nil {
			return err
		}
		var missing []string
		for i := range c.spec.Agents {
			if o, ok := owners[api.AgentID(i)]; !ok || o.Region == "" {
				missing = append(missing, api.AgentID(i))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d agents have no owner: %s", len(missing), c.spec.Agents, strings.Join(missing, ","))
		}
		return nil
	}
	var all []watched
	c.mu.Lock()
	for _, s := range c.services {
		all = append(all, watched{s, s.cur})
	}
	c.mu.Unlock()
	return c.await(ctx, "an owner for every agent", check, all, logs...)
}

// writeState records the endpoints in RunDir/cluster.json (rundir.ClusterFile), for people and tools attaching
// to a running cluster.
func (c *Cluster) writeState() error {
	b, err := json.MarshalIndent(c.Endpoints(), "", "  ")
	if err != nil {
		return fmt.Errorf("cluster state: %w", err)
	}
	p := filepath.Join(c.runDir, rundir.ClusterFile)
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cluster state: %w", err)
	}
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
		if s.cur == nil || !s.cur.running() {
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
					killed, err := s.cur.stop(ctx, stopGrace)
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

// region returns the region's services if the cluster is up.
func (c *Cluster) region(region string) ([]*service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != up {
		return nil, errors.New("local cluster is not up")
	}
	var out []*service
	for _, s := range c.services {
		if s.region == region {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no region %q (regions: %s)", region, strings.Join(c.spec.Regions, ", "))
	}
	return out, nil
}

// KillRegion SIGKILLs the region's etcd member, MinIO and host all at once, as a power
// loss would, and returns once every one of them has exited and been reaped. Region ""
// is the router.
func (c *Cluster) KillRegion(ctx context.Context, region string) error {
	if l, ok := c.regionOps[region]; ok {
		l.Lock()
		defer l.Unlock()
	}
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	svcs, err := c.region(region)
	if err != nil {
		return fmt.Errorf("kill region: %w", err)
	}
	var victims []*child
	c.mu.Lock()
	for _, s := range svcs {
		if s.cur != nil && s.cur.running() {
			victims = append(victims, s.cur)
		}
	}
	c.mu.Unlock()
	c.progress("killing region " + region)
	for _, ch := range victims {
		if err := ch.signal(syscall.SIGKILL); err != nil && !errors.Is(err, errFinished) {
			return fmt.Errorf("kill region %s: %w", region, err)
		}
	}
	for _, ch := range victims {
		select {
		case <-ch.done:
		case <-ctx.Done():
			return fmt.Errorf("kill region %s: pid %d still not gone: %w", region, ch.pid, context.Cause(ctx))
		}
	}
	c.progress(fmt.Sprintf("region %s killed (%d processes)", region, len(victims)))
	return nil
}

// RestoreRegion restarts whatever of the region is not running, on the same ports and data
// directories (the etcd member rejoins with --initial-cluster-state existing), and returns
// once etcd, MinIO and the host answer their health checks. It also brings back a single
// service that crashed or was SIGKILLed through Signal. Region "" is the router.
func (c *Cluster) RestoreRegion(ctx context.Context, region string) error {
	if l, ok := c.regionOps[region]; ok {
		l.Lock()
		defer l.Unlock()
	}
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	svcs, err := c.region(region)
	if err != nil {
		return fmt.Errorf("restore region: %w", err)
	}
	var storage, hosts []*service
	for _, s := range svcs {
		if s.name == api.ServiceHost {
			hosts = append(hosts, s)
		} else {
			storage = append(storage, s)
		}
	}
	c.progress("restoring region " + region)
	if err := c.startAndAwait(ctx, storage, svcs, true); err != nil {
		return fmt.Errorf("restore region %s: %w", region, err)
	}
	if err := c.startAndAwait(ctx, hosts, svcs, true); err != nil {
		return fmt.Errorf("restore region %s: %w", region, err)
	}
	c.progress("region " + region + " restored")
	return nil
}

// Signal sends sig to the process group of one service: api.ServiceEtcd, ServiceMinIO or
// ServiceHost of region, or ServiceRouter with region "". SIGSTOP/SIGCONT make a grey
// failure; a process killed this way comes back with RestoreRegion.
func (c *Cluster) Signal(region, name string, sig syscall.Signal) error {
	c.mu.Lock()
	var target *service
	for _, s := range c.services {
		if s.region == region && s.name == name {
			target = s
		}
	}
	var ch *child
	if target != nil {
		ch = target.cur
	}
	running := c.state == up
	c.mu.Unlock()
	switch {
	case !running:
		return errors.New("signal: local cluster is not up")
	case target == nil:
		return fmt.Errorf("signal: no service %q in region %q", name, region)
	case ch == nil || !ch.running():
		return fmt.Errorf("signal %v: %s is not running", sig, target)
	}
	if err := ch.signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, target, err)
	}
	return nil
}

// Owners is the router's view of who owns each agent.
func (c *Cluster) Owners(ctx context.Context) (map[string]api.Owner, error) {
	c.mu.Lock()
	router := c.eps.StatusRouter()
	c.mu.Unlock()
	if router == "" {
		return nil, errors.New("owners: local cluster is not up")
	}
	return spec.RouterOwners(ctx, c.client, router)
}

// Process describes one service process as last started.
type Process struct {
	Region  string // "" for the router
	Service string
	PID     int
	Running bool
	Log     string
}

// Processes lists every service that has been started, in start order.
func (c *Cluster) Processes() []Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Process
	for _, s := range c.services {
		if s.cur == nil {
			continue
		}
		out = append(out, Process{Region: s.region, Service: s.name, PID: s.cur.pid, Running: s.cur.running(), Log: s.log})
	}
	return out
}

// probes

func (c *Cluster) get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

func (c *Cluster) get200(ctx context.Context, url string) error {
	code, body, err := c.get(ctx, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %.200s", url, code, body)
	}
	return nil
}

func (c *Cluster) etcdHealthy(ctx context.Context, endpoint string) error {
	url := "http://" + endpoint + "/health"
	code, body, err := c.get(ctx, url)
	if err != nil {
		return err
	}
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Health != "true" {
		return fmt.Errorf("GET %s: status %d: %.200s", url, code, body)
	}
	return nil
}
