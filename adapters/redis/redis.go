// Package redis is the contract (package conform) served in front of Redis with Sentinel:
// one Redis and one Sentinel per region, asynchronous replication, Sentinel electing a new
// primary when the old one is gone. Every operation goes to the primary the Sentinels name
// now; the region of a reply is that primary's region, its epoch the Sentinels'
// config-epoch for the primary plus one (it starts at 0 and grows by one at each failover:
// a fencing token as far as the Sentinels are concerned, not one Redis enforces).
package redis

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/geodrill/geodrill/adapters"
)

// Config is what the adapter needs: the master's name, each region's Sentinel and Redis
// address.
type Config struct {
	Master    string
	Sentinels map[string]string // region -> host:port
	Redis     map[string]string // region -> host:port
	// Poll is how often the Sentinels are asked for the primary (default 100ms).
	Poll time.Duration
	// UnsafeCachePrimary is a planted bug: the adapter asks the Sentinels once and keeps
	// the primary they named for good, as a client that caches the master's address does.
	// After a failover it sends everything to the old primary's address.
	UnsafeCachePrimary bool
}

// Adapter serves the contract over Redis.
type Adapter struct {
	cfg       Config
	sentinels []*goredis.SentinelClient
	byAddr    map[string]string // Redis address -> region

	// The primary the Sentinels name, as of the last poll. Ready latches once every
	// Sentinel knows all the others and every replica: before that, the Sentinels cannot
	// agree the primary is down or have nobody to promote, and killing its region loses the
	// system for good (Sentinels find each other through the primary within about 2s, its
	// replicas within 10s).
	*adapters.Follow[*goredis.Client]
}

// New builds the adapter; Run polls the Sentinels until ctx ends.
func New(cfg Config) (*Adapter, error) {
	if cfg.Master == "" || len(cfg.Sentinels) == 0 || len(cfg.Redis) == 0 {
		return nil, errors.New("redis adapter: need --master, --sentinels and --redis")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	a := &Adapter{cfg: cfg, byAddr: map[string]string{}, Follow: adapters.NewFollow(
		func(c *goredis.Client) { c.Close() }, "the Sentinels do not know each other and every replica yet")}
	regions := make([]string, 0, len(cfg.Sentinels))
	for r := range cfg.Sentinels {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		a.sentinels = append(a.sentinels, goredis.NewSentinelClient(&goredis.Options{Addr: cfg.Sentinels[r],
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, MaxRetries: -1}))
	}
	for r, addr := range cfg.Redis {
		a.byAddr[addr] = r
	}
	return a, nil
}

// Run polls the Sentinels for the primary until ctx ends.
func (a *Adapter) Run(ctx context.Context) {
	adapters.Poll(ctx, a.cfg.Poll, func(ctx context.Context) {
		// The planted bug keeps the first primary for good, but polls until ready: before,
		// nothing has failed over, and the Sentinels must be seen to know each other.
		if !a.cfg.UnsafeCachePrimary || a.Now() == nil || a.Ready() != nil {
			a.poll(ctx)
		}
	})
}

// poll asks every Sentinel for the primary and its config-epoch and believes the answer
// with the highest epoch (a Sentinel that was down during a failover still names the old
// primary until its peers tell it otherwise), then checks with ROLE that the one named is a
// primary now, as Redis's guidelines for Sentinel clients ask. No primary while the newest
// answer has it down, or it is not (yet) a primary.
func (a *Adapter) poll(ctx context.Context) {
	var best map[string]string
	bestEpoch := int64(-1)
	meshed := true
	for _, s := range a.sentinels {
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		m, err := s.Master(qctx, a.cfg.Master).Result()
		cancel()
		if err != nil {
			meshed = false
			continue
		}
		meshed = meshed && atLeast(m["num-other-sentinels"], len(a.sentinels)-1) && atLeast(m["num-slaves"], len(a.cfg.Redis)-1)
		if e, err := strconv.ParseInt(m["config-epoch"], 10, 64); err == nil && e > bestEpoch {
			best, bestEpoch = m, e
		}
	}
	if best == nil {
		return // no Sentinel answers: keep what was known
	}
	if meshed {
		a.MarkReady()
	}
	if strings.Contains(best["flags"], "o_down") || strings.Contains(best["flags"], "s_down") {
		a.Set(nil) // known down, no other elected yet
		return
	}
	addr := net.JoinHostPort(best["ip"], best["port"])
	named := adapters.Serving{Region: a.byAddr[addr], Epoch: bestEpoch + 1, URL: "redis://" + addr}
	if cur := a.Now(); cur != nil && cur.Serving == named {
		return
	}
	client := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1, PoolSize: 64})
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	role, err := client.Do(qctx, "ROLE").Slice()
	cancel()
	if err != nil || len(role) == 0 || role[0] != "master" {
		client.Close()
		a.Set(nil)
		return
	}
	a.Set(&adapters.Target[*goredis.Client]{Serving: named, Conn: client})
}

func atLeast(field string, n int) bool {
	v, err := strconv.Atoi(field)
	return err == nil && v >= n
}

func (a *Adapter) client() (*goredis.Client, error) {
	p := a.Now()
	if p == nil {
		return nil, errNoPrimary
	}
	return p.Conn, nil
}

var errNoPrimary = errors.New("no primary")

// Get reads key from the primary.
func (a *Adapter) Get(ctx context.Context, key string) (string, bool, error) {
	c, err := a.client()
	if err != nil {
		return "", false, err
	}
	v, err := c.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return "", false, nil
	}
	return v, err == nil, err
}

// Put writes key on the primary.
func (a *Adapter) Put(ctx context.Context, key, value string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	return c.Set(ctx, key, value, 0).Err()
}

// CAS swaps on the primary, atomically (a Lua script).
func (a *Adapter) CAS(ctx context.Context, key, expect, value string) (bool, bool, string, error) {
	c, err := a.client()
	if err != nil {
		return false, false, "", err
	}
	res, err := casScript.Run(ctx, c, []string{key}, expect, value).Slice()
	if err != nil || len(res) != 3 {
		return false, false, "", err
	}
	cur, _ := res[2].(string)
	return res[0].(int64) == 1, res[1].(int64) == 1, cur, nil
}

// casScript swaps atomically on the primary: {swapped, found, value} where value is the
// new value when swapped, else the current one. A key never written counts as "" (the
// contract's cas).
var casScript = goredis.NewScript(`
local raw = redis.call('GET', KEYS[1])
local cur = raw or ''
if cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return {1, 1, ARGV[2]}
end
if raw == false then return {0, 0, ''} end
return {0, 1, cur}`)

// Classify maps a Redis error to a status and outcome: a connection never made or a
// command Redis refused did not take effect; anything after the command was sent may have.
func (a *Adapter) Classify(err error) (int, string) {
	var op *net.OpError
	msg := err.Error()
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return http.StatusServiceUnavailable, "fail"
	case strings.HasPrefix(msg, "READONLY"), strings.HasPrefix(msg, "LOADING"), strings.HasPrefix(msg, "MASTERDOWN"),
		strings.HasPrefix(msg, "NOREPLICAS"), strings.HasPrefix(msg, "ERR"):
		return http.StatusConflict, "fail"
	case errors.Is(err, goredis.ErrClosed), errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, errNoPrimary):
		return http.StatusServiceUnavailable, "fail"
	}
	return http.StatusGatewayTimeout, "unknown"
}
