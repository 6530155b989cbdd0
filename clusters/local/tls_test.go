package local_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
)

// With stack.tls on, every link is mutual TLS from the run's CA: the endpoints are https,
// a client without the harness's certificate is refused by the router, a host and etcd, a
// client with it reads and writes through the router, and a region killed and restored
// comes back speaking TLS.
func TestMutualTLSCluster(t *testing.T) {
	on := true
	c, _ := upCluster(t, context.Background(), realBin(t), func(s *clusters.Spec) { s.Stack.TLS = &on })
	ctx := context.Background()
	eps := c.Endpoints()
	if eps.TLS == nil || !strings.HasPrefix(eps.Router, "https://") || !strings.HasPrefix(eps.Regions["a"].Host, "https://") {
		t.Fatalf("endpoints under TLS: %+v", eps)
	}
	harness, err := eps.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	// Trusting the CA but presenting no certificate: refused everywhere.
	anonymous := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: harness.RootCAs}, DisableKeepAlives: true}}
	for _, url := range []string{eps.StatusRouter() + "/healthz", eps.Regions["b"].Host + "/healthz", "https://" + eps.Regions["c"].Etcd + "/health"} {
		if resp, err := anonymous.Get(url); err == nil {
			resp.Body.Close()
			t.Errorf("GET %s without a client certificate: status %d, want the handshake refused", url, resp.StatusCode)
		}
	}
	// Plain HTTP is not served.
	if resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(strings.Replace(eps.StatusRouter(), "https://", "http://", 1) + "/healthz"); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Error("the router answers plain HTTP")
		}
		resp.Body.Close()
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: harness}}
	agent := agentOwnedBy(t, c, "a")
	put := func(v string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, eps.Router+"/agents/"+agent+"/kv/tls", strings.NewReader(v))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("PUT through the router under TLS: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT through the router under TLS: status %d", resp.StatusCode)
		}
	}
	put("v1")

	// An expired certificate is refused at the next handshake, and a renewed one accepted,
	// without restarting anything.
	if err := c.CertAccepted(ctx, "b"); err != nil {
		t.Fatalf("region b's certificate before the fault: %v", err)
	}
	if err := c.ExpireCert(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.CertAccepted(ctx, "b"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("region b's expired certificate: %v, want it refused as expired", err)
	}
	if err := c.RenewCert(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.CertAccepted(ctx, "b"); err != nil {
		t.Errorf("region b's renewed certificate: %v", err)
	}

	if err := c.KillRegion(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.RestoreRegion(ctx, "a"); err != nil {
		t.Fatalf("restore under TLS: %v", err)
	}
	for _, svc := range []string{api.ServiceEtcd, api.ServiceMinIO, api.ServiceHost} {
		if err := c.ServiceHealthy(ctx, "a", svc); err != nil {
			t.Errorf("%s a after restore: %v", svc, err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, eps.Router+"/agents/"+agent+"/kv/tls", nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "v1") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write before the outage is not read back under TLS: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
