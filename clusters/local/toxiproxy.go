package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/geodrill/geodrill/faults"
)

// proxies are the embedded Toxiproxy proxies of a local cluster, one per path that can be
// proxied:
//   - host of From → MinIO of To, per ordered pair of regions (checkpoint writes, copies to
//     other regions, restores); per pair because each host is given its own list of MinIO
//     addresses;
//   - host → etcd of its own region (leases, ownership, epochs): each host talks only to its
//     own member;
//   - client → router: the load and the final reads (Endpoints.Router); the harness's status
//     reads go direct (Endpoints.RouterDirect);
//   - router → host of each region (the router's --host-via): only the router's forwarded
//     requests; clients, the harness and the controller's probes reach a host at the URL it
//     advertises. This proxy runs only while its host process runs (see hostVia).
//
// etcd peer traffic is not proxied: a member advertises one peer URL to every peer, so a
// per-destination proxy cannot cut or slow A→B while keeping C→B.
type proxies struct {
	mu     sync.Mutex
	server *toxiproxy.ApiServer
	pair   map[[2]string]*toxiproxy.Proxy // [host region, MinIO region]
	etcd   map[string]*toxiproxy.Proxy    // host region → its etcd member
	router *toxiproxy.Proxy
	host   map[string]*toxiproxy.Proxy // region → the router's proxy before its host
	// hostChild is the host process each host proxy was last started for.
	hostChild map[string]Proc
	toxics    map[string][]installedToxic // fault id → what it installed
	// isolated is the region each Isolate id cut off (kept after healing, to verify it).
	isolated map[string]string
}

type installedToxic struct {
	proxy *toxiproxy.Proxy
	name  string
	loss  *replyLoss // a reply-loss toxic, for its count of lost replies; nil otherwise
}

// minioFor is the --minio list for region's host: its own MinIO directly, every other
// region's through a proxy started here. Inside per-region networks (netns) it is the plain
// list: proxies on the caller's loopback are not reachable there, and netns degrades links
// with nftables instead.
func (c *Cluster) minioFor(region string, minios []string) (string, error) {
	if c.net.IP != nil {
		return strings.Join(minios, ","), nil
	}
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	out := make([]string, 0, len(minios))
	for _, m := range minios {
		to, addr, _ := strings.Cut(m, "=")
		if to == region {
			out = append(out, m)
			continue
		}
		p, err := c.px.start("minio-"+region+"-"+to, addr)
		if err != nil {
			return "", fmt.Errorf("start proxy host %s -> minio %s: %w", region, to, err)
		}
		c.px.pair[[2]string{region, to}] = p
		out = append(out, to+"="+p.Listen)
	}
	return strings.Join(out, ","), nil
}

// etcdFor is the --etcd address for region's host: its own member through a proxy started
// here (the member itself inside per-region networks, as in minioFor).
func (c *Cluster) etcdFor(region, addr string) (string, error) {
	if c.net.IP != nil {
		return addr, nil
	}
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	p, err := c.px.start("etcd-"+region, addr)
	if err != nil {
		return "", fmt.Errorf("start proxy host %s -> etcd %s: %w", region, region, err)
	}
	c.px.etcd[region] = p
	return p.Listen, nil
}

// routerVia is the host:port clients use to reach the router at addr: a proxy started here
// (addr itself inside per-region networks, as in minioFor).
func (c *Cluster) routerVia(addr string) (string, error) {
	if c.net.IP != nil {
		return addr, nil
	}
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	p, err := c.px.start("router", addr)
	if err != nil {
		return "", fmt.Errorf("start proxy client -> router: %w", err)
	}
	c.px.router = p
	return p.Listen, nil
}

// init creates the Toxiproxy server and the maps on first use; the caller holds mu.
func (px *proxies) init() {
	if px.server == nil {
		px.server = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
		px.pair = map[[2]string]*toxiproxy.Proxy{}
		px.etcd = map[string]*toxiproxy.Proxy{}
		px.host = map[string]*toxiproxy.Proxy{}
		px.hostChild = map[string]Proc{}
		px.toxics = map[string][]installedToxic{}
	}
}

