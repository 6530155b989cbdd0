package netns_test

import (
	"context"
	"errors"
	"github.com/geodrill/geodrill/refstack/config"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/clusters/netns"
	"github.com/geodrill/geodrill/faults"
)

// newCluster builds a netns cluster of the shipped scenarios' shape, skipping where the
// provider cannot run (not root) unless integration tests are required.
func newCluster(t *testing.T, edits ...func(*clusters.Spec)) (*netns.Cluster, string) {
	t.Helper()
	if err := netns.Available(); err != nil {
		if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") != "" && os.Geteuid() == 0 {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin, err := clusters.FindBinDir("")
	if err != nil {
		t.Fatal(err)
	}
	runDir := t.TempDir()
	s := clusters.Spec{
		Regions: []string{"a", "b", "c"}, Agents: 6, Stack: config.Stack{LeaseTTL: 2 * time.Second},
		BinDir: bin, RunDir: runDir, Progress: func(m string) { t.Log(m) },
	}
	for _, edit := range edits {
		edit(&s)
	}
	c, err := netns.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c, runDir
}

// assertClean fails if anything of c is left: namespace, bridge or veth, or a process.
func assertClean(t *testing.T, c *netns.Cluster, runDir string) {
	t.Helper()
	mine, bridge := c.Names()
	nss, links, err := netns.Leftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		if slices.Contains(mine, ns) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	for _, l := range links {
		if len(l) >= len(bridge) && l[:len(bridge)] == bridge {
			t.Errorf("link %s left behind", l)
		}
	}
	if pids, _ := local.Leftovers(runDir); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
	if out, err := exec.Command("iptables", "-w", "-S", "FORWARD").Output(); err == nil && strings.Contains(string(out), "geodrill-"+bridge+" ") {
		t.Errorf("iptables FORWARD accept for %s left behind:\n%s", bridge, out)
	}
}

func TestPartitionsAreExactAndEverythingIsRemoved(t *testing.T) {
	c, runDir := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	defer assertClean(t, c, runDir)
	defer func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	}()
	if err := c.Up(ctx); err != nil {
		t.Fatal(err)
	}
	// Regions are machines apart here: the stack runs with mutual TLS unless told not to,
	// and reply loss, which may then hit a handshake, says it is approximate.
	if eps := c.Endpoints(); eps.TLS == nil || !strings.HasPrefix(eps.Regions["a"].Host, "https://") {
		t.Errorf("netns without TLS by default: %+v", eps)
	}
	if how, why := c.ReplyLossRealisation(faults.PathRouterHost, faults.ReplyReset); how != faults.Approximate || !strings.Contains(why, "TLS") {
		t.Errorf("reply loss under TLS: %s (%s), want approximate naming TLS", how, why)
	}
	regions := []string{"a", "b", "c"}
	reach := func(want map[[2]string]bool) {
		t.Helper()
		for _, from := range regions {
			for _, to := range regions {
				if from == to {
					continue
				}
				err := c.Reachable(ctx, from, to)
				blocked := want[[2]string{from, to}]
				if blocked && err == nil {
					t.Errorf("%s reaches %s through a cut", from, to)
				}
				if !blocked && err != nil {
					t.Errorf("%s does not reach %s: %v", from, to, err)
				}
			}
		}
	}
	reach(nil)

	// Isolate a: both directions of a's links are cut, b-c stays, and the harness (in the
	// caller's namespace) still reaches a's host.
	if err := c.Partition(ctx, "iso-a", []faults.Cut{{From: "a", To: "b"}, {From: "b", To: "a"}, {From: "a", To: "c"}, {From: "c", To: "a"}}); err != nil {
		t.Fatal(err)
	}
	reach(map[[2]string]bool{{"a", "b"}: true, {"b", "a"}: true, {"a", "c"}: true, {"c", "a"}: true})
	// (The host itself answers 503 "no lease" by now: it noticed; MinIO just answers.)
	if err := c.ServiceHealthy(ctx, "a", "minio"); err != nil {
		t.Errorf("the isolated region must stay reachable from clients: %v", err)
	}
	// A second, overlapping cut heals independently of the first.
	if err := c.Partition(ctx, "b-c", []faults.Cut{{From: "b", To: "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Heal(ctx, "iso-a"); err != nil {
		t.Fatal(err)
	}
	// Only b→c is dropped; TCP from c to b also fails, since b's replies are what is lost.
	reach(map[[2]string]bool{{"b", "c"}: true, {"c", "b"}: true})
	if err := c.Heal(ctx, "b-c"); err != nil {
		t.Fatal(err)
	}
	reach(nil)

	// Loss on a link is installed, read back from the kernel, and removed.
	l := faults.Link{From: "a", To: "b", Loss: 0.2}
	if how, why := c.LinkRealisation(l); how != faults.Exact {
		t.Fatalf("loss realised %s (%s), want exact", how, why)
	}
	if err := c.Degrade(ctx, "wan-a-b", l); err != nil {
		t.Fatal(err)
	}
	if err := c.Degraded(ctx, "wan-a-b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, "wan-a-b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Degraded(ctx, "wan-a-b"); err == nil {
		t.Error("degradation still installed after Restore")
	}

	// Latency without sch_netem: packets between a and b are held in the harness, both
	// ways, so a TCP handshake from a to b (SYN to b, SYN-ACK back to a) takes two delays;
	// a to c is untouched, and so is a to b once the delay is removed.
	handshake := func(from, to string) time.Duration {
		t.Helper()
		start := time.Now()
		if err := c.Reachable(ctx, from, to); err != nil {
			t.Fatalf("%s -> %s: %v", from, to, err)
		}
		return time.Since(start)
	}
	slow := faults.Link{From: "a", To: "b", Latency: 200 * time.Millisecond}
	if how, why := c.LinkRealisation(slow); how != faults.Exact || !strings.Contains(why, "NFQUEUE") {
		t.Errorf("latency realised %s (%s), want exact, held through NFQUEUE", how, why)
	}
	if err := c.Degrade(ctx, "lat-a-b", slow); err != nil {
		t.Fatal(err)
	}
	if err := c.Degraded(ctx, "lat-a-b"); err != nil {
		t.Fatal(err)
	}
	if took := handshake("a", "b"); took < 400*time.Millisecond || took > 900*time.Millisecond {
		t.Errorf("a -> b handshake with 200ms each way took %s, want about 400ms", took)
	}
	if took := handshake("b", "a"); took < 400*time.Millisecond {
		t.Errorf("b -> a handshake with 200ms each way took %s, want about 400ms", took)
	}
	if took := handshake("a", "c"); took > 100*time.Millisecond {
		t.Errorf("a -> c is not on the slow link, yet its handshake took %s", took)
	}
	if n := c.Held("lat-a-b"); n < 4 {
		t.Errorf("%d packets held, want at least the two handshakes' four", n)
	}
	if err := c.Restore(ctx, "lat-a-b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Degraded(ctx, "lat-a-b"); err == nil {
		t.Error("latency still installed after Restore")
	}
	if took := handshake("a", "b"); took > 100*time.Millisecond {
		t.Errorf("a -> b handshake after Restore took %s", took)
	}
}

// A Ctrl-C during bring-up and a panic while the cluster is up both leave nothing behind.
func TestCleanupOnCancelAndPanic(t *testing.T) {
	t.Run("cancelled up", func(t *testing.T) {
		c, runDir := newCluster(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(1500*time.Millisecond, cancel)
		err := clusters.With(ctx, c, func(context.Context) error { return nil })
		if err == nil {
			t.Log("up finished before the cancel; cleanup is still checked")
		}
		assertClean(t, c, runDir)
	})
	t.Run("panic", func(t *testing.T) {
		c, runDir := newCluster(t)
		func() {
			defer func() {
				if p := recover(); p == nil {
					t.Error("the panic did not propagate")
				}
			}()
			_ = clusters.With(context.Background(), c, func(ctx context.Context) error {
				if err := c.Partition(ctx, "p", []faults.Cut{{From: "a", To: "b"}}); err != nil {
					return err
				}
				panic(errors.New("boom"))
			})
		}()
		assertClean(t, c, runDir)
	})
}

// Cleanup (harness down) removes a dead cluster's namespaces and links but never those of
// a cluster whose processes still run.
func TestCleanupSparesLiveClusters(t *testing.T) {
	live, runDir := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer assertClean(t, live, runDir)
	defer live.Down(context.Background())
	if err := live.Up(ctx); err != nil {
		t.Fatal(err)
	}
	// A dead cluster's leftovers, as a SIGKILLed harness leaves them.
	dead := "geodrill-0dead0-a"
	for _, cmd := range [][]string{{"netns", "add", dead}, {"link", "add", "gd0dead0", "type", "bridge"}} {
		if out, err := exec.Command("ip", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", cmd, err, out)
		}
	}
	removed, err := netns.Cleanup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, dead) || !slices.Contains(removed, "gd0dead0") {
		t.Errorf("cleanup removed %v, want the dead cluster's %s and gd0dead0", removed, dead)
	}
	for _, r := range []string{"a", "b", "c"} {
		if err := live.ServiceHealthy(ctx, r, "etcd"); err != nil {
			t.Errorf("cleanup broke the live cluster: etcd %s: %v", r, err)
		}
	}
}
