package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
	"github.com/geodrill/geodrill/refstack/registry"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// cluster is one real etcd member and one real MinIO server per region; hosts run in the
// test process.
type cluster struct {
	t         *testing.T
	etcd      string
	cli       *clientv3.Client
	endpoints []checkpoint.Endpoint
	bucket    string
	store     *checkpoint.Store
	logs      *lockedBuffer
}

func newCluster(t *testing.T, regions ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, bucket: testenv.Bucket(t), logs: &lockedBuffer{}}
	for _, r := range regions {
		c.endpoints = append(c.endpoints, checkpoint.Endpoint{Region: r, Addr: testenv.SharedMinio(t, r).Addr})
	}
	c.etcd = testenv.Etcd(t)
	c.cli = testenv.Client(t, c.etcd)
	store, err := checkpoint.NewStore(checkpoint.StoreConfig{
		Endpoints: c.endpoints, User: testenv.MinioUser, Password: testenv.MinioPassword, Bucket: c.bucket,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.store = store
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host logs:\n%s", c.logs.String())
		}
	})
	return c
}

func (c *cluster) register(regs ...api.Registration) {
	c.t.Helper()
	if err := registry.Put(context.Background(), c.cli, regs); err != nil {
		c.t.Fatal(err)
	}
}

type runningHost struct {
	*Host
	url    string
	cancel context.CancelFunc
	done   chan error
}

func (c *cluster) startHost(region string, mod func(*Config)) *runningHost {
	c.t.Helper()
	listen := testenv.FreeAddr(c.t)
	cfg := Config{
		Region: region, Listen: listen, Etcd: []string{c.etcd},
		MinIO: c.endpoints, MinIOUser: testenv.MinioUser, MinIOPassword: testenv.MinioPassword,
		Bucket: c.bucket,
		Logger: slog.New(slog.NewJSONHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rh := &runningHost{Host: h, url: "http://" + listen, cancel: cancel, done: make(chan error, 1)}
	go func() { rh.done <- h.Run(ctx) }()
	c.t.Cleanup(rh.stop)
	waitFor(c.t, 10*time.Second, "host "+region+" healthy", func() bool {
		resp, err := http.Get(rh.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return rh
}

// stop is a clean shutdown: the host revokes its lease.
func (rh *runningHost) stop() {
	rh.cancel()
	if err := <-rh.done; err != nil {
		panic(err)
	}
	rh.done <- nil // later stops return at once
}

// serving waits until h serves agent at an epoch >= minEpoch and returns that epoch.
func (c *cluster) serving(h *runningHost, agent string, minEpoch int64) int64 {
	c.t.Helper()
	var epoch int64
	waitFor(c.t, 10*time.Second, fmt.Sprintf("%s serving %s at epoch >= %d", h.cfg.Region, agent, minEpoch), func() bool {
		epoch = h.Status().Agents[agent]
		return epoch >= minEpoch
	})
	return epoch
}

func (c *cluster) lease(h *runningHost) clientv3.LeaseID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lease
}

// logEntries returns the agent's committed log in etcd.
func (c *cluster) logEntries(agent string) []api.LogEntry {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), api.LogPrefix(agent), clientv3.WithPrefix())
	if err != nil {
		c.t.Fatal(err)
	}
	var out []api.LogEntry
	for _, kv := range resp.Kvs {
		var e api.LogEntry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func (c *cluster) checkpointMeta(agent string) (api.CheckpointMeta, bool) {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), api.CheckpointKey(agent))
	if err != nil {
		c.t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return api.CheckpointMeta{}, false
	}
	var m api.CheckpointMeta
	if err := json.Unmarshal(resp.Kvs[0].Value, &m); err != nil {
		c.t.Fatal(err)
	}
	return m, true
}

func (c *cluster) waitCheckpoint(agent string, minSeq int64) api.CheckpointMeta {
	c.t.Helper()
	var m api.CheckpointMeta
	waitFor(c.t, 10*time.Second, fmt.Sprintf("checkpoint of %s at seq >= %d", agent, minSeq), func() bool {
		var ok bool
		m, ok = c.checkpointMeta(agent)
		return ok && m.Seq >= minSeq
	})
	return m
}

// reply is a decoded API response.
type reply struct {
	status  int
	outcome string
	region  string
	epoch   int64
	body    api.Response
}

func do(t *testing.T, method, url, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, outcome: resp.Header.Get(api.HeaderOutcome), region: resp.Header.Get(api.HeaderRegion)}
	r.epoch, _ = strconv.ParseInt(resp.Header.Get(api.HeaderEpoch), 10, 64)
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: status %d, body %q is not a Response: %v", method, url, resp.StatusCode, raw, err)
	}
	return r
}

