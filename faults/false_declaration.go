package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/controller"
)

// FalseDeclaration makes the failover controller declare a healthy, connected region dead:
// the harness files a declaration request that the controller leader honours through its
// own failover path (target hints for the region's agents, then revocation of the region's
// host lease). The host keeps running and answering; for a moment it still believes it
// owns agents that newer epochs already serve elsewhere — the window epoch fencing exists
// for. With the router's owner TTL above 0, clients keep reaching the deposed host.
//
// Stall, when set, freezes the host process (SIGSTOP) while the declaration lands and
// thaws it (SIGCONT) Stall later: a brief stall, as of a garbage collection, shorter than
// the controller needs to declare a host dead on its own (with the default probes, three
// failures of a 1s timeout), so the declaration is still a false positive. The stall must
// outlast one probe timeout (1s by default): the leader acts after each probe round, and a
// round waits for the stalled host's probe to time out. Without it the
// host sees its owner keys go within milliseconds and drops its agents before any new
// owner serves; with it the host wakes with queued requests, believing it owns agents
// that newer epochs already serve.
//
// Nothing is undone on recovery: the host re-grants its lease by itself and takes agents
// again when they need an owner; the moved agents stay where they went (fail-back is the
// stack's own policy).
type FalseDeclaration struct {
	Region string // a region name or a selector
	Stall  time.Duration

	resolved string
	lease    int64
	agents   map[string]int64 // agent -> epoch the region served at injection
}

// FalseDeclarationParams are a false-declaration's parameters.
type FalseDeclarationParams struct {
	// Stall is how long the host process is stopped while the declaration lands (a
	// sub-second stall the controller's probes would not notice); 0 is none.
	Stall time.Duration `yaml:"stall"`
}

var falseDeclarationKind = KindOf[FalseDeclarationParams]{
	Name:            "false-declaration",
	NeedsController: true,
	Check: func(s Spec, _ *FalseDeclarationParams, c ParamCheck) {
		c.Region("region", s.Region, true)
	},
	Realise: func(cluster any) (Realisation, string) {
		return Exact, "the controller leader declares the healthy region dead on request (" + api.DeclarePrefix() +
			"{region}): target hints, then its host lease revoked, as for failed probes; the host keeps running"
	},
	New: func(s Spec, p *FalseDeclarationParams) (Fault, error) {
		if s.Region == "" {
			return nil, errors.New("false-declaration needs a region (a name or a selector such as \"busiest\")")
		}
		if p.Stall < 0 {
			return nil, fmt.Errorf("false-declaration stall %s: want a positive duration, or none", p.Stall)
		}
		return &FalseDeclaration{Region: s.Region, Stall: p.Stall}, nil
	},
}

// Realise refines the kind's answer: a stall needs a provider that can signal the host.
func (f *FalseDeclaration) Realise(cluster any) (Realisation, string) {
	if f.Stall > 0 && !canSignal(cluster) {
		return Unavailable, "the provider cannot stop and continue the host process (needed for stall)"
	}
	how, why := falseDeclarationKind.Realise(cluster)
	if f.Stall > 0 {
		why += fmt.Sprintf("; the host is stopped (SIGSTOP) while the declaration lands and continued %s later", f.Stall)
	}
	return how, why
}

// Inject reads the region's host lease and its agents, then files the declaration.
func (f *FalseDeclaration) Inject(ctx context.Context, env Env) (_ Record, err error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: r, Detail: map[string]string{"region": r, "requested": f.Region}}
	cli, err := etcdClient(env)
	if err != nil {
		return rec, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, api.HostKey(r))
	if err != nil {
		return rec, fmt.Errorf("read the host lease of %s: %w", r, err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].Lease == 0 {
		// Already dead in etcd's eyes: another fault (an isolation while etcd elected a
		// new leader, say) made the controller declare it on its own first. The situation
		// the declaration was for is there; say so instead of failing the drill.
		if prev := env.Probe.RegionAnswers(ctx, r); prev != nil {
			return rec, fmt.Errorf("region %s has no live host to declare dead (%v)", r, prev)
		}
		rec.Detail["already_declared"] = "the region's host held no lease: the controller had declared it dead on its own, " +
			"so no request was filed"
		return rec, nil
	}
	f.lease = resp.Kvs[0].Lease
	owners, err := env.Owners(ctx)
	if err != nil {
		return rec, fmt.Errorf("read owners before the declaration: %w", err)
	}
	rec.Agents = agentsOf(owners, r)
	f.agents = map[string]int64{}
	for _, a := range rec.Agents {
		f.agents[a] = owners[a].Epoch
	}
	rec.Detail["lease"] = fmt.Sprintf("%x", f.lease)
	if f.Stall > 0 {
		// The controller runs inside the host process: stalling the leader's own host
		// would stall the declaration too. Leadership moves first, the way the
		// controller deposes a dead leader (its session revoked).
		moved, err := moveControllerLeader(ctx, cli, r)
		if err != nil {
			return rec, err
		}
		if moved {
			rec.Detail["controller_leader_moved_from"] = r
		}
		if err := env.Cluster.(ServiceControl).Signal(r, "host", syscall.SIGSTOP); err != nil {
			return rec, fmt.Errorf("stall the host of %s: %w", r, err)
		}
		// Continued whatever happens next: a stall that outlived the fault would be
		// another fault.
		defer func() {
			sleepFor(context.WithoutCancel(ctx), f.Stall)
			if cerr := env.Cluster.(ServiceControl).Signal(r, "host", syscall.SIGCONT); cerr != nil {
				err = errors.Join(err, fmt.Errorf("continue the host of %s: %w", r, cerr))
			}
		}()
		rec.Detail["stall"] = f.Stall.String()
	}
	// The request is a put of the same value, so it is repeated while etcd cannot commit
	// (a leader election: another fault may have just cut the leader's region off).
	attempts, err := whileElecting(ctx, func(ctx context.Context) error {
		return controller.Declare(ctx, cli, r, f.lease)
	})
	if attempts > 1 {
		rec.Detail["declare_attempts"] = strconv.Itoa(attempts)
	}
	return rec, err
}

