// Package registry reads and writes the agent registry in etcd: which agents exist, their
// home region and failover order (api.Registration under api.RegistryPrefix).
package registry

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
)

// maxTxnOps stays under etcd's default limit of 128 operations per transaction.
const maxTxnOps = 100

// Load returns every registration, ordered by agent, with a linearizable read.
func Load(ctx context.Context, kv clientv3.KV) ([]api.Registration, error) {
	resp, err := kv.Get(ctx, api.RegistryPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("registry: load: %w", err)
	}
	out := make([]api.Registration, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var reg api.Registration
		if err := json.Unmarshal(kv.Value, &reg); err != nil {
			return nil, fmt.Errorf("registry: %s: %w", kv.Key, err)
		}
		out = append(out, reg)
	}
	slices.SortFunc(out, func(a, b api.Registration) int { return compare(a.Agent, b.Agent) })
	return out, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Put writes regs. Writing the same registrations again changes nothing.
func Put(ctx context.Context, kv clientv3.KV, regs []api.Registration) error {
	for chunk := range slices.Chunk(regs, maxTxnOps) {
		ops := make([]clientv3.Op, 0, len(chunk))
		for _, reg := range chunk {
			if err := Validate(reg); err != nil {
				return err
			}
			b, err := json.Marshal(reg)
			if err != nil {
				return fmt.Errorf("registry: %s: %w", reg.Agent, err)
			}
			ops = append(ops, clientv3.OpPut(api.RegistryKey(reg.Agent), string(b)))
		}
		if _, err := kv.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("registry: put: %w", err)
		}
	}
	return nil
}

// Validate checks that a registration can be served: a name, a home, and an order that
// starts at home without repeats.
func Validate(reg api.Registration) error {
	switch {
	case reg.Agent == "":
		return errors.New("registry: registration without an agent name")
	case reg.Home == "":
		return fmt.Errorf("registry: %s has no home region", reg.Agent)
	case len(reg.Order) == 0 || reg.Order[0] != reg.Home:
		return fmt.Errorf("registry: %s: failover order %v must start with home %s", reg.Agent, reg.Order, reg.Home)
	}
	seen := map[string]bool{}
	for _, r := range reg.Order {
		if seen[r] {
			return fmt.Errorf("registry: %s: region %s twice in failover order %v", reg.Agent, r, reg.Order)
		}
		seen[r] = true
	}
	return nil
}

// Register dials endpoints (with tlsCfg, when set) and writes regs, retrying until etcd
// answers or ctx ends; the caller bounds it (the CLI gives it 30s).
func Register(ctx context.Context, endpoints []string, tlsCfg *tls.Config, regs []api.Registration) error {
	for _, reg := range regs {
		if err := Validate(reg); err != nil {
			return err
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, TLS: tlsCfg})
	if err != nil {
		return fmt.Errorf("registry: etcd %v: %w", endpoints, err)
	}
	defer cli.Close()
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = Put(attempt, cli, regs)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry: etcd %v did not accept the registrations: %w", endpoints, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Ownership is what etcd says about one agent's ownership at one revision: its owner key
// (nil: none), its epoch (0: never owned) and the controller's target hint ("": none).
type Ownership struct {
	Reg         api.Registration
	Owner       *api.Owner
	OwnerModRev int64
	Epoch       int64
	EpochModRev int64 // 0: the epoch key is absent
	Target      string
}

// ownershipReads is how many keys LoadOwnership reads per agent.
const ownershipReads = 3

// LoadOwnership reads the owner, epoch and target keys of every registration, in
// transactions of up to maxTxnOps reads, and returns them in the registrations' order with
// the lowest revision any transaction read at.
func LoadOwnership(ctx context.Context, kv clientv3.KV, regs []api.Registration) ([]Ownership, int64, error) {
	out := make([]Ownership, 0, len(regs))
	var rev int64
	for chunk := range slices.Chunk(regs, maxTxnOps/ownershipReads) {
		ops := make([]clientv3.Op, 0, ownershipReads*len(chunk))
		for _, reg := range chunk {
			ops = append(ops, clientv3.OpGet(api.OwnerKey(reg.Agent)), clientv3.OpGet(api.EpochKey(reg.Agent)),
				clientv3.OpGet(api.TargetKey(reg.Agent)))
		}
		resp, err := kv.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, 0, fmt.Errorf("registry: read owners: %w", err)
		}
		if rev == 0 || resp.Header.Revision < rev {
			rev = resp.Header.Revision
		}
		for i, reg := range chunk {
			o := Ownership{Reg: reg}
			owner, epoch, target := resp.Responses[ownershipReads*i], resp.Responses[ownershipReads*i+1], resp.Responses[ownershipReads*i+2]
			if kvs := owner.GetResponseRange().Kvs; len(kvs) > 0 {
				var ow api.Owner
				if err := json.Unmarshal(kvs[0].Value, &ow); err != nil {
					return nil, 0, fmt.Errorf("registry: %s: %w", kvs[0].Key, err)
				}
				o.Owner, o.OwnerModRev = &ow, kvs[0].ModRevision
			}
			if kvs := epoch.GetResponseRange().Kvs; len(kvs) > 0 {
				e, err := strconv.ParseInt(string(kvs[0].Value), 10, 64)
				if err != nil {
					return nil, 0, fmt.Errorf("registry: %s: %w", kvs[0].Key, err)
				}
				o.Epoch, o.EpochModRev = e, kvs[0].ModRevision
			}
			if kvs := target.GetResponseRange().Kvs; len(kvs) > 0 {
				o.Target = string(kvs[0].Value)
			}
			out = append(out, o)
		}
	}
	return out, rev, nil
}