func put(t *testing.T, h *runningHost, agent, key, value string) reply {
	t.Helper()
	return do(t, http.MethodPut, h.url+"/agents/"+agent+"/kv/"+key, value)
}

func get(t *testing.T, h *runningHost, agent, key string) reply {
	t.Helper()
	return do(t, http.MethodGet, h.url+"/agents/"+agent+"/kv/"+key, "")
}

func mustOK(t *testing.T, r reply, what string) reply {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d outcome %q error %q", what, r.status, r.outcome, r.body.Error)
	}
	return r
}

func reg(agent string, order ...string) api.Registration {
	return api.Registration{Agent: agent, Home: order[0], Order: order}
}

func TestTakeoverBumpsEpochAndServes(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	c.register(reg("agent-00", "a", "b", "c"), reg("agent-01", "b", "c", "a"))
	ha := c.startHost("a", nil)
	hb := c.startHost("b", nil)
	hc := c.startHost("c", nil)
	if e := c.serving(ha, "agent-00", 1); e != 1 {
		t.Fatalf("home host took agent-00 at epoch %d, want 1", e)
	}
	c.serving(hb, "agent-01", 1)

	r := mustOK(t, put(t, ha, "agent-00", "k", "v1"), "put on owner")
	if r.region != "a" || r.epoch != 1 || r.body.Region != "a" || r.body.Epoch != 1 {
		t.Errorf("put served by region %q epoch %d (body %q %d), want a 1", r.region, r.epoch, r.body.Region, r.body.Epoch)
	}
	if r := put(t, hb, "agent-00", "k", "wrong-host"); r.status != http.StatusConflict || r.outcome != "fail" || r.region != "b" {
		t.Errorf("put on non-owner: status %d outcome %q region %q, want 409 fail b", r.status, r.outcome, r.region)
	}
	cas := do(t, http.MethodPost, ha.url+"/agents/agent-00/cas/k", `{"expect":"v1","value":"v2"}`)
	if cas.status != http.StatusOK || !cas.body.Swapped || cas.body.Value != "v2" {
		t.Errorf("matching cas: %+v", cas)
	}
	cas = do(t, http.MethodPost, ha.url+"/agents/agent-00/cas/k", `{"expect":"v1","value":"v3"}`)
	if cas.status != http.StatusOK || cas.body.Swapped || cas.body.Value != "v2" {
		t.Errorf("mismatching cas: %+v", cas)
	}

	// Failover follows the order: b (rank 1) before c (rank 2), then c once b is gone too.
	start := time.Now()
	ha.stop()
	if e := c.serving(hb, "agent-00", 2); e != 2 {
		t.Fatalf("takeover epoch %d, want 2", e)
	}
	t.Logf("takeover by rank 1 after a clean stop of the owner: %v", time.Since(start))
	if e, ok := hc.Status().Agents["agent-00"]; ok {
		t.Errorf("rank 2 region c serves agent-00 at epoch %d while rank 1 is alive", e)
	}
	r = mustOK(t, get(t, hb, "agent-00", "k"), "read on new owner")
	if r.body.Value != "v2" || !r.body.Found || r.region != "b" || r.epoch != 2 {
		t.Errorf("read after takeover: %+v, want v2 from b epoch 2", r)
	}
	start = time.Now()
	hb.stop()
	if e := c.serving(hc, "agent-00", 3); e != 3 {
		t.Fatalf("second takeover epoch %d, want 3", e)
	}
	t.Logf("takeover by rank 2 after ranks 0 and 1 stopped: %v", time.Since(start))
	if r := mustOK(t, get(t, hc, "agent-00", "k"), "read on third owner"); r.body.Value != "v2" {
		t.Errorf("third owner reads %q, want v2", r.body.Value)
	}
	for e, region := range map[int64]string{1: "a", 2: "b", 3: "c"} {
		resp, err := c.cli.Get(context.Background(), api.EpochRecordKey("agent-00", e))
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("epoch record %d: %v, %d keys", e, err, len(resp.Kvs))
		}
		var rec api.EpochRecord
		if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil || rec.Region != region || rec.Epoch != e {
			t.Errorf("epoch record %d = %+v (%v), want region %s", e, rec, err, region)
		}
	}

	// The home region coming back does not take the agent back (fail-back is the
	// controller's job) and does not serve it.
	ha2 := c.startHost("a", nil)
	time.Sleep(1200 * time.Millisecond)
	if r := get(t, ha2, "agent-00", "k"); r.status != http.StatusConflict {
		t.Errorf("restarted home host served agent-00: %+v", r)
	}
	if e := hc.Status().Agents["agent-00"]; e != 3 {
		t.Errorf("c serves agent-00 at epoch %d after a came back, want 3", e)
	}
}

