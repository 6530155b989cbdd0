package drill

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

// statusClient is the harness's client of the stack's own health and status endpoints,
// with its certificate when the stack runs with TLS.
func statusClient(tlsCfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsCfg}}
}

// probeFor builds the health probe of every region from the cluster's endpoints.
func probeFor(eps clusters.Endpoints, tlsCfg *tls.Config) faults.HTTPProbe {
	p := faults.HTTPProbe{Regions: map[string][]string{}, Client: statusClient(tlsCfg)}
	for r := range eps.Regions {
		p.Regions[r] = eps.HealthURLs(r)
	}
	return p
}

// ownersOf reads every agent's owner through the cluster's Observer, or from the router's
// status for a provider without one.
func ownersOf(cl clusters.Cluster, eps clusters.Endpoints, tlsCfg *tls.Config) func(context.Context) (map[string]api.Owner, error) {
	if o, ok := cl.(clusters.Observer); ok {
		return o.Owners
	}
	router, client := eps.StatusRouter(), statusClient(tlsCfg)
	return func(ctx context.Context) (map[string]api.Owner, error) {
		return clusters.RouterOwnersWith(ctx, client, router)
	}
}

// waitHealthy waits until every region answers and every agent has an owner.
func waitHealthy(ctx context.Context, env faults.Env, regions, agents []string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		last = healthy(ctx, env, regions, agents)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", limit, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func healthy(ctx context.Context, env faults.Env, regions, agents []string) error {
	for _, r := range regions {
		if err := env.Probe.RegionUp(ctx, r); err != nil {
			return err
		}
	}
	owners, err := env.Owners(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, a := range agents {
		if _, ok := owners[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("agents without an owner: %s", strings.Join(missing, ", "))
	}
	return nil
}

// observeOwners records every ownership change seen at the router as a timeline
// observation, so the report can show each agent's owner over time.
func observeOwners(ctx context.Context, owners func(context.Context) (map[string]api.Owner, error), tl *timeline.Timeline) {
	seen := map[string]api.Owner{}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		cur, err := owners(ctx)
		if err == nil {
			var changed []string
			for a, o := range cur {
				if seen[a] != o {
					changed = append(changed, a)
					seen[a] = o
				}
			}
			sort.Strings(changed)
			for _, a := range changed {
				o := cur[a]
				tl.Record(timeline.OwnerSeen(timeline.Owner{Agent: a, Region: o.Region, Epoch: o.Epoch}))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// observeLeaders records on the timeline, whenever they change, the regions holding the etcd
// leader and the controller leader: facts that shape the run but do not come from its seed.
func observeLeaders(ctx context.Context, env faults.Env, tl *timeline.Timeline) {
	if len(env.Etcd) == 0 {
		return
	}
	var last map[string]string
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		cur := faults.Leaders(ctx, env)
		if ctx.Err() != nil {
			return
		}
		if !maps.Equal(cur, last) {
			tl.Record(timeline.Event{Kind: timeline.Observe, Name: timeline.LeadersName, Detail: cur})
			last = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaderNotes says, for every injected fault, where the leaders were last seen before it.
func leaderNotes(events []timeline.Event) []string {
	var notes []string
	var last map[string]string
	for _, e := range timeline.Sorted(events) {
		switch {
		case e.Kind == timeline.Observe && e.Name == timeline.LeadersName:
			last = e.Detail
		case e.Kind == timeline.Inject && last != nil:
			notes = append(notes, fmt.Sprintf("%s injected at %s with the etcd leader in %s and the controller leader in %s (not drawn from the seed; target them with region: %s or %s to replay)",
				e.Name, e.At.Round(time.Millisecond), last[faults.FactEtcdLeader], last[faults.FactControllerLeader],
				faults.SelectEtcdLeader, faults.SelectControllerLeader))
		}
	}
	return notes
}

// shiftPlan moves fault times from "since load start" to the run clock.
func shiftPlan(plan []faults.Planned, by time.Duration) []faults.Planned {
	out := make([]faults.Planned, len(plan))
	for i, p := range plan {
		p.At += by
		out[i] = p
	}
	return out
}
