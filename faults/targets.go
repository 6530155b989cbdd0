package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/geodrill/geodrill/refstack/api"
)

// Target selectors: region names a scenario may give wherever it gives a region, resolved
// at injection. The timeline records the region each resolved to.
const (
	// SelectBusiest: the region owning most agents.
	SelectBusiest = "busiest"
	// SelectEtcdLeader: the region whose etcd member is the etcd leader.
	SelectEtcdLeader = "etcd-leader"
	// SelectControllerLeader: the region of the failover controller leader.
	SelectControllerLeader = "controller-leader"
	// SelectControllerFollower: the busiest region that does not hold the controller
	// leader, for faults the leader must judge from outside.
	SelectControllerFollower = "controller-follower"
	// SelectHottestOwner: the region owning the workload's hottest agent.
	SelectHottestOwner = "hottest-owner"
	// SelectNewOwner: the region that just took over, named by the triggering event
	// (triggered faults only).
	SelectNewOwner = "new-owner"
)

// Selectors lists the selectors any fault may use; new-owner only with a trigger.
func Selectors() []string {
	return []string{SelectBusiest, SelectEtcdLeader, SelectControllerLeader, SelectControllerFollower,
		SelectHottestOwner, SelectNewOwner}
}

// resolveRegion turns a selector into the region it names right now; any other name is
// returned as is.
func resolveRegion(ctx context.Context, env Env, region string) (string, error) {
	switch region {
	case SelectBusiest:
		owners, err := readOwners(ctx, env, region)
		if err != nil {
			return "", err
		}
		r := busiest(owners)
		if r == "" {
			return "", fmt.Errorf("no agent has an owner: cannot pick the busiest region")
		}
		return r, nil
	case SelectHottestOwner:
		if env.HotAgent == "" {
			return "", errors.New("cannot resolve \"hottest-owner\": the run names no hottest agent")
		}
		owners, err := readOwners(ctx, env, region)
		if err != nil {
			return "", err
		}
		o, ok := owners[env.HotAgent]
		if !ok {
			return "", fmt.Errorf("cannot resolve \"hottest-owner\": %s has no owner now", env.HotAgent)
		}
		return o.Region, nil
	case SelectNewOwner:
		if env.Trigger == nil || env.Trigger.Region == "" {
			return "", errors.New("cannot resolve \"new-owner\": the fault was not triggered by an event naming an owner")
		}
		return env.Trigger.Region, nil
	case SelectEtcdLeader:
		return etcdLeaderRegion(ctx, env)
	case SelectControllerLeader:
		return controllerLeaderRegion(ctx, env)
	case SelectControllerFollower:
		leader, err := controllerLeaderRegion(ctx, env)
		if err != nil {
			return "", err
		}
		owners, err := readOwners(ctx, env, region)
		if err != nil {
			return "", err
		}
		r := busiestExcept(owners, leader, sortedRegions(env.Etcd))
		if r == "" {
			return "", fmt.Errorf("cannot resolve %q: no region besides the controller leader's (%s)", region, leader)
		}
		return r, nil
	}
	return region, nil
}

// busiestExcept is the region owning most agents other than except; with no such owner,
// the first of regions other than except ("" when there is none).
func busiestExcept(owners map[string]api.Owner, except string, regions []string) string {
	rest := map[string]api.Owner{}
	for a, o := range owners {
		if o.Region != except {
			rest[a] = o
		}
	}
	if r := busiest(rest); r != "" {
		return r
	}
	if o := others(regions, except); len(o) > 0 {
		return o[0]
	}
	return ""
}

func readOwners(ctx context.Context, env Env, selector string) (map[string]api.Owner, error) {
	if env.Owners == nil {
		return nil, fmt.Errorf("cannot resolve %q: no owner view", selector)
	}
	owners, err := env.Owners(ctx)
	if err != nil {
		return nil, fmt.Errorf("read owners to resolve %q: %w", selector, err)
	}
	return owners, nil
}

