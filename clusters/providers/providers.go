// Package providers is the explicit table of places a stack can run: each provider's name,
// constructor, whether this machine can run it, and how to clean up after a killed harness.
// It is the only package that knows every provider; the drill and the CLI come here, and
// the providers themselves import only package clusters.
package providers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/described"
	"github.com/geodrill/geodrill/clusters/docker"
	"github.com/geodrill/geodrill/clusters/kind"
	kindcluster "github.com/geodrill/geodrill/clusters/kind/cluster"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/clusters/netns"
	"github.com/geodrill/geodrill/faults"
)

// Provider is one place a stack can run.
type Provider struct {
	Name  string
	About string
	New   func(spec clusters.Spec) (clusters.Cluster, error)
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
			New: func(s clusters.Spec) (clusters.Cluster, error) {
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
			New: func(s clusters.Spec) (clusters.Cluster, error) {
				c, err := local.New(s)
				if err != nil {
					return nil, err // not a typed nil inside the interface
				}
				return c, nil
			},
		},
		{
			// Never picked by "auto" (it needs kind, kubectl and Docker on PATH).
			Name:    "kind",
			About:   "one kind cluster per region, faults as Chaos Mesh resources (where registries are reachable)",
			Usable:  kind.Available,
			Cleanup: kindCleanup,
			New: func(s clusters.Spec) (clusters.Cluster, error) {
				c, err := kindcluster.New(s)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
		},
		{
			// Last: "auto" never picks it (local is always usable), and its cleanup runs
			// first, removing the containers before netns looks at the namespaces they held.
			Name:    "docker",
			About:   "root + Docker: every service in a container (testcontainers-go), images built locally; netns's exact partitions",
			Usable:  func() error { return docker.Available(context.Background()) },
			Cleanup: dockerCleanup,
			New: func(s clusters.Spec) (clusters.Cluster, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				c, err := docker.New(ctx, s)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
		},
	}
}

// dockerCleanup removes the containers, networks and namespace attachments of docker
// clusters whose harness is gone; with no Docker daemon there is nothing of ours to find.
func dockerCleanup(ctx context.Context, _ []string, say func(string)) error {
	if docker.Available(ctx) != nil {
		return nil
	}
	removed, err := docker.Cleanup(ctx)
	sayRemoved(say, removed, err, "no geodrill containers or networks left")
	return err
}

// kindCleanup deletes the pods and Chaos Mesh resources dead harnesses left in the
// regions' kind clusters; without kind there is nothing of ours to find.
func kindCleanup(ctx context.Context, _ []string, say func(string)) error {
	if kind.Available() != nil {
		return nil
	}
	removed, err := kindcluster.Cleanup(ctx)
	sayRemoved(say, removed, err, "no geodrill pods or Chaos Mesh resources left in kind clusters")
	return err
}

// sayRemoved tells what a cleanup removed, or that there was nothing (when it did not fail).
func sayRemoved(say func(string), removed []string, err error, nothing string) {
	if len(removed) > 0 {
		say("removed " + strings.Join(removed, ", "))
	} else if err == nil {
		say(nothing)
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
	sayRemoved(say, removed, err, "no geodrill namespaces or links left")
	if err != nil {
		return fmt.Errorf("%w (remove them by hand with `ip netns del` / `ip link del`)", err)
	}
	return nil
}

// What each provider can do, kept so by the compiler: the fault capabilities it offers
// (each fault kind's Realise asks for them by type assertion) and the owner view.
var (
	_ interface {
		clusters.Cluster
		clusters.Observer
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.IsolateControl
		faults.LinkControl
		faults.ClockControl
		faults.ObjectStores
		faults.ReplyLossControl
		faults.SlowRepliesControl
		faults.CertControl
	} = (*local.Cluster)(nil)
	_ interface {
		clusters.Cluster
		clusters.Observer
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.NetworkControl
		faults.LinkControl
		faults.ClockControl
		faults.ObjectStores
		faults.ReplyLossControl
		faults.CertControl
		faults.ServiceUnits // docker's note on its containers
	} = (*netns.Cluster)(nil)
	_ interface {
		clusters.Cluster
		clusters.Observer
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.NetworkControl
		faults.LinkControl
		faults.ClockControl
		faults.ObjectStores
		faults.SlowRepliesControl
		faults.CertControl
		faults.Unsupported  // what kind cannot do, though it has the capability (pause)
		faults.ServiceUnits // pods
	} = (*kindcluster.Cluster)(nil)
	_ interface {
		clusters.Cluster
		clusters.Observer
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.ServiceUnits
	} = (*described.Cluster)(nil)
	_ interface {
		clusters.Cluster
		faults.RegionControl
		faults.ServiceControl
		faults.ServiceHealth
		faults.NetworkControl
		faults.LinkControl
		faults.ServiceUnits
	} = (*netns.System)(nil)
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

// ResolveFor is Resolve for a stack: a described system's "" and "auto" are local (the
// netns provider runs one only when asked for by name).
func ResolveFor(name string, described bool) string {
	if described && (name == "" || name == "auto") {
		return "local"
	}
	return Resolve(name)
}

// New builds a cluster of the named provider; "" and "auto" pick the first provider that
// can run here (see Resolve). It does not start anything: call Up.
func New(name string, s clusters.Spec) (clusters.Cluster, error) {
	if s.System != nil {
		// A described system runs as processes on this machine: on 127.0.0.1 (local, also
		// for "auto"), or in a namespace per region (netns, asked for by name).
		switch ResolveFor(name, true) {
		case "local":
			c, err := described.New(s)
			if err != nil {
				return nil, err
			}
			return c, nil
		case "netns":
			c, err := netns.NewSystem(s)
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		return nil, fmt.Errorf("provider %s: the described system %s runs on the local or netns provider only", name, s.System.Name)
	}
	providers := Providers()
	name = Resolve(name)
	names := []string{"auto"}
	for _, p := range providers {
		if p.Name == name {
			return p.New(s)
		}
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("unknown provider %q (valid: %s)", name, strings.Join(names, ", "))
}
