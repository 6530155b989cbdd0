package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/geodrill/geodrill/faults"
)

// replyLossType is the Toxiproxy toxic type of replyLoss.
const replyLossType = "geodrill_reply_loss"

func init() { toxics.Register(replyLossType, new(replyLoss)) }

// replyLoss is a Toxiproxy toxic for the reply stream (downstream: server → client) that
// loses each chunk of reply with a probability: the request already went through
// unharmed, so the server acted on it. A chunk is one read of the server's bytes, usually a
// whole small response. In mode reset the chunk is discarded and the connection closed at
// once; in mode drop it and everything after it on that connection are discarded, the
// connection staying open (the client waits out its timeout) until the toxic is removed,
// which then closes it rather than resume a stream with a hole in it.
//
// Toxiproxy's own toxicity is drawn once per connection, and the router and etcd clients
// keep connections for long, so it cannot lose a fraction of replies; this toxic draws per
// chunk, from a seeded stream.
type replyLoss struct {
	Probability float64 `json:"probability"`
	Mode        string  `json:"mode"`
	Seed        uint64  `json:"seed"`

	once sync.Once
	mu   sync.Mutex
	rng  *rand.Rand
	lost atomic.Int64 // chunks lost so far
}

// replyLossState is one connection's: whether its replies are being dropped.
type replyLossState struct{ silent bool }

func (t *replyLoss) NewState() any { return new(replyLossState) }

func (t *replyLoss) draw() bool {
	t.once.Do(func() { t.rng = rand.New(rand.NewPCG(t.Seed, 0x7265706c79)) }) // "reply"
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rng.Float64() < t.Probability
}

// Pipe passes, or loses, each chunk of the reply stream.
func (t *replyLoss) Pipe(stub *toxics.ToxicStub) {
	st, _ := stub.State.(*replyLossState)
	if st == nil {
		st = new(replyLossState)
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if st.silent {
				continue // drop mode: this connection's replies are gone
			}
			if !t.draw() {
				stub.Output <- c
				continue
			}
			t.lost.Add(1)
			if t.Mode == faults.ReplyDrop {
				st.silent = true
				continue
			}
			// reset: close towards the client, then drain until the server side ends, so
			// the toxics before this one do not block on a reader that is gone.
			stub.Close()
			for range stub.Input {
			}
			return
		}
	}
}

// Cleanup closes a connection whose replies were being dropped, when the toxic is removed.
func (t *replyLoss) Cleanup(stub *toxics.ToxicStub) {
	if st, _ := stub.State.(*replyLossState); st != nil && st.silent {
		stub.Close()
		// Nothing reads this stub any more: drain until the server side ends, as in reset.
		go func() {
			for range stub.Input {
			}
		}()
	}
}

// replyLossHow is what the local provider does for each path, for the report.
var replyLossHow = map[string]string{
	faults.PathRouterHost: "Toxiproxy in front of the region's host, used by the router only (clients, the harness " +
		"and the controller's probes go direct; the proxy runs only while the host process does, so a dead host " +
		"still refuses the router)",
	faults.PathHostEtcd: "Toxiproxy between the region's host and its etcd member (one long-lived gRPC " +
		"connection: a lost chunk ends every request in flight on it, some of which took effect)",
	faults.PathHostObjectStore: "Toxiproxy from the region's host to every other region's MinIO (copies and " +
		"restores); its own region's MinIO is not proxied, so checkpoint writes there are untouched",
}

// ReplyLossRealisation says how reply loss on path is produced on the local provider.
func (c *Cluster) ReplyLossRealisation(path, mode string) (faults.Realisation, string) {
	how, ok := replyLossHow[path]
	if !ok {
		return faults.Unavailable, fmt.Sprintf("no path %q", path)
	}
	what := "each reply chunk (one read of the server's bytes, usually a whole response) is discarded with the " +
		"probability, after the request passed unharmed"
	switch mode {
	case faults.ReplyReset:
		what += "; the connection is then closed with a FIN, not an RST (Toxiproxy sets SO_LINGER 0 only for its own " +
			"reset_peer toxic, which cannot wait for the reply)"
	case faults.ReplyDrop:
		what += "; that connection then passes nothing back until the fault ends, when it is closed"
	}
	how += ": " + what
	if mode == faults.ReplyReset || path == faults.PathHostObjectStore {
		return faults.Approximate, how
	}
	return faults.Exact, how
}