// A host whose lease was revoked still believes it owns the agent until it notices. The
// fence must stop it: its writes fail and leave no trace, its reads are refused.
func TestStaleOwnerIsFenced(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", nil)
	hb := c.startHost("b", nil)
	c.serving(ha, "agent-00", 1)
	mustOK(t, put(t, ha, "agent-00", "k", "before"), "put before takeover")

	// Freeze what host a knows now: this is the stale owner's view.
	live, stale := freeze(t, ha, "agent-00")

	if _, err := c.cli.Revoke(context.Background(), c.lease(ha)); err != nil {
		t.Fatal(err)
	}
	if e := c.serving(hb, "agent-00", 2); e != 2 {
		t.Fatalf("b took over at epoch %d, want 2", e)
	}
	// Host a noticed the lost lease: it serves nothing and holds a new lease.
	oldLease := live.leaseGen
	waitFor(t, 5*time.Second, "host a re-leased and serving nothing", func() bool {
		ha.mu.Lock()
		defer ha.mu.Unlock()
		return ha.lease != 0 && ha.leaseGen > oldLease+1 && len(ha.agents) == 0
	})

	// Through the API: host a refuses (fenced, or already dropped after its lease loss).
	if r := put(t, ha, "agent-00", "k", "stale-api"); r.status != http.StatusConflict || r.outcome != "fail" {
		t.Errorf("stale owner's put via API: %+v, want 409 fail", r)
	}
	// The stale incarnation itself, as if it had not noticed anything: the etcd guard is
	// all that stands between it and the log.
	if err := stale.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := ha.writeLocked(stale, "k", "stale-direct", api.Response{Agent: "agent-00", Key: "k"})
	rd := ha.getLocked(stale, "k", api.Response{Agent: "agent-00", Key: "k"})
	stale.unlock()
	if w.status != http.StatusConflict || w.outcome != "fail" || !strings.Contains(w.resp.Error, "fenced") {
		t.Errorf("stale owner's write: status %d outcome %q error %q, want 409 fail fenced", w.status, w.outcome, w.resp.Error)
	}
	if rd.status != http.StatusConflict || !strings.Contains(rd.resp.Error, "fenced") {
		t.Errorf("stale owner's read: status %d error %q, want 409 fenced", rd.status, rd.resp.Error)
	}
	if stale.data["k"] != "before" {
		t.Errorf("stale owner applied its failed write to memory: %q", stale.data["k"])
	}

	mustOK(t, put(t, hb, "agent-00", "k2", "after"), "new owner's put")
	for _, e := range c.logEntries("agent-00") {
		if strings.HasPrefix(e.Value, "stale") {
			t.Errorf("stale write in the log: %+v", e)
		}
	}
	r := mustOK(t, get(t, hb, "agent-00", "k"), "new owner's read")
	if r.body.Value != "before" {
		t.Errorf("new owner reads k=%q, want before", r.body.Value)
	}
	entries := c.logEntries("agent-00")
	if len(entries) != 2 || entries[0].Epoch != 1 || entries[1].Epoch != 2 || entries[1].Seq != 2 {
		t.Errorf("log = %+v, want seq 1 at epoch 1 and seq 2 at epoch 2", entries)
	}
}

