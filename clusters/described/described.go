// Package described runs a described system (package system) on this machine, the way the
// local provider runs the reference stack: every service of every region a child process
// of the harness on 127.0.0.1 with ports of its own, the adapter beside them, logs in the
// run directory. It offers the capabilities that act on processes (region outage, crash,
// pause); what acts on the reference stack's insides is not there, and the faults that
// need it say so.
package described

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/system"
)

// AdapterName is the adapter's name in ports, logs and progress.
const AdapterName = "adapter"

// EnvService marks every process of a service, and what it starts, whatever session or
// parent it ends up with (Patroni double-forks PostgreSQL away from itself; the
// environment is inherited): kill and pause find them all by it.
const EnvService = "GEODRILL_SERVICE"

// readyTimeout bounds waiting for one service to be healthy.
const readyTimeout = 60 * time.Second

// Cluster is a described system on this machine.
type Cluster struct {
	spec     clusters.Spec
	d        *system.Described
	progress func(string)
	net      local.Network // where each region's services run (zero: here, on 127.0.0.1)

	ops       sync.Mutex             // serialises Up and Down
	regionOps map[string]*sync.Mutex // serialise KillRegion and RestoreRegion per region

	mu     sync.Mutex
	up     bool
	downed bool
	layout system.Layout
	logs   string
	procs  map[string]map[string]local.Proc // service → region → its process ("adapter" → "")
	eps    clusters.Endpoints
}

// NewIn is New with each region's services placed by n: listening on n.IP(region) and
// started through n.Command (clusters/netns runs them in the region's namespace). The
// adapter stays beside the harness. A fabric that starts services itself (n.Start) is not
// supported.
func NewIn(s clusters.Spec, n local.Network) (*Cluster, error) {
	if n.Start != nil {
		return nil, errors.New("described system: services started by a fabric (containers) are not supported; " +
			"use provider local or netns")
	}
	c, err := New(s)
	if err != nil {
		return nil, err
	}
	c.net = n
	return c, nil
}

// New checks the description and the machine (every command on PATH); it starts nothing.
func New(s clusters.Spec) (*Cluster, error) {
	if s.System == nil {
		return nil, errors.New("described: no system in the spec")
	}
	if ps := s.System.ProblemsAt("system."); len(ps) > 0 {
		return nil, fmt.Errorf("described system: %s: %s (%s)", ps[0].Field, ps[0].Msg, ps[0].Fix)
	}
	if len(s.Regions) == 0 || s.Agents < 1 {
		return nil, errors.New("described system: needs regions and at least one agent")
	}
	bin, err := clusters.FindBinDir(s.BinDir)
	if err != nil {
		return nil, err
	}
	s.BinDir = bin
	c := &Cluster{spec: s, d: s.System, progress: s.Progress, regionOps: map[string]*sync.Mutex{"": {}},
		procs: map[string]map[string]local.Proc{}}
	if c.progress == nil {
		c.progress = func(string) {}
	}
	for _, r := range s.Regions {
		c.regionOps[r] = &sync.Mutex{}
	}
	// Every command must be there before anything starts.
	example := system.Layout{Regions: s.Regions, Agents: s.Agents, Bin: bin, Ports: map[string]map[string]int{}}
	for _, svc := range append(append([]system.Service(nil), s.System.Services...), s.System.Adapter) {
		r, err := svc.Render(example.For(svc.Name, s.Regions[0]))
		if err != nil {
			continue // a template over ports: checked again at Up
		}
		if _, err := exec.LookPath(r.Command); err != nil {
			return nil, fmt.Errorf("described system %s: service %s: %w (install it: make ha-tools installs the "+
				"systems the project's scenarios drill)", s.System.Name, svc.Name, err)
		}
	}
	return c, nil
}