// pathProxies are the proxies carrying path for region; the caller holds mu.
func (px *proxies) pathProxies(path, region string) ([]*toxiproxy.Proxy, error) {
	var out []*toxiproxy.Proxy
	switch path {
	case faults.PathRouterHost:
		if p := px.host[region]; p != nil {
			out = append(out, p)
		}
	case faults.PathHostEtcd:
		if p := px.etcd[region]; p != nil {
			out = append(out, p)
		}
	case faults.PathHostObjectStore:
		for pair, p := range px.pair {
			if pair[0] == region {
				out = append(out, p)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	default:
		return nil, fmt.Errorf("no path %q", path)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no proxy on the %s path of region %q (is the cluster up?)", path, region)
	}
	return out, nil
}

// LoseReplies adds the reply-loss toxic to the reply stream of every proxy on l's path.
func (c *Cluster) LoseReplies(ctx context.Context, id string, l faults.ReplyLoss) error {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	ps, err := c.px.pathProxies(l.Path, l.Region)
	if err != nil {
		return err
	}
	for i, p := range ps {
		name := id + "-" + p.Name
		b, _ := json.Marshal(map[string]any{
			"name": name, "type": replyLossType, "stream": "downstream", "toxicity": 1.0,
			"attributes": replyLoss{Probability: l.Probability, Mode: l.Mode, Seed: l.Seed + uint64(i)},
		})
		w, err := p.Toxics.AddToxicJson(strings.NewReader(string(b)))
		if err != nil {
			return fmt.Errorf("add reply-loss toxic to %s: %w", p.Name, err)
		}
		c.px.toxics[id] = append(c.px.toxics[id], installedToxic{proxy: p, name: name, loss: w.Toxic.(*replyLoss)})
	}
	return nil
}

// LosingReplies returns nil when every toxic of id is in its proxy's chain.
func (c *Cluster) LosingReplies(ctx context.Context, id string) error { return c.Degraded(ctx, id) }

// RestoreReplies removes the toxics of id.
func (c *Cluster) RestoreReplies(ctx context.Context, id string) error { return c.Restore(ctx, id) }

// RepliesLost is how many reply chunks the toxics of id have lost so far (0 once removed).
func (c *Cluster) RepliesLost(id string) int64 {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	var n int64
	for _, t := range c.px.toxics[id] {
		if t.loss != nil {
			n += t.loss.lost.Load()
		}
	}
	return n
}

// PathWorks sends one request over a fresh connection through every proxy on region's path
// and wants a healthy answer.
func (c *Cluster) PathWorks(ctx context.Context, path, region string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := c.PathRoundTrip(ctx, path, region)
	return err
}

// PathRoundTrip sends one request over a fresh connection through every proxy on region's
// path, wants a healthy answer from each and returns the slowest round trip. ctx bounds
// the wait.
func (c *Cluster) PathRoundTrip(ctx context.Context, path, region string) (time.Duration, error) {
	c.px.mu.Lock()
	ps, err := c.px.pathProxies(path, region)
	var addrs []string
	for _, p := range ps {
		addrs = append(addrs, p.Listen)
	}
	c.px.mu.Unlock()
	if err != nil {
		return 0, err
	}
	fresh := c.freshClient()
	var errs []error
	var slowest time.Duration
	for _, a := range addrs {
		var url string
		switch path {
		case faults.PathRouterHost:
			url = c.scheme() + "://" + a + "/healthz"
		case faults.PathHostEtcd:
			url = c.scheme() + "://" + a + "/health"
		default:
			url = c.scheme() + "://" + a + "/minio/health/live"
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		start := time.Now()
		resp, err := fresh.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		slowest = max(slowest, time.Since(start))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s path of region %s, GET %s: %w", path, region, url, err))
		}
	}
	return slowest, errors.Join(errs...)
}

// hostVia prepares the proxy the router reaches region's host through (listening at
// listen once started), and returns its address. It starts with the host (hostReady) and
// stops when the host process exits (watchHost), so that a dead host still refuses the
// router's connection (a definite failure) instead of the proxy accepting a request it
// cannot deliver.
func (c *Cluster) hostVia(region, listen, upstream string) string {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	c.px.init()
	p := toxiproxy.NewProxy(c.px.server, "host-"+region, listen, upstream)
	c.px.host[region] = p
	return listen
}

// hostReady starts region's router → host proxy for the host process ch, now ready.
func (c *Cluster) hostReady(region string, ch Proc) error {
	c.px.mu.Lock()
	defer c.px.mu.Unlock()
	p := c.px.host[region]
	if p == nil {
		return nil
	}
	c.px.hostChild[region] = ch
	if !ch.Running() {
		return nil // its watcher has stopped, or will stop, the proxy
	}
	if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("start proxy router -> host %s: %w", region, err)
	}
	return nil
}

// watchHost stops region's router → host proxy when ch, the host process, exits, unless a
// newer host process took the proxy over meanwhile.
func (c *Cluster) watchHost(region string, ch Proc) {
	go func() {
		<-ch.Done()
		c.px.mu.Lock()
		defer c.px.mu.Unlock()
		if p := c.px.host[region]; p != nil && c.px.hostChild[region] == ch {
			p.Stop()
		}
	}()
}