func TestRestoreIsCheckpointPlusLogTail(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	every := func(cfg *Config) { cfg.CheckpointEvery = 10 }
	ha := c.startHost("a", every)
	hb := c.startHost("b", every)
	c.serving(ha, "agent-00", 1)

	want := map[string]string{}
	for i := range 27 {
		k, v := fmt.Sprintf("k%d", i%5), fmt.Sprintf("v%d", i)
		mustOK(t, put(t, ha, "agent-00", k, v), "put")
		want[k] = v
	}
	// Checkpoints start every 10 entries unless one is still running, so the newest is at
	// seq 20 or a little later.
	meta := c.waitCheckpoint("agent-00", 20)
	if meta.Seq > 27 || meta.Schema != checkpoint.Schema || strings.Join(meta.Regions, ",") != "a,b" || meta.Epoch != 1 {
		t.Errorf("checkpoint meta %+v, want seq 20..27, schema %d, regions a,b, epoch 1", meta, checkpoint.Schema)
	}
	for _, region := range []string{"a", "b"} {
		body, err := c.store.Get(context.Background(), region, meta.Object)
		if err != nil || checkpoint.Sum(body) != meta.SHA256 {
			t.Errorf("region %s copy of %s: err %v, sha ok %v", region, meta.Object, err, err == nil && checkpoint.Sum(body) == meta.SHA256)
		}
	}
	tail := c.logEntries("agent-00")
	if int64(len(tail)) != 27-meta.Seq || (len(tail) > 0 && tail[0].Seq != meta.Seq+1) {
		t.Errorf("log after checkpoint at %d: %v, want seq %d..27", meta.Seq, tail, meta.Seq+1)
	}

	ha.stop()
	c.serving(hb, "agent-00", 2)
	for k, v := range want {
		if r := mustOK(t, get(t, hb, "agent-00", k), "read after restore"); r.body.Value != v {
			t.Errorf("%s = %q after restore, want %q", k, r.body.Value, v)
		}
	}
	a := hb.owned("agent-00")
	if err := a.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.unlock()
	if !maps.Equal(a.data, want) || a.restoredSeq != 27 || a.restoredFrom != "b" {
		t.Errorf("restored state %v at seq %d from %q, want %v at 27 from b", a.data, a.restoredSeq, a.restoredFrom, want)
	}
}