// etcdClient connects to every region's etcd member; the caller closes it.
func etcdClient(env Env) (*clientv3.Client, error) {
	if len(env.Etcd) == 0 {
		return nil, errors.New("the run gives no etcd endpoints")
	}
	eps := make([]string, 0, len(env.Etcd))
	for _, r := range sortedRegions(env.Etcd) {
		eps = append(eps, env.Etcd[r])
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second, TLS: env.TLS, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", eps, err)
	}
	return cli, nil
}

func sortedRegions[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// memberStatus is what one etcd member says about itself and its leader.
type memberStatus struct {
	ID, Leader uint64
}

// etcdLeaderRegion asks every region's member for its status (Maintenance.Status).
func etcdLeaderRegion(ctx context.Context, env Env) (string, error) {
	cli, err := etcdClient(env)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", SelectEtcdLeader, err)
	}
	defer cli.Close()
	st := map[string]memberStatus{}
	var errs []error
	for _, r := range sortedRegions(env.Etcd) {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cli.Status(sctx, env.Etcd[r])
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", r, err))
			continue
		}
		st[r] = memberStatus{ID: resp.Header.MemberId, Leader: resp.Leader}
	}
	r, err := leaderOf(st)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", SelectEtcdLeader, errors.Join(append([]error{err}, errs...)...))
	}
	return r, nil
}

// leaderOf finds the region whose member the members that answered agree is the leader.
func leaderOf(st map[string]memberStatus) (string, error) {
	votes := map[uint64]int{}
	for _, s := range st {
		if s.Leader != 0 {
			votes[s.Leader]++
		}
	}
	var leader uint64
	for id, n := range votes {
		if n > votes[leader] || (n == votes[leader] && id < leader) {
			leader = id
		}
	}
	for _, r := range sortedRegions(st) {
		if leader != 0 && st[r].ID == leader {
			return r, nil
		}
	}
	if leader == 0 {
		return "", errors.New("no member knows a leader")
	}
	return "", fmt.Errorf("the leader %x is no region's member that answered", leader)
}

// controllerLeaderRegion reads the controller election: the oldest key under its prefix
// is the leader's, and its value is the leader's region.
func controllerLeaderRegion(ctx context.Context, env Env) (string, error) {
	cli, err := etcdClient(env)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", SelectControllerLeader, err)
	}
	defer cli.Close()
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cli.Get(gctx, api.ElectionPrefix(), clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("resolve %q: read %s: %w", SelectControllerLeader, api.ElectionPrefix(), err)
	}
	if len(resp.Kvs) == 0 {
		return "", fmt.Errorf("resolve %q: no controller leader (is the controller disabled?)", SelectControllerLeader)
	}
	return string(resp.Kvs[0].Value), nil
}

// others is every region of topology except the given ones, in order.
func others(topology []string, except ...string) []string {
	var out []string
	for _, r := range topology {
		if !slices.Contains(except, r) {
			out = append(out, r)
		}
	}
	return out
}

// majority is how many of n members make a quorum.
func majority(n int) int { return n/2 + 1 }

// Leader facts: where the etcd leader and the controller leader sit shapes a drill (a region
// outage that takes the etcd leader waits for an election) but is not drawn from the seed.
// The drill records them so a failing seed can be replayed on purpose with the etcd-leader
// and controller-leader selectors.
const (
	FactEtcdLeader       = "etcd_leader"
	FactControllerLeader = "controller_leader"
)

// Leaders names the regions holding the etcd leader and the controller leader now; a value
// that cannot be read says why ("unknown: ...").
func Leaders(ctx context.Context, env Env) map[string]string {
	out := map[string]string{}
	for fact, read := range map[string]func(context.Context, Env) (string, error){
		FactEtcdLeader:       etcdLeaderRegion,
		FactControllerLeader: controllerLeaderRegion,
	} {
		r, err := read(ctx, env)
		if err != nil {
			r = "unknown: " + err.Error()
		}
		out[fact] = r
	}
	return out
}
