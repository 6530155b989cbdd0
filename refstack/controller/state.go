package controller

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/registry"
)

// agentState is one agent's registration, owner and target.
type agentState = registry.Ownership

type state struct{ agents []agentState }

// load counts owned agents per region.
func (s state) load() map[string]int {
	out := map[string]int{}
	for _, a := range s.agents {
		if a.Owner != nil {
			out[a.Owner.Region]++
		}
	}
	return out
}

// readState reads the registry, owners, epochs and targets.
func readState(ctx context.Context, cli *clientv3.Client) (state, error) {
	regs, err := registry.Load(ctx, cli)
	if err != nil {
		return state{}, err
	}
	agents, _, err := registry.LoadOwnership(ctx, cli, regs)
	if err != nil {
		return state{}, err
	}
	return state{agents: agents}, nil
}

func putTargets(ctx context.Context, cli *clientv3.Client, targets map[string]string) error {
	if len(targets) == 0 {
		return nil
	}
	ops := make([]clientv3.Op, 0, len(targets))
	for agent, region := range targets {
		ops = append(ops, clientv3.OpPut(api.TargetKey(agent), region))
	}
	for chunk := range slices.Chunk(ops, 100) {
		if _, err := cli.Txn(ctx).Then(chunk...).Commit(); err != nil {
			return fmt.Errorf("write target hints: %w", err)
		}
	}
	return nil
}

// failback hands every agent homed in region and owned elsewhere back to region, up to
// maxAgents on its host (0 = unlimited). Each handoff is one transaction guarded by the
// current owner's epoch and owner key revision: it deletes the owner key and names the home
// region as the target. The old owner stops serving when it sees the key gone; the home
// host's takeover bumps the epoch, fencing anything the old owner still tries. It returns
// how many agents were handed back.
func failback(ctx context.Context, cli *clientv3.Client, st state, region string, maxAgents int) (int, error) {
	load := st.load()
	n := 0
	for _, a := range st.agents {
		if a.Reg.Home != region || a.Owner == nil || a.Owner.Region == region {
			continue
		}
		if maxAgents > 0 && load[region] >= maxAgents {
			break
		}
		resp, err := cli.Txn(ctx).If(
			clientv3.Compare(clientv3.Value(api.EpochKey(a.Reg.Agent)), "=", strconv.FormatInt(a.Owner.Epoch, 10)),
			clientv3.Compare(clientv3.ModRevision(api.OwnerKey(a.Reg.Agent)), "=", a.OwnerModRev),
		).Then(
			clientv3.OpPut(api.TargetKey(a.Reg.Agent), region),
			clientv3.OpDelete(api.OwnerKey(a.Reg.Agent)),
		).Commit()
		if err != nil {
			return n, fmt.Errorf("fail-back %s to %s: %w", a.Reg.Agent, region, err)
		}
		if resp.Succeeded {
			n++
			load[region]++
		}
	}
	return n, nil
}

// Failback is manual fail-back: it hands every agent homed in region and owned elsewhere
// back to region, whose host must hold a lease. It returns how many agents were handed back.
func Failback(ctx context.Context, cli *clientv3.Client, region string, maxAgents int) (int, error) {
	resp, err := cli.Get(ctx, api.HostKey(region))
	if err != nil {
		return 0, fmt.Errorf("fail-back: read host of region %s: %w", region, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("fail-back: region %s has no live agent host (no %s key): restore the region first", region, api.HostKey(region))
	}
	st, err := readState(ctx, cli)
	if err != nil {
		return 0, fmt.Errorf("fail-back: %w", err)
	}
	return failback(ctx, cli, st, region, maxAgents)
}
