// Package clusters is where a reference stack runs: a small Cluster interface (up,
// endpoints, down), the separate capabilities a fault asks for by type assertion
// (declared once, in package faults, where they are used; Observer here, for the drill),
// and the explicit table of providers.
//
// Providers live in subpackages (clusters/local, ...). The shared data types are defined in
// clusters/internal/spec so providers can use them without importing this package, which
// imports them for the registry; the aliases below are the names to use.
package clusters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/geodrill/geodrill/clusters/internal/spec"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/clusters/netns"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// Spec is the topology and stack configuration to bring up. See the field docs in
// clusters/internal/spec: Regions, Agents, Placement, Stack (refstack/config), BinDir,
// RunDir, Progress.
type Spec = spec.Spec

// Endpoints is where a running stack answers: Router URL, per-region endpoints, every etcd
// client endpoint, MinIO credentials and bucket, the logs directory.
type Endpoints = spec.Endpoints

// RegionEndpoints is one region's etcd (host:port), MinIO (host:port) and host (URL).
type RegionEndpoints = spec.RegionEndpoints

// Object store credentials and bucket of the reference stack.
const (
	MinIOUser     = spec.MinIOUser
	MinIOPassword = spec.MinIOPassword
	Bucket        = spec.Bucket
)

// Cluster is a stack that can be brought up and down.
type Cluster interface {
	// Up starts every service and returns when the router knows an owner for every agent.
	Up(ctx context.Context) error
	// Endpoints is valid after a successful Up.
	Endpoints() Endpoints
	// Down stops everything Up started. It is idempotent and safe after a failed Up; it
	// still cleans up when ctx is already cancelled (it then skips the graceful wait).
	Down(ctx context.Context) error
}

// Observer reads what the stack reports about itself.
type Observer interface {
	// Owners is the router's view: agent -> owner, for every agent that has one.
	Owners(ctx context.Context) (map[string]api.Owner, error)
}

// RouterOwners reads the owners from a router's /status (api.RouterStatus); a provider
// without its own Observer can use it with Endpoints().Router.
func RouterOwners(ctx context.Context, routerURL string) (map[string]api.Owner, error) {
	return spec.RouterOwners(ctx, &http.Client{Timeout: 5 * time.Second}, routerURL)
}

// FindBinDir resolves the directory holding the refstack and minio binaries: explicit,
// else $GEODRILL_BIN, else <module root>/bin, else the running executable's directory.
func FindBinDir(explicit string) (string, error) { return spec.FindBinDir(explicit) }

// Provider is one place a stack can run.
type Provider struct {
	Name  string
	About string
	New   func(spec Spec) (Cluster, error)
	// Usable is nil when this machine can run the provider, else why not; nil func: always.
	Usable func() error
	// Cleanup removes what a killed harness left behind with this provider (the processes
	// of runDirs, namespaces, links), saying what it removed; nil: nothing to clean.
	Cleanup func(ctx context.Context, runDirs []string, say func(string)) error
}

// Cleanup runs every provider's cleanup, the last provider first (local kills a run's
// processes before netns removes the namespaces they ran in), and joins their errors.
func Cleanup(ctx context.Context, runDirs []string, say func(string)) error {
	ps := Providers()
	var errs []error
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Cleanup == nil {
			continue
		}
		if err := ps[i].Cleanup(ctx, runDirs, say); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ps[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

// Providers is every provider, in the order "auto" tries them.
func Providers() []Provider {
	return []Provider{
		{
			Name:    "netns",
			About:   "root: one network namespace per region, exact pairwise partitions with nftables",
			Usable:  netns.Available,
			Cleanup: netnsCleanup,
			New: func(s Spec) (Cluster, error) {
				c, err := netns.New(s)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
		},
		{
			Name:    "local",
			About:   "rootless child processes on 127.0.0.1 with free ports; logs in the run dir",
			Cleanup: localCleanup,
			New: func(s Spec) (Cluster, error) {
				c, err := local.New(s)
				if err != nil {
					return nil, err // not a typed nil inside the interface
				}
				return c, nil
			},
		},
	}
}

// localCleanup kills the processes each run directory's pid files name.
func localCleanup(_ context.Context, runDirs []string, say func(string)) error {
	for _, dir := range runDirs {
		pids, err := local.KillLeftovers(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		say(fmt.Sprintf("%s: killed %d leftover processes %v", dir, len(pids), pids))
	}
	return nil
}

// netnsCleanup removes geodrill's network namespaces, bridges and veths (their nftables
// rules live inside the namespaces and go with them); only root can have made them.
func netnsCleanup(ctx context.Context, _ []string, say func(string)) error {
	if os.Geteuid() != 0 {
		say("not root: skipping network namespaces (only the netns provider, as root, creates them)")
		return nil
	}
	removed, err := netns.Cleanup(ctx)
	if len(removed) > 0 {
		say("removed " + strings.Join(removed, ", "))
	} else if err == nil {
		say("no geodrill namespaces or links left")
	}
	if err != nil {
		return fmt.Errorf("%w (remove them by hand with `ip netns del` / `ip link del`)", err)
	}
	return nil
}

// What each provider can do, kept so by the compiler: the fault capabilities it offers
// (each fault kind's Realise asks for them by type assertion) and the owner view.
var (
	_ interface {
		Cluster
		Observer
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.IsolateControl
		faults.LinkControl
		faults.ClockControl
		faults.ObjectStores
		faults.ReplyLossControl
		faults.SlowRepliesControl
	} = (*local.Cluster)(nil)
	_ interface {
		Cluster
		Observer
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.NetworkControl
		faults.LinkControl
		faults.ClockControl
		faults.ObjectStores
		faults.ReplyLossControl
	} = (*netns.Cluster)(nil)
)

// Resolve names the provider that name stands for here: "" and "auto" become the first
// usable provider (netns as root with ip and nft, else local); other names are returned.
func Resolve(name string) string {
	if name != "" && name != "auto" {
		return name
	}
	for _, p := range Providers() {
		if p.Usable == nil || p.Usable() == nil {
			return p.Name
		}
	}
	return "local"
}

// New builds a cluster of the named provider; "" and "auto" pick the first provider that
// can run here (see Resolve). It does not start anything: call Up.
func New(name string, s Spec) (Cluster, error) {
	providers := Providers()
	name = Resolve(name)
	names := []string{"auto"}
	for _, p := range providers {
		if p.Name == name {
			return p.New(s)
		}
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("clusters: unknown provider %q (valid: %s)", name, strings.Join(names, ", "))
}

// DownTimeout bounds the Down that With runs after fn.
const DownTimeout = 60 * time.Second

// With brings c up, runs fn, and brings c down whatever happens: fn returning, fn or Up
// failing, fn panicking (Down runs, then the panic continues), or ctx being cancelled, e.g.
// by SIGINT through signal.NotifyContext. Down gets a fresh context because ctx may be the
// very thing that was cancelled. Down errors are joined to the returned error.
func With(ctx context.Context, c Cluster, fn func(ctx context.Context) error) (err error) {
	defer func() {
		p := recover()
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DownTimeout)
		defer cancel()
		if derr := c.Down(downCtx); derr != nil {
			err = errors.Join(err, fmt.Errorf("cluster down: %w", derr))
		}
		if p != nil {
			panic(p)
		}
	}()
	if err := c.Up(ctx); err != nil {
		return fmt.Errorf("cluster up: %w", err)
	}
	return fn(ctx)
}
