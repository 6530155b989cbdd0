// Package router is the reference stack's global load balancer: it follows the owner keys
// in etcd and forwards /agents/{agent}/... to the agent's owner. How it reports failures
// matters to the checkers: a request that was never sent is a definite failure (503), one
// that was sent and then lost is unknown (502/504).
package router

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

// Config of a router.
type Config struct {
	Listen string   // host:port
	Etcd   []string // every region's etcd client endpoint
	// Timeout bounds one forwarded request; default 3s.
	Timeout time.Duration
	// OwnerTTL, when positive, makes the router answer from an owner it looked up up to
	// OwnerTTL ago, as a DNS resolver does with a record's TTL: after a failover, requests
	// keep going to the old owner (and fail) until the entry expires. 0 follows etcd's
	// watch, so a new owner is used as soon as etcd reports it.
	OwnerTTL time.Duration
	// HostVia maps a region to the host:port its owner's requests are sent to instead of
	// the URL the owner advertises: a proxy in front of that region's host, so that a test
	// harness can act on the router → host path alone (the controller's probes and the
	// owner records keep the advertised URL). Empty sends to the advertised URL.
	HostVia map[string]string
	// TLSServer and TLSClient, when set, make the router's links mutual TLS: clients must
	// present a certificate of the run's CA, and hosts and etcd are reached with TLSClient.
	TLSServer, TLSClient *tls.Config
	Logger               *slog.Logger

	// Bugs are the unsafe switches turned on (self-validation only); the router reads
	// router-ignores-epochs.
	Bugs bugs.Set
}

// Router forwards agent requests to their owners.
type Router struct {
	cfg    Config
	log    *slog.Logger
	cli    *clientv3.Client
	client *http.Client
	synced atomic.Bool // the owner map was listed and is being watched

	mu     sync.RWMutex
	owners map[string]api.Owner

	unsafe staleOwners // router-ignores-epochs only

	cacheMu sync.Mutex
	cache   map[string]cached // OwnerTTL > 0 only

	metrics *metrics
}

// cached is an owner lookup and when it stops being used.
type cached struct {
	owner   api.Owner
	ok      bool
	expires time.Time
}

// New checks cfg and connects the etcd client.
func New(cfg Config) (*Router, error) {
	if cfg.Listen == "" {
		return nil, errors.New("router: listen address is empty: give host:port, e.g. 127.0.0.1:8080")
	}
	if len(cfg.Etcd) == 0 {
		return nil, errors.New("router: no etcd endpoint: give every region's etcd client address")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Etcd, DialTimeout: 2 * time.Second, TLS: cfg.TLSClient})
	if err != nil {
		return nil, fmt.Errorf("router: etcd %v: %w", cfg.Etcd, err)
	}
	transport := &http.Transport{
		TLSClientConfig:     cfg.TLSClient,
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 15 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	rt := &Router{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "router"),
		cli:    cli,
		client: &http.Client{Transport: transport},
		owners: map[string]api.Owner{},
		cache:  map[string]cached{},
	}
	rt.metrics = newMetrics(rt)
	return rt, nil
}

// Run follows owners and serves until ctx is done.
func (rt *Router) Run(ctx context.Context) error {
	defer rt.cli.Close()
	ln, err := net.Listen("tcp", rt.cfg.Listen)
	if err != nil {
		return fmt.Errorf("router: listen: %w", err)
	}
	if rt.cfg.TLSServer != nil {
		ln = tls.NewListener(ln, rt.cfg.TLSServer)
	}
	srv := &http.Server{Handler: rt.Handler(), ReadHeaderTimeout: 5 * time.Second}
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { rt.follow(bg) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	rt.log.Info("router serving", "addr", ln.Addr().String(), "etcd", rt.cfg.Etcd, "owner_ttl", rt.cfg.OwnerTTL.String())

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("router: serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stop()
	wg.Wait()
	return runErr
}

// Owners is a copy of the current owner map.
func (rt *Router) Owners() map[string]api.Owner {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return maps.Clone(rt.owners)
}

// follow lists the owner keys and watches from that revision, re-listing whenever the
// watch fails (compaction, lost leader, member down).
func (rt *Router) follow(ctx context.Context) {
	for ctx.Err() == nil {
		rev, err := rt.list(ctx)
		if err != nil {
			rt.log.Warn("listing owners failed; retrying", "err", err)
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		rt.synced.Store(true)
		err = rt.watch(ctx, rev+1)
		if ctx.Err() == nil {
			rt.log.Warn("owner watch ended; re-listing", "err", err)
			sleep(ctx, 200*time.Millisecond)
		}
	}
}

func (rt *Router) list(ctx context.Context) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := rt.cli.Get(lctx, api.AgentsPrefix(), clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	owners := map[string]api.Owner{}
	for _, kv := range resp.Kvs {
		if agent, ok := ownerAgent(string(kv.Key)); ok {
			var o api.Owner
			if err := json.Unmarshal(kv.Value, &o); err != nil {
				rt.log.Warn("bad owner key", "key", string(kv.Key), "err", err)
				continue
			}
			owners[agent] = o
		}
	}
	rt.mu.Lock()
	rt.owners = owners
	rt.mu.Unlock()
	return resp.Header.Revision, nil
}

func (rt *Router) watch(ctx context.Context, from int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range rt.cli.Watch(wctx, api.AgentsPrefix(), clientv3.WithPrefix(), clientv3.WithRev(from)) {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			agent, ok := ownerAgent(string(ev.Kv.Key))
			if !ok {
				continue
			}
			if ev.Type == clientv3.EventTypeDelete {
				rt.mu.Lock()
				delete(rt.owners, agent)
				rt.mu.Unlock()
				rt.log.Info("owner gone", "event", "ownership_change", "agent", agent, "revision", ev.Kv.ModRevision)
				continue
			}
			var o api.Owner
			if err := json.Unmarshal(ev.Kv.Value, &o); err != nil {
				rt.log.Warn("bad owner key", "key", string(ev.Kv.Key), "err", err)
				continue
			}
			rt.mu.Lock()
			rt.owners[agent] = o
			rt.mu.Unlock()
			rt.log.Info("owner changed", "event", "ownership_change", "agent", agent, "owner_region", o.Region,
				"epoch", o.Epoch, "revision", ev.Kv.ModRevision)
		}
	}
	return errors.New("watch channel closed")
}

// ownerAgent parses {AgentsPrefix}{agent}/owner.
func ownerAgent(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, api.AgentsPrefix())
	if !ok {
		return "", false
	}
	agent, ok := strings.CutSuffix(rest, "/owner")
	if !ok || agent == "" || strings.Contains(agent, "/") {
		return "", false
	}
	return agent, true
}

// Handler serves the forwarded API plus /healthz and /status.
func (rt *Router) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/agents/{agent}/", rt.metrics.count(rt.forward))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !rt.synced.Load() {
			http.Error(w, "owner map not listed yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", rt.metrics.handler)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.RouterStatus{Owners: rt.Owners()})
	})
	return mux
}