// electionRetryFor bounds how long a request to etcd is repeated while etcd cannot commit:
// an election takes seconds at most.
const electionRetryFor = 10 * time.Second

// whileElecting runs an idempotent etcd request, each attempt bounded to 2s, again and
// again until it succeeds or electionRetryFor has passed; it returns the attempts made.
func whileElecting(ctx context.Context, req func(ctx context.Context) error) (int, error) {
	deadline := time.Now().Add(electionRetryFor)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := req(actx)
		cancel()
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return attempt, fmt.Errorf("%w (%d attempts in %s)", err, attempt, electionRetryFor)
		}
		sleepFor(ctx, 200*time.Millisecond)
	}
}

// Verify checks that the lease was revoked, every agent the region owned has a newer
// epoch, and the region's services still answer: a running host was deposed. Answering is
// enough, healthy is not asked: a declaration may land on a region that another fault has
// cut from the others, whose etcd member answers its health check "no quorum" until that
// fault heals, and the declaration is in place long before.
func (f *FalseDeclaration) Verify(ctx context.Context, env Env) error {
	cli, err := etcdClient(env)
	if err != nil {
		return err
	}
	defer cli.Close()
	if f.lease == 0 { // already declared dead before the fault: nothing was filed
		return env.Probe.RegionAnswers(ctx, f.resolved)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(f.lease))
	if err != nil {
		return fmt.Errorf("read lease %x: %w", f.lease, err)
	}
	if ttl.TTL > 0 {
		return fmt.Errorf("the host lease %x of %s is still alive: the controller has not honoured the declaration", f.lease, f.resolved)
	}
	owners, err := env.Owners(ctx)
	if err != nil {
		return err
	}
	var waiting []string
	for a, epoch := range f.agents {
		if o, ok := owners[a]; !ok || o.Epoch <= epoch {
			waiting = append(waiting, a)
		}
	}
	if len(waiting) > 0 {
		sort.Strings(waiting)
		return fmt.Errorf("no newer owner yet for %s", strings.Join(waiting, ", "))
	}
	return env.Probe.RegionAnswers(ctx, f.resolved)
}

// Recover withdraws the request if the controller never honoured it.
func (f *FalseDeclaration) Recover(ctx context.Context, env Env) error {
	if f.resolved == "" || f.lease == 0 {
		return nil
	}
	cli, err := etcdClient(env)
	if err != nil {
		return err
	}
	defer cli.Close()
	// A compare-and-delete of what Inject wrote, so it too is repeated while etcd elects
	// (the partition this declaration rides on may be healing right now).
	k := api.DeclareKey(f.resolved)
	if _, err := whileElecting(ctx, func(ctx context.Context) error {
		_, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(k), "=", strconv.FormatInt(f.lease, 10))).
			Then(clientv3.OpDelete(k)).Commit()
		return err
	}); err != nil {
		return fmt.Errorf("withdraw the declaration of %s: %w", f.resolved, err)
	}
	return nil
}

// VerifyHealed checks that the host holds a new lease and every service of the region
// answers.
func (f *FalseDeclaration) VerifyHealed(ctx context.Context, env Env) error {
	cli, err := etcdClient(env)
	if err != nil {
		return err
	}
	defer cli.Close()
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cli.Get(gctx, api.HostKey(f.resolved))
	if err != nil {
		return fmt.Errorf("read the host key of %s: %w", f.resolved, err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].Lease == f.lease {
		return fmt.Errorf("the host of %s holds no new lease yet", f.resolved)
	}
	return env.Probe.RegionUp(ctx, f.resolved)
}

// moveControllerLeader revokes the election session of the controller leader when it runs
// in region, and waits until another region leads. It reports whether it moved anything.
func moveControllerLeader(ctx context.Context, cli *clientv3.Client, region string) (bool, error) {
	leader := func() (*electionKey, error) {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		resp, err := cli.Get(gctx, api.ElectionPrefix(), clientv3.WithFirstCreate()...)
		if err != nil {
			return nil, fmt.Errorf("read the controller election: %w", err)
		}
		if len(resp.Kvs) == 0 {
			return nil, nil
		}
		return &electionKey{region: string(resp.Kvs[0].Value), lease: resp.Kvs[0].Lease}, nil
	}
	cur, err := leader()
	if err != nil || cur == nil || cur.region != region {
		return false, err
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(cur.lease)); err != nil {
		return false, fmt.Errorf("move the controller leader out of %s: %w", region, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cur, err := leader(); err == nil && cur != nil && cur.region != region {
			return true, nil
		}
		if !sleepFor(ctx, 100*time.Millisecond) {
			return false, ctx.Err()
		}
	}
	return false, fmt.Errorf("the controller leader did not leave %s within 10s", region)
}

type electionKey struct {
	region string
	lease  int64
}