// Up picks the ports, writes each service's files, starts the services service by service
// (each in every region, then waits until all are healthy), then the adapter, and returns
// once the adapter serves and names an owner for every agent. On failure Down (which
// callers run) stops what started.
func (c *Cluster) Up(ctx context.Context) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	if c.up || c.downed {
		c.mu.Unlock()
		return errors.New("described system: already up or brought down")
	}
	c.up = true
	c.mu.Unlock()
	began := time.Now()
	runDir := c.spec.RunDir
	if runDir == "" {
		d, err := os.MkdirTemp("", "geodrill-described-")
		if err != nil {
			return err
		}
		runDir = d
	}
	runDir, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	logs := filepath.Join(runDir, rundir.LogsDir)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	var names []string
	for _, s := range c.d.Services {
		names = append(names, s.PortNames()...)
	}
	ports, err := local.PickPorts(1 + len(names)*len(c.spec.Regions))
	if err != nil {
		return err
	}
	layout := system.Layout{Regions: c.spec.Regions, Agents: c.spec.Agents, Bin: c.spec.BinDir, RunDir: runDir,
		Ports: map[string]map[string]int{AdapterName: {"": ports[0]}}}
	if c.net.IP != nil {
		layout.IPs = map[string]string{}
		for _, r := range c.spec.Regions {
			layout.IPs[r] = c.net.IP(r)
		}
	}
	i := 1
	for _, name := range names {
		layout.Ports[name] = map[string]int{}
		for _, r := range c.spec.Regions {
			layout.Ports[name][r] = ports[i]
			i++
		}
	}
	eps := clusters.Endpoints{Regions: map[string]clusters.RegionEndpoints{}, Logs: logs}
	for _, r := range c.spec.Regions {
		var health []string
		for _, s := range c.d.Services {
			health = append(health, healthURL(s, layout.For(s.Name, r)))
		}
		eps.Regions[r] = clusters.RegionEndpoints{Health: health}
	}
	adapter := layout.ForAdapter()
	eps.Router = "http://" + adapter.Addr
	eps.Routers = []string{eps.Router}
	c.mu.Lock()
	c.layout, c.logs, c.eps = layout, logs, eps
	c.mu.Unlock()

	for _, s := range c.d.Services {
		if err := c.startAll(ctx, s, c.spec.Regions); err != nil {
			return err
		}
	}
	if err := c.startAll(ctx, c.d.Adapter, []string{""}); err != nil {
		return err
	}
	if err := c.awaitOwners(ctx); err != nil {
		return err
	}
	c.progress(fmt.Sprintf("%s up in %.1fs (logs in %s)", c.d.Name, time.Since(began).Seconds(), logs))
	return nil
}

// healthURL is how a service's health is checked: tcp:// its address, or http:// its path.
func healthURL(s system.Service, v system.Vars) string {
	if strings.HasPrefix(s.Health, "/") {
		return "http://" + v.Addr + s.Health
	}
	return "tcp://" + v.Addr
}

