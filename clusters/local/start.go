package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/rundir"
)

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
	var ch Proc
	var err error
	if c.net.Start != nil {
		ch, err = c.net.Start(Service{Region: s.region, Name: s.name, Path: s.path, Args: s.args(restart), Env: s.env, Dir: c.runDir, Log: s.log})
	} else {
		path, args := c.command(s, restart)
		ch, err = startChild(path, args, s.env, c.runDir, s.log)
	}
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
		if s.cur != nil && s.cur.Running() {
			continue
		}
		if err := c.start(s, restart); err != nil {
			return err
		}
	}
	var running []watched
	c.mu.Lock()
	for _, s := range watch {
		if s.cur != nil && s.cur.Running() {
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
	child Proc
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
			if !w.child.Running() {
				return fmt.Errorf("%s%s exited (%v) while waiting for %s; last lines of %s:\n%s",
					rootCause(w.svc.log), w.svc, exitText(w.child.Err()), what, w.svc.log, LogTail(w.svc.log, 20))
			}
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
			}
			var tails strings.Builder
			for _, l := range logs {
				fmt.Fprintf(&tails, "\nlast lines of %s:\n%s", l, LogTail(l, 10))
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
	args = append(args, c.tlsArgs()...)
	log := filepath.Join(c.eps.Logs, "register.log")
	c.progress(fmt.Sprintf("registering %d agents", c.spec.Agents))
	ch, err := startChild(c.refstack, args, []string{EnvMarker + "=" + c.runDir}, c.runDir, log)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	// Whatever happens below, the one-shot process does not outlive this call.
	defer func() { _, _ = ch.Stop(context.WithoutCancel(ctx), 0) }()
	t := time.NewTimer(registerTimeout)
	defer t.Stop()
	select {
	case <-ch.Done():
		if ch.Err() != nil {
			return fmt.Errorf("%sregister failed (%v); last lines of %s:\n%s", rootCause(log), ch.Err(), log, LogTail(log, 20))
		}
		return nil
	case <-t.C:
		return fmt.Errorf("register did not finish within %v; last lines of %s:\n%s", registerTimeout, log, LogTail(log, 20))
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
		owners, err := clusters.RouterOwnersWith(rctx, c.client, c.eps.StatusRouter())
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
	// 0600: it holds the run's MinIO secret key.
	if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("cluster state: %w", err)
	}
	return nil
}
