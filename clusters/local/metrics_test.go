package local_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every component of a running stack answers /metrics (Prometheus text) and its health
// endpoint: routers and hosts with the stack's own metrics (the controller's inside each
// host), etcd with its built-in ones, MinIO with its cluster metrics. Exactly one controller
// is the elected leader, and an op through the router shows up in its owner's counters.
func TestMetricsOnEveryComponent(t *testing.T) {
	bin := realBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, _ := upCluster(t, ctx, bin)
	eps := c.Endpoints()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(url string) string {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %.300s", url, resp.Status, body)
		}
		return string(body)
	}
	want := func(what, body string, names ...string) {
		t.Helper()
		for _, n := range names {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(n) + `[{ ]`).MatchString(body) {
				t.Errorf("%s /metrics has no %s", what, n)
			}
		}
	}

	// One write through the router, so the owner has an op to count.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, eps.Router+"/agents/agent-00/kv/k0", strings.NewReader("v1"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("put through the router: %s", resp.Status)
	}
	owner := resp.Header.Get("X-Geodrill-Region")

	get(eps.Router + "/healthz")
	want("router", get(eps.Router+"/metrics"), "geodrill_router_requests_total", "geodrill_router_owners", "go_goroutines")

	// A probe counter appears with a controller's first probe, which may come a moment after
	// Up returns: wait for it (bounded), then judge every metric.
	for _, re := range eps.Regions {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if strings.Contains(get(re.Host+"/metrics"), "geodrill_controller_probes_total") {
				break
			}
		}
	}
	leaders := 0.0
	for region, re := range eps.Regions {
		get(re.Host + "/healthz")
		m := get(re.Host + "/metrics")
		want("host "+region, m, "geodrill_host_takeovers_total", "geodrill_host_agents_served",
			"geodrill_host_lease_losses_total", "geodrill_controller_leader", "geodrill_controller_probes_total")
		if region == owner {
			want("owner host "+region, m, "geodrill_host_ops_total", "geodrill_host_agent_epoch")
			if !strings.Contains(m, `geodrill_host_ops_total{kind="put",outcome="ok"}`) {
				t.Errorf("owner host %s counts no ok put", region)
			}
		}
		leaders += gauge(t, m, "geodrill_controller_leader")

		get("http://" + re.Etcd + "/health")
		want("etcd "+region, get("http://"+re.Etcd+"/metrics"), "etcd_server_has_leader")

		get("http://" + re.MinIO + "/minio/health/live")
		want("minio "+region, get("http://"+re.MinIO+"/minio/v2/metrics/cluster"), "minio_cluster_health_status")
	}
	if leaders != 1 {
		t.Errorf("%v controllers say they lead, want exactly 1", leaders)
	}
}

func gauge(t *testing.T, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Errorf("no sample of %s", name)
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Error(fmt.Errorf("%s: %w", name, err))
	}
	return v
}