// startAll starts service s in each region (region "" is the adapter) and waits until all
// of them are healthy; a process that exits meanwhile fails it with its log's last lines.
func (c *Cluster) startAll(ctx context.Context, s system.Service, regions []string) error {
	for _, r := range regions {
		if err := c.start(s, r); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, r := range regions {
		if err := c.await(ctx, s, r); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) vars(s system.Service, region string) system.Vars {
	c.mu.Lock()
	defer c.mu.Unlock()
	if region == "" {
		return c.layout.ForAdapter()
	}
	return c.layout.For(s.Name, region)
}

func (c *Cluster) logOf(s system.Service, region string) string {
	if region == "" {
		return filepath.Join(c.logs, AdapterName+".log")
	}
	return filepath.Join(c.logs, region+"-"+s.Name+".log")
}

func label(s system.Service, region string) string {
	if region == "" {
		return AdapterName
	}
	return s.Name + " " + region
}

// start renders s for region, writes its files unless a previous start left them (the
// service may have rewritten them: Sentinel does), and starts it.
func (c *Cluster) start(s system.Service, region string) error {
	v := c.vars(s, region)
	r, err := s.Render(v)
	if err != nil {
		return fmt.Errorf("%s: %w", label(s, region), err)
	}
	if err := os.MkdirAll(filepath.Dir(v.Dir), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		return err
	}
	var owner *user.User
	if s.User != "" {
		if owner, err = user.Lookup(s.User); err != nil {
			return fmt.Errorf("%s: user %s: %w", label(s, region), s.User, err)
		}
	}
	for name, content := range r.Files {
		p := filepath.Join(v.Dir, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return err
		}
	}
	path, err := exec.LookPath(r.Command)
	if err != nil {
		return fmt.Errorf("%s: %w", label(s, region), err)
	}
	args := r.Args
	if owner != nil {
		// Its directory becomes the user's; setpriv execs the command as the user (no fork:
		// the supervisor's signals reach it).
		if err := chownTree(v.Dir, owner); err != nil {
			return fmt.Errorf("%s: %w", label(s, region), err)
		}
		if err := reachable(filepath.Dir(v.Dir)); err != nil {
			return fmt.Errorf("%s runs as %s: %w", label(s, region), s.User, err)
		}
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			return fmt.Errorf("%s: user %s needs setpriv (util-linux): %w", label(s, region), s.User, err)
		}
		args = append([]string{"--reuid=" + owner.Uid, "--regid=" + owner.Gid, "--init-groups", "--", path}, args...)
		path = setpriv
	}
	if region != "" && c.net.Command != nil {
		path, args = c.net.Command(region, path, args)
	}
	marker := c.marker(s.Name, region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.downed {
		return fmt.Errorf("start %s: the system is going down", label(s, region))
	}
	c.progress("starting " + label(s, region))
	p, err := local.StartChild(local.Service{Region: region, Name: s.Name, Path: path, Args: args, Dir: v.Dir,
		Log: c.logOf(s, region), Env: []string{EnvService + "=" + marker, local.EnvMarker + "=" + c.layout.RunDir}})
	if err != nil {
		return fmt.Errorf("%s: %w", label(s, region), err)
	}
	if c.procs[s.Name] == nil {
		c.procs[s.Name] = map[string]local.Proc{}
	}
	c.procs[s.Name][region] = p
	return nil
}

// reachable says whether any user can walk down to dir: every directory on the way lets
// others search it.
func reachable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is %v: other users cannot enter it, so cannot reach the run directory "+
				"(chmod o+x it, or use --out under a directory they can enter)", d, st.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// chownTree makes dir and what it holds u's.
func chownTree(dir string, u *user.User) error {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// marker is the value of EnvService for one service of this run.
func (c *Cluster) marker(name, region string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.layout.RunDir + "|" + region + "|" + name
}

// members are the processes carrying service name of region's marker, but pid (the
// service's own process, which the supervisor signals).
func (c *Cluster) members(name, region string, pid int) []int {
	marked, _ := local.Marked(EnvService + "=" + c.marker(name, region))
	return slices.DeleteFunc(marked, func(p int) bool { return p == pid })
}

func (c *Cluster) proc(name, region string) local.Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name][region]
}

// await waits until s in region is healthy, or its process has exited.
func (c *Cluster) await(ctx context.Context, s system.Service, region string) error {
	url := healthURL(s, c.vars(s, region))
	p := c.proc(s.Name, region)
	var last error
	for {
		if last = check(ctx, url); last == nil {
			c.progress(label(s, region) + " ready")
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%v) before it was healthy; last lines of %s:\n%s", label(s, region), p.Err(),
				c.logOf(s, region), local.LogTail(c.logOf(s, region), 15))
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy at %s: %v (log: %s)", label(s, region), url, last, c.logOf(s, region))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// check is one health check of a service: clusters.HealthStatus answering 200.
func check(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	code, err := clusters.HealthStatus(ctx, &http.Client{Transport: &http.Transport{Proxy: nil}}, url)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("status %d", code)
	}
	return err
}

// awaitOwners waits until the adapter's /status names an owner for every agent; an
// adapter without /status (404) is not waited for.
func (c *Cluster) awaitOwners(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		owners, err := c.Owners(ctx)
		if err == nil && len(owners) >= c.spec.Agents {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%d of %d agents have an owner", len(owners), c.spec.Agents)
		}
		if strings.Contains(err.Error(), "404") {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("the adapter names no owner for every agent: %v (log: %s)", last, c.logOf(c.d.Adapter, ""))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Endpoints is where the system answers (the adapter as the router); valid after Up.
func (c *Cluster) Endpoints() clusters.Endpoints {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eps
}

// Owners is the adapter's /status, read as a router's.
func (c *Cluster) Owners(ctx context.Context) (map[string]api.Owner, error) {
	return clusters.RouterOwners(ctx, c.Endpoints().Router)
}

// KillRegion SIGKILLs every service of region at once and waits until each has exited.
func (c *Cluster) KillRegion(ctx context.Context, region string) error {
	mu, ok := c.regionOps[region]
	if !ok {
		return fmt.Errorf("kill region: no region %q", region)
	}
	mu.Lock()
	defer mu.Unlock()
	var victims []local.Proc
	for _, s := range c.d.Services {
		if p := c.proc(s.Name, region); p != nil && p.Running() {
			victims = append(victims, p)
		}
	}
	c.progress("killing region " + region)
	var tree []int
	for _, s := range c.d.Services {
		if p := c.proc(s.Name, region); p != nil {
			tree = append(tree, c.members(s.Name, region, p.PID())...)
		}
	}
	for _, p := range victims {
		if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, local.ErrFinished) {
			return fmt.Errorf("kill region %s: %w", region, err)
		}
	}
	killAll(tree, syscall.SIGKILL)
	for _, p := range victims {
		select {
		case <-p.Done():
		case <-ctx.Done():
			return fmt.Errorf("kill region %s: %w", region, ctx.Err())
		}
	}
	if err := awaitGone(ctx, tree); err != nil {
		return fmt.Errorf("kill region %s: %w", region, err)
	}
	c.progress(fmt.Sprintf("region %s killed (%d processes)", region, len(victims)))
	return nil
}

// RestoreRegion starts whatever of region is not running, in the services' order, on the
// same ports and data, and waits until each is healthy.
func (c *Cluster) RestoreRegion(ctx context.Context, region string) error {
	mu, ok := c.regionOps[region]
	if !ok {
		return fmt.Errorf("restore region: no region %q", region)
	}
	mu.Lock()
	defer mu.Unlock()
	c.progress("restoring region " + region)
	for _, s := range c.d.Services {
		if p := c.proc(s.Name, region); p != nil && p.Running() {
			continue
		}
		if err := c.startAll(ctx, s, []string{region}); err != nil {
			return fmt.Errorf("restore region %s: %w", region, err)
		}
	}
	c.progress("region " + region + " restored")
	return nil
}

// Signal sends sig to one service of region and every process it started, whatever their
// session (Patroni starts PostgreSQL in one of its own; EnvService finds them): SIGSTOP and
// SIGCONT freeze and thaw all of it, SIGKILL kills all of it.
func (c *Cluster) Signal(region, service string, sig syscall.Signal) error {
	p := c.proc(service, region)
	if p == nil {
		return fmt.Errorf("no service %q in region %q (the system's services: %s)", service, region, c.serviceNames())
	}
	tree := c.members(service, region, p.PID())
	if sig == syscall.SIGCONT {
		killAll(tree, sig) // children first, so none waits on a frozen parent's signal
		return p.Signal(sig)
	}
	if err := p.Signal(sig); err != nil {
		return err
	}
	killAll(tree, sig)
	return nil
}

func killAll(pids []int, sig syscall.Signal) {
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
}

// awaitGone waits until none of pids exists (a zombie reaped by init counts as gone).
func awaitGone(ctx context.Context, pids []int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
			if err == nil && !strings.Contains(string(b), ") Z ") {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still there 10s after SIGKILL", left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ServiceHealthy checks one service of region.
func (c *Cluster) ServiceHealthy(ctx context.Context, region, service string) error {
	for _, s := range c.d.Services {
		if s.Name == service {
			return check(ctx, healthURL(s, c.vars(s, region)))
		}
	}
	return fmt.Errorf("no service %q (the system's services: %s)", service, c.serviceNames())
}

func (c *Cluster) serviceNames() string {
	var names []string
	for _, s := range c.d.Services {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// ServiceUnits is the process faults' note on what they act on.
func (c *Cluster) ServiceUnits() string {
	return "the described system " + c.d.Name + "'s processes (" + c.serviceNames() + " per region)"
}

// Down stops the adapter, then the services in reverse order, each with a 5s grace. It is
// idempotent and safe after a failed Up.
func (c *Cluster) Down(ctx context.Context) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	if c.downed {
		c.mu.Unlock()
		return nil
	}
	c.downed = true
	c.mu.Unlock()
	grace := 5 * time.Second
	if ctx.Err() != nil {
		grace = 0
	}
	var errs []error
	stop := func(name, region string) {
		if p := c.proc(name, region); p != nil && p.Running() {
			tree := c.members(name, region, p.PID())
			if _, err := p.Stop(ctx, grace); err != nil {
				errs = append(errs, fmt.Errorf("stop %s %s: %w", name, region, err))
			}
			// What it started in sessions of its own and did not stop with it.
			killAll(tree, syscall.SIGKILL)
			if err := awaitGone(context.WithoutCancel(ctx), tree); err != nil {
				errs = append(errs, fmt.Errorf("stop %s %s: %w", name, region, err))
			}
		}
	}
	stop(c.d.Adapter.Name, "")
	for i := len(c.d.Services) - 1; i >= 0; i-- {
		for _, r := range c.spec.Regions {
			stop(c.d.Services[i].Name, r)
		}
	}
	return errors.Join(errs...)
}
