package local_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
)

// The object-store path between two regions runs through an embedded Toxiproxy: a latency
// toxic slows a real MinIO request through it, removing it restores the speed, and Down
// stops the proxy. The client→router and host→etcd paths run through proxies too, and stop
// with the cluster.
func TestToxiproxyDegradesObjectStorePath(t *testing.T) {
	c, _ := upCluster(t, context.Background(), realBin(t))
	ctx := context.Background()
	addr := c.ProxyAddr("a", "b")
	if addr == "" {
		t.Fatal("no proxy from host a to minio b")
	}
	if c.ProxyAddr("a", "a") != "" {
		t.Error("a region's own object store must not be proxied")
	}
	get := func() time.Duration {
		t.Helper()
		began := time.Now()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/minio/health/live")
		if err != nil {
			t.Fatalf("GET through the proxy: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET through the proxy: status %d", resp.StatusCode)
		}
		return time.Since(began)
	}
	if d := get(); d > 300*time.Millisecond {
		t.Fatalf("undegraded request took %s", d)
	}
	if how, _ := c.LinkRealisation(faults.Link{From: "a", To: "b", Loss: 0.1}); how != faults.Unavailable {
		t.Errorf("loss on local realised %s, want unavailable", how)
	}
	link := faults.Link{From: "a", To: "b", Latency: 400 * time.Millisecond}
	if err := c.Degrade(ctx, "wan-a-b", link); err != nil {
		t.Fatal(err)
	}
	if err := c.Degraded(ctx, "wan-a-b"); err != nil {
		t.Fatal(err)
	}
	if d := get(); d < 400*time.Millisecond {
		t.Errorf("request with a 400ms latency toxic took only %s", d)
	}
	if err := c.Restore(ctx, "wan-a-b"); err != nil {
		t.Fatal(err)
	}
	if c.Degraded(ctx, "wan-a-b") == nil {
		t.Error("still degraded after Restore")
	}
	if d := get(); d > 300*time.Millisecond {
		t.Errorf("restored request took %s", d)
	}

	// The client path to the router and each host's path to its etcd member are proxied too.
	eps := c.Endpoints()
	if eps.RouterDirect == "" || eps.Router == eps.RouterDirect {
		t.Fatalf("router %q, direct %q: clients should reach the router through a proxy", eps.Router, eps.RouterDirect)
	}
	for _, u := range []string{eps.Router, eps.RouterDirect} {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u + "/healthz")
		if err != nil {
			t.Fatalf("router health at %s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("router health at %s: status %d", u, resp.StatusCode)
		}
	}
	closed := []string{addr, eps.Router[len("http://"):]}
	for _, p := range c.Processes() {
		if p.Service != "host" {
			continue
		}
		etcd := c.EtcdProxyAddr(p.Region)
		if etcd == "" || etcd == eps.Regions[p.Region].Etcd {
			t.Fatalf("host %s reaches etcd at %q, want a proxy to %s", p.Region, etcd, eps.Regions[p.Region].Etcd)
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(cmdline, []byte("\x00--etcd\x00"+etcd+"\x00")) {
			t.Errorf("host %s is not started with --etcd %s: %q", p.Region, etcd, cmdline)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + etcd + "/health")
		if err != nil {
			t.Fatalf("etcd health through the proxy of host %s: %v", p.Region, err)
		}
		resp.Body.Close()
		closed = append(closed, etcd)
	}
	// Isolating a region blackholes its host's etcd path until healed.
	if err := c.Isolate(ctx, "isolate-a", "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Isolated(ctx, "isolate-a"); err != nil {
		t.Errorf("after Isolate: %v", err)
	}
	if err := c.Heal(ctx, "isolate-a"); err != nil {
		t.Fatal(err)
	}
	if c.Isolated(ctx, "isolate-a") == nil {
		t.Error("host a still cut from its etcd member after Heal")
	}
	if len(closed) != 2+3 {
		t.Fatalf("checked %d proxies, want the MinIO one, the router's and one etcd per region (3)", len(closed))
	}
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range closed {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("the proxy at %s still accepts connections after Down", a)
		}
	}
}