// A checkpoint copy that is corrupt or gone in the restoring host's own region is caught
// by sha256 and the restore uses another region's copy; with no intact copy the agent is
// not served.
func TestRestoreFallsBackToIntactRegion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  []string // regions whose copy is damaged
		delete  bool     // remove instead of overwriting
		serving bool
	}{
		{name: "corrupt-own-region", damage: []string{"b"}, serving: true},
		{name: "deleted-own-region", damage: []string{"b"}, delete: true, serving: true},
		{name: "no-intact-copy", damage: []string{"a", "b"}, serving: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, "a", "b")
			c.register(reg("agent-00", "a", "b"))
			cfg := func(cfg *Config) { cfg.CheckpointEvery = 10; cfg.RestoreBackoff = time.Minute }
			ha := c.startHost("a", cfg)
			hb := c.startHost("b", cfg)
			c.serving(ha, "agent-00", 1)
			want := map[string]string{}
			for i := range 14 {
				k, v := fmt.Sprintf("k%d", i%4), fmt.Sprintf("%s-%d", tc.name, i)
				mustOK(t, put(t, ha, "agent-00", k, v), "put")
				want[k] = v
			}
			meta := c.waitCheckpoint("agent-00", 10)
			for _, region := range tc.damage {
				var err error
				if tc.delete {
					err = c.store.Remove(context.Background(), region, meta.Object)
				} else {
					body, _ := c.store.Get(context.Background(), region, meta.Object)
					body = bytes.Replace(body, []byte(`"k0"`), []byte(`"kX"`), 1) // same size, other bytes
					err = c.store.Put(context.Background(), region, meta.Object, body)
				}
				if err != nil {
					t.Fatal(err)
				}
			}

			ha.stop()
			if !tc.serving {
				waitFor(t, 10*time.Second, "restore failure logged", func() bool {
					return strings.Contains(c.logs.String(), "RESTORE FAILED")
				})
				waitFor(t, 5*time.Second, "owner key released", func() bool {
					resp, err := c.cli.Get(context.Background(), api.OwnerKey("agent-00"))
					return err == nil && len(resp.Kvs) == 0
				})
				if r := get(t, hb, "agent-00", "k0"); r.status != http.StatusConflict {
					t.Errorf("agent without an intact checkpoint was served: %+v", r)
				}
				return
			}
			c.serving(hb, "agent-00", 2)
			a := hb.owned("agent-00")
			if err := a.lock(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, from, seq := maps.Clone(a.data), a.restoredFrom, a.restoredSeq
			a.unlock()
			if from != "a" || seq != 14 || !maps.Equal(got, want) {
				t.Errorf("restored %v at seq %d from %q, want %v at 14 from a", got, seq, from, want)
			}
		})
	}
}

func TestCheckpointNeedsTwoRegions(t *testing.T) {
	c := newCluster(t, "a")
	c.endpoints = append(c.endpoints, checkpoint.Endpoint{Region: "b", Addr: testenv.FreeAddr(t)}) // nothing listens
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", func(cfg *Config) { cfg.CheckpointEvery = 5 })
	c.serving(ha, "agent-00", 1)
	for i := range 12 {
		mustOK(t, put(t, ha, "agent-00", "k", fmt.Sprint(i)), "put")
	}
	waitFor(t, 10*time.Second, "checkpoint attempt", func() bool {
		return strings.Contains(c.logs.String(), "checkpoint not published")
	})
	if m, ok := c.checkpointMeta("agent-00"); ok {
		t.Errorf("checkpoint published with one region: %+v", m)
	}
	if n := len(c.logEntries("agent-00")); n != 12 {
		t.Errorf("log has %d entries, want all 12 kept", n)
	}
}

// The unsafe switch really is unsafe: a write acknowledged from memory and not committed
// yet is gone after a takeover.
func TestUnsafeAckBeforeCommitLosesAckedWrites(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", func(cfg *Config) {
		cfg.Bugs = bugs.Of(bugs.AckBeforeCommit)
		cfg.FlushEvery = time.Hour // the region dies before the next batch
	})
	hb := c.startHost("b", nil)
	c.serving(ha, "agent-00", 1)

	mustOK(t, put(t, ha, "agent-00", "k", "acked-then-lost"), "unsafe put")
	if r := mustOK(t, get(t, ha, "agent-00", "k"), "unsafe read"); r.body.Value != "acked-then-lost" {
		t.Fatalf("unsafe owner reads %q", r.body.Value)
	}
	if n := len(c.logEntries("agent-00")); n != 0 {
		t.Fatalf("log has %d entries before any flush, want 0", n)
	}

	if _, err := c.cli.Revoke(context.Background(), c.lease(ha)); err != nil {
		t.Fatal(err)
	}
	c.serving(hb, "agent-00", 2)
	if r := mustOK(t, get(t, hb, "agent-00", "k"), "read after takeover"); r.body.Found {
		t.Fatalf("acknowledged write survived the takeover (%q); the unsafe mode is expected to lose it", r.body.Value)
	}
	ha.stop() // a clean stop flushes what is pending; it is fenced or dropped by now
	if n := len(c.logEntries("agent-00")); n != 0 {
		t.Errorf("stale unsafe owner committed %d entries after the takeover", n)
	}
}