// start starts a proxy on a free loopback port to upstream; the caller holds mu.
func (px *proxies) start(name, upstream string) (*toxiproxy.Proxy, error) {
	px.init()
	p := toxiproxy.NewProxy(px.server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// stopProxies stops every proxy (closing their connections); idempotent.
func (c *Cluster) stopProxies() {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	for _, p := range c.px.pair {
		p.Stop()
	}
	for _, p := range c.px.etcd {
		p.Stop()
	}
	for _, p := range c.px.host {
		p.Stop()
	}
	if c.px.router != nil {
		c.px.router.Stop()
	}
	c.px.pair, c.px.etcd, c.px.router, c.px.host = nil, nil, nil, nil
	c.px.toxics = nil
}

// LinkRealisation says how a link's degradation is produced on the local provider.
func (c *Cluster) LinkRealisation(l faults.Link) (faults.Realisation, string) {
	if l.Loss > 0 {
		return faults.Unavailable, "packet loss needs packets: Toxiproxy works on TCP streams; " +
			"run it with provider: netns (root), where loss is an nftables random drop"
	}
	return faults.Approximate, "Toxiproxy latency/jitter/bandwidth on the object-store paths between the two " +
		"regions (checkpoint writes, copies, restores), both ways; etcd peer traffic (quorum commits) is not " +
		"proxied, since an etcd member advertises one peer URL to every peer; the client→router and " +
		"host→etcd proxies cross no link between two regions, so a link fault leaves them alone"
}

// Degrade adds latency and bandwidth toxics, both streams, to both regions' proxies.
func (c *Cluster) Degrade(ctx context.Context, id string, l faults.Link) error {
	if how, why := c.LinkRealisation(l); how == faults.Unavailable {
		return errors.New(why)
	}
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	var specs []map[string]any
	if l.Latency > 0 || l.Jitter > 0 {
		specs = append(specs, map[string]any{"type": "latency", "attributes": map[string]any{
			"latency": l.Latency.Milliseconds(), "jitter": l.Jitter.Milliseconds()}})
	}
	if l.BandwidthKbit > 0 {
		specs = append(specs, map[string]any{"type": "bandwidth", "attributes": map[string]any{
			"rate": max(1, l.BandwidthKbit/8)}}) // KB/s
	}
	for _, pair := range [][2]string{{l.From, l.To}, {l.To, l.From}} {
		p := c.px.pair[pair]
		if p == nil {
			return fmt.Errorf("no proxy from host %s to minio %s (is the cluster up?)", pair[0], pair[1])
		}
		for i, s := range specs {
			if err := c.px.addBothWays(id, fmt.Sprint(i), p, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// addBothWays adds the toxic spec to both streams of p, recorded under id; the caller holds
// mu.
func (px *proxies) addBothWays(id, suffix string, p *toxiproxy.Proxy, spec map[string]any) error {
	for _, stream := range []string{"upstream", "downstream"} {
		t := map[string]any{"name": id + "-" + suffix + "-" + stream, "stream": stream, "toxicity": 1.0}
		for k, v := range spec {
			t[k] = v
		}
		b, _ := json.Marshal(t)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
			return fmt.Errorf("add %s toxic to %s: %w", spec["type"], p.Name, err)
		}
		px.toxics[id] = append(px.toxics[id], installedToxic{proxy: p, name: t["name"].(string)})
	}
	return nil
}

// IsolateHow says what Isolate cuts on the local provider.
func (c *Cluster) IsolateHow() string {
	return "Toxiproxy blackholes (data dropped, connections kept open) the isolated region's host → its etcd " +
		"member and the object-store paths between that region and the others, both ways; its etcd member " +
		"stays in the quorum, because an etcd member advertises one peer URL to every peer, so etcd peer " +
		"links cannot be cut per destination; host-to-host probes and clients (the router) still reach it"
}

// Isolate blackholes region's proxied paths: its host to its etcd member (so its lease
// lapses as if its member were cut off), and the object-store paths to and from the other
// regions.
func (c *Cluster) Isolate(ctx context.Context, id, region string) error {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	paths := []*toxiproxy.Proxy{c.px.etcd[region]}
	if paths[0] == nil {
		return fmt.Errorf("no proxy from host %s to its etcd member (is the cluster up?)", region)
	}
	for pair, p := range c.px.pair {
		if pair[0] == region || pair[1] == region {
			paths = append(paths, p)
		}
	}
	blackhole := map[string]any{"type": "timeout", "attributes": map[string]any{"timeout": 0}}
	for _, p := range paths {
		if err := c.px.addBothWays(id, "isolate", p, blackhole); err != nil {
			return err
		}
	}
	if c.px.isolated == nil {
		c.px.isolated = map[string]string{}
	}
	c.px.isolated[id] = region
	return nil
}

// Heal removes what Isolate installed under id.
func (c *Cluster) Heal(ctx context.Context, id string) error { return c.Restore(ctx, id) }

// Isolated asks region's etcd member for its health through the host's proxy: nil when no
// answer comes back (the cut holds), an error when one does.
func (c *Cluster) Isolated(ctx context.Context, id string) error {
	c.px.mu.Lock()
	region, known := c.px.isolated[id]
	p := c.px.etcd[region]
	c.px.mu.Unlock()
	if !known || p == nil {
		return fmt.Errorf("nothing isolated as %s", id)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme()+"://"+p.Listen+"/health", nil)
	if err != nil {
		return err
	}
	// A fresh connection each time: one opened before the cut would be dropped with it.
	resp, err := c.freshClient().Do(req)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	return fmt.Errorf("host %s still reaches its etcd member (status %d)", region, resp.StatusCode)
}

// Restore removes the toxics installed under id.
func (c *Cluster) Restore(ctx context.Context, id string) error {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	var errs []error
	for _, t := range c.px.toxics[id] {
		if err := t.proxy.Toxics.RemoveToxic(ctx, t.name); err != nil {
			errs = append(errs, fmt.Errorf("remove toxic %s: %w", t.name, err))
		}
	}
	delete(c.px.toxics, id)
	return errors.Join(errs...)
}

// Degraded returns nil when every toxic of id is in its proxy's chain.
func (c *Cluster) Degraded(ctx context.Context, id string) error {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	ts := c.px.toxics[id]
	if len(ts) == 0 {
		return fmt.Errorf("nothing installed for %s", id)
	}
	for _, t := range ts {
		if t.proxy.Toxics.GetToxic(t.name) == nil {
			return fmt.Errorf("toxic %s missing from %s", t.name, t.proxy.Name)
		}
	}
	return nil
}

// EtcdProxyAddr is where region's host reaches its etcd member ("" when not proxied).
func (c *Cluster) EtcdProxyAddr(region string) string {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	if p := c.px.etcd[region]; p != nil {
		return p.Listen
	}
	return ""
}

// ProxyAddr is where region from's host reaches region to's MinIO ("" when that path is not
// proxied): for tests and for poking at a running drill.
func (c *Cluster) ProxyAddr(from, to string) string {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	if p := c.px.pair[[2]string{from, to}]; p != nil {
		return p.Listen
	}
	return ""
}
