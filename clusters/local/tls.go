package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/tlsconf"
	"github.com/geodrill/geodrill/rundir"
)

// Mutual TLS, when the stack's configuration asks for it (or, unset, the network's default:
// on inside per-region networks, off on loopback): a CA drawn per run signs one
// certificate per region, shared by its etcd member, MinIO and host, one for the routers
// and one for the harness (refstack/tlsconf), in the run directory's tls/ folder.

// tlsOn says whether this cluster runs with TLS.
func (c *Cluster) tlsOn() bool { return c.spec.Stack.TLSOn(c.net.TLSDefault) }

// TLSOn says whether the stack runs with mutual TLS (known before Up).
func (c *Cluster) TLSOn() bool { return c.tlsOn() }

// setupTLS draws the run's certificates into runDir and arms the cluster's own client with
// the harness's; it returns the files for the endpoints (nil without TLS).
func (c *Cluster) setupTLS(runDir string) (*clusters.TLSFiles, error) {
	if !c.tlsOn() {
		return nil, nil
	}
	dir := filepath.Join(runDir, rundir.TLSDir)
	hosts := []string{"127.0.0.1", "localhost"}
	names := []string{tlsconf.Router, tlsconf.Harness}
	for _, r := range c.spec.Regions {
		names = append(names, r)
		if c.net.IP != nil {
			hosts = append(hosts, c.net.IP(r))
		}
	}
	if err := tlsconf.Generate(dir, names, hosts); err != nil {
		return nil, err
	}
	// MinIO reads its certificate from a folder of its own: public.crt, private.key and
	// the CAs it trusts under CAs/.
	for _, r := range c.spec.Regions {
		ca, cert, key := tlsconf.Files(dir, r)
		md := c.minioCerts(r, runDir)
		if err := os.MkdirAll(filepath.Join(md, "CAs"), 0o700); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		for from, to := range map[string]string{cert: "public.crt", key: "private.key", ca: filepath.Join("CAs", "ca.crt")} {
			if err := os.Symlink(from, filepath.Join(md, to)); err != nil {
				return nil, fmt.Errorf("tls: %w", err)
			}
		}
	}
	ca, cert, key := tlsconf.Files(dir, tlsconf.Harness)
	files := &clusters.TLSFiles{CA: ca, Cert: cert, Key: key}
	cfg, err := clusters.Endpoints{TLS: files}.ClientTLS()
	if err != nil {
		return nil, err
	}
	c.tlsDir, c.tlsClient, c.tlsHosts = dir, cfg, hosts
	c.client.Transport.(*http.Transport).TLSClientConfig = cfg
	return files, nil
}

// minioCerts is region's MinIO certificate folder (--certs-dir).
func (c *Cluster) minioCerts(region, runDir string) string {
	return filepath.Join(runDir, rundir.TLSDir, "minio-"+region)
}

// scheme is the URL scheme of the stack's HTTP services.
func (c *Cluster) scheme() string {
	if c.tlsClient != nil {
		return "https"
	}
	return "http"
}

// tlsArgs are the refstack flags that turn TLS on: none without it.
func (c *Cluster) tlsArgs() []string {
	if c.tlsDir == "" {
		return nil
	}
	return []string{"--tls-dir", c.tlsDir}
}

// freshClient opens a new connection per request (a probe across a cut or a slowed path
// must not reuse one opened before), with the harness's certificate under TLS.
func (c *Cluster) freshClient() *http.Client {
	var cfg *tls.Config
	if c.tlsClient != nil {
		cfg = c.tlsClient.Clone()
	}
	return &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: cfg}}
}

// CertRealisation says whether the cluster can expire a region's certificate: only when
// the stack runs with TLS.
func (c *Cluster) CertRealisation() (faults.Realisation, string) {
	if !c.tlsOn() {
		return faults.Unavailable, "the stack runs without TLS: set stack.tls: true"
	}
	return faults.Exact, "the region's certificate (its etcd member's, MinIO's and host's) re-issued with its validity " +
		"ended an hour ago; the host and etcd read it at every handshake, so new connections are refused while open " +
		"ones live on; MinIO reloads it on its own schedule"
}

// ExpireCert re-issues region's certificate as expired an hour ago.
func (c *Cluster) ExpireCert(_ context.Context, region string) error {
	past := time.Now().Add(-time.Hour)
	return c.resign(region, past.Add(-time.Hour), past)
}

// RenewCert issues region a certificate valid from now on.
func (c *Cluster) RenewCert(_ context.Context, region string) error {
	now := time.Now()
	return c.resign(region, now.Add(-time.Minute), now.Add(tlsconf.Validity))
}

func (c *Cluster) resign(region string, from, to time.Time) error {
	if c.tlsDir == "" {
		return errors.New("the stack runs without TLS")
	}
	ca, key, err := tlsconf.LoadCA(c.tlsDir)
	if err != nil {
		return err
	}
	return tlsconf.Sign(c.tlsDir, region, c.tlsHosts, ca, key, from, to)
}

// CertAccepted opens a fresh TLS connection to region's agent host and completes the
// handshake: nil when the host's certificate is accepted.
func (c *Cluster) CertAccepted(ctx context.Context, region string) error {
	c.mu.Lock()
	host := c.eps.Regions[region].Host
	c.mu.Unlock()
	if c.tlsClient == nil || host == "" {
		return fmt.Errorf("no TLS host for region %q", region)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d := tls.Dialer{Config: c.tlsClient.Clone()}
	conn, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(host, "https://"))
	if err != nil {
		return err
	}
	return conn.Close()
}

// PresentCert makes one request to every other region's etcd member and host and to the
// router over a fresh connection that presents region's certificate, as region's own
// services do: per service, nil when the request was served. MinIO is not asked: it does
// not check client certificates (its TLS is server-side only).
func (c *Cluster) PresentCert(ctx context.Context, region string) map[string]error {
	c.mu.Lock()
	eps := c.eps
	c.mu.Unlock()
	out := map[string]error{}
	if c.tlsDir == "" {
		out["tls"] = errors.New("the stack runs without TLS")
		return out
	}
	ca, cert, key := tlsconf.Files(c.tlsDir, region)
	cfg, err := clusters.Endpoints{TLS: &clusters.TLSFiles{CA: ca, Cert: cert, Key: key}}.ClientTLS()
	if err != nil {
		out["tls"] = err
		return out
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: cfg}}
	ask := func(url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for r, re := range eps.Regions {
		if r == region {
			continue
		}
		out["etcd "+r] = ask("https://" + re.Etcd + "/health")
		out["host "+r] = ask(re.Host + "/healthz")
	}
	out["router"] = ask(eps.StatusRouter() + "/healthz")
	return out
}
