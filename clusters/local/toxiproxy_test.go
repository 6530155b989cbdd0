package local_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
)

// The object-store path between two regions runs through an embedded Toxiproxy: a latency
// toxic slows a real MinIO request through it, removing it restores the speed, and Down
// stops the proxy.
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
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("the proxy still accepts connections after Down")
	}
}