const maxBody = 64 << 10

func (rt *Router) forward(w http.ResponseWriter, r *http.Request) {
	agent := r.PathValue("agent")
	owner, ok := rt.lookup(agent)
	owner, ok = rt.unsafeStaleOwner(agent, owner, ok)
	if !ok {
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, "fail", agent, "no owner for "+agent)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		fail(w, http.StatusBadRequest, "fail", agent, "read body: "+err.Error())
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), rt.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { wrote.Store(true) },
		WroteHeaders:     func() { wrote.Store(true) },
	})
	base := owner.URL
	if via, ok := rt.cfg.HostVia[owner.Region]; ok {
		base = "http://" + via
		if rt.cfg.TLSClient != nil {
			base = "https://" + via
		}
	}
	url := strings.TrimSuffix(base, "/") + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		url += "?" + r.URL.RawQuery
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, url, bytes.NewReader(body))
	if err != nil {
		fail(w, http.StatusBadGateway, "fail", agent, "bad owner URL: "+err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		out.Header.Set("Content-Type", ct)
	}
	resp, err := rt.client.Do(out)
	if err != nil && wrote.Load() && rt.cfg.Bugs.On(bugs.RouterRetriesAfterSend) {
		// BUG (router-retries-after-send): "a reset or timeout is transient": send it again.
		rt.log.Warn("retrying a request that failed after it was sent", "agent", agent, "owner_region", owner.Region, "err", err)
		rctx, rcancel := context.WithTimeout(r.Context(), rt.cfg.Timeout)
		defer rcancel()
		if again, rerr := http.NewRequestWithContext(rctx, r.Method, url, bytes.NewReader(body)); rerr == nil {
			again.Header = out.Header.Clone()
			resp, err = rt.client.Do(again)
		}
	}
	if err != nil {
		switch {
		case rt.cfg.Bugs.On(bugs.RouterResetIsDefinite) && isReset(err):
			// BUG (router-reset-is-definite): a reset "means the owner is down", so nothing happened.
			fail(w, http.StatusServiceUnavailable, "fail", agent, fmt.Sprintf("owner %s reset the connection: %v", owner.Region, err))
		case !wrote.Load():
			// Nothing reached the owner: the op definitely did not happen.
			fail(w, http.StatusServiceUnavailable, "fail", agent, fmt.Sprintf("owner %s (%s) unreachable: %v", owner.Region, owner.URL, err))
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			fail(w, http.StatusGatewayTimeout, "unknown", agent, fmt.Sprintf("owner %s timed out: %v", owner.Region, err))
		default:
			fail(w, http.StatusBadGateway, "unknown", agent, fmt.Sprintf("owner %s failed after the request was sent: %v", owner.Region, err))
		}
		return
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		// The owner answered but the body was cut: whatever it did is unknown to the client.
		fail(w, http.StatusBadGateway, "unknown", agent, fmt.Sprintf("owner %s response cut: %v", owner.Region, err))
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// lookup is the owner requests for agent go to: the watched owner map, or with OwnerTTL an
// entry taken from it at most OwnerTTL ago. "No owner" is not cached, so an agent without
// owner is retried against the map on every request, as a resolver would retry NXDOMAIN
// quickly while a record is being created.
func (rt *Router) lookup(agent string) (api.Owner, bool) {
	current := func() (api.Owner, bool) {
		rt.mu.RLock()
		defer rt.mu.RUnlock()
		o, ok := rt.owners[agent]
		return o, ok
	}
	if rt.cfg.OwnerTTL <= 0 {
		return current()
	}
	now := time.Now()
	rt.cacheMu.Lock()
	defer rt.cacheMu.Unlock()
	if c, ok := rt.cache[agent]; ok && now.Before(c.expires) {
		rt.metrics.cache.WithLabelValues("hit").Inc()
		return c.owner, c.ok
	}
	o, ok := current()
	if !ok {
		delete(rt.cache, agent)
		rt.metrics.cache.WithLabelValues("miss_no_owner").Inc()
		return o, false
	}
	rt.cache[agent] = cached{owner: o, ok: true, expires: now.Add(rt.cfg.OwnerTTL)}
	rt.metrics.cache.WithLabelValues("refresh").Inc()
	return o, true
}

// isReset: the connection was reset or closed under the request.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func fail(w http.ResponseWriter, status int, outcome, agent, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderOutcome, outcome)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Response{Agent: agent, Error: msg})
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
