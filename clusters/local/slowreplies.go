package local

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/geodrill/geodrill/faults"
)

// SlowRepliesRealisation says how replies on path are delayed on the local provider: a
// Toxiproxy latency toxic on the reply stream of the path's proxies (the same proxies as
// reply-loss).
func (c *Cluster) SlowRepliesRealisation(path string) (faults.Realisation, string) {
	how, ok := replyLossHow[path]
	if !ok {
		return faults.Unavailable, fmt.Sprintf("no path %q", path)
	}
	how += ": a Toxiproxy latency toxic on the reply stream holds every chunk of reply for the latency, in " +
		"order; requests pass at once"
	if path == faults.PathHostObjectStore {
		return faults.Approximate, how
	}
	return faults.Exact, how
}

// SlowReplies adds a latency toxic to the reply stream of every proxy on s's path.
func (c *Cluster) SlowReplies(ctx context.Context, id string, s faults.SlowReplies) error {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	ps, err := c.px.pathProxies(s.Path, s.Region)
	if err != nil {
		return err
	}
	for _, p := range ps {
		name := id + "-" + p.Name
		b, _ := json.Marshal(map[string]any{
			"name": name, "type": "latency", "stream": "downstream", "toxicity": 1.0,
			"attributes": map[string]any{"latency": s.Latency.Milliseconds()},
		})
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
			return fmt.Errorf("add latency toxic to %s: %w", p.Name, err)
		}
		c.px.toxics[id] = append(c.px.toxics[id], installedToxic{proxy: p, name: name})
	}
	return nil
}

// RepliesSlowed returns nil when every toxic of id is in its proxy's chain.
func (c *Cluster) RepliesSlowed(ctx context.Context, id string) error { return c.Degraded(ctx, id) }