func TestUnsafeModeCommitsInBackground(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", func(cfg *Config) {
		cfg.Bugs = bugs.Of(bugs.AckBeforeCommit)
		cfg.FlushEvery = 100 * time.Millisecond
		cfg.CheckpointEvery = 10
	})
	hb := c.startHost("b", nil)
	c.serving(ha, "agent-00", 1)
	for i := range 25 {
		mustOK(t, put(t, ha, "agent-00", "k", fmt.Sprint("v", i)), "unsafe put")
	}
	waitFor(t, 5*time.Second, "background commit of all 25 entries", func() bool {
		m, _ := c.checkpointMeta("agent-00")
		return m.Seq+int64(len(c.logEntries("agent-00"))) == 25
	})
	ha.stop()
	c.serving(hb, "agent-00", 2)
	if r := mustOK(t, get(t, hb, "agent-00", "k"), "read after takeover"); r.body.Value != "v24" {
		t.Errorf("after takeover k = %q, want v24", r.body.Value)
	}
}

// When etcd does not answer a write, its outcome is unknown: the client hears so, the host
// stops serving the agent at once (its memory might miss the entry), and a fresh takeover
// restores whatever etcd holds.
func TestUnknownWriteOutcomeRetakesAgent(t *testing.T) {
	c := newCluster(t, "a")
	c.register(reg("agent-00", "a"))
	proxy := testenv.StartProxy(t, c.etcd)
	ha := c.startHost("a", func(cfg *Config) {
		cfg.Etcd = []string{proxy.Addr()}
		cfg.OpTimeout = 300 * time.Millisecond
		cfg.LeaseTTL = 5 * time.Second // the lease outlives the cut
	})
	c.serving(ha, "agent-00", 1)
	mustOK(t, put(t, ha, "agent-00", "k", "v1"), "put")

	proxy.Block()
	r := put(t, ha, "agent-00", "k", "v2")
	if r.status != http.StatusInternalServerError || r.outcome != "unknown" {
		t.Fatalf("put while etcd is cut off: %+v, want 500 unknown", r)
	}
	if r := get(t, ha, "agent-00", "k"); r.status != http.StatusConflict {
		t.Errorf("read right after an unknown write: %+v, want 409 (not served from memory)", r)
	}
	proxy.Unblock()

	if e := c.serving(ha, "agent-00", 2); e != 2 {
		t.Fatalf("retaken at epoch %d, want 2", e)
	}
	entries := c.logEntries("agent-00")
	want := entries[len(entries)-1].Value
	if r := mustOK(t, get(t, ha, "agent-00", "k"), "read after retake"); r.body.Value != want || r.epoch != 2 {
		t.Errorf("after retake k = %q at epoch %d, want %q (the log's) at 2", r.body.Value, r.epoch, want)
	}
	mustOK(t, put(t, ha, "agent-00", "k", "v3"), "put after retake")
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeze copies what host h knows of agent now: the view a stale owner keeps acting on after
// it loses the agent. It returns the live agent and the frozen copy.
func freeze(t *testing.T, h *runningHost, name string) (live, stale *agent) {
	t.Helper()
	live = h.owned(name)
	if err := live.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer live.unlock()
	stale = newAgent(live.name, live.epoch, live.takeRev, live.leaseGen)
	stale.ready, stale.data, stale.seq, stale.committed = true, maps.Clone(live.data), live.seq, live.committed
	return live, stale
}

// A host counts the client operations it is handling in /status's in_flight, including one
// whose client went away, until its handler returns: the harness waits for 0 before its
// final reads.
func TestStatusCountsOpsInFlight(t *testing.T) {
	h := &Host{metrics: &metrics{ops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ops"}, []string{"kind", "outcome"})}}
	release, entered := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(h.countOps("put", func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/agents/a/kv/k", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	if n := h.Status().InFlight; n != 1 {
		t.Errorf("in flight while handling: %d, want 1", n)
	}
	cancel() // the client gives up; the host still holds the operation
	<-done
	if n := h.Status().InFlight; n != 1 {
		t.Errorf("in flight after the client left: %d, want 1", n)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for h.Status().InFlight != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.Status().InFlight; n != 0 {
		t.Errorf("in flight after the handler returned: %d, want 0", n)
	}
}
