package local

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/tlsconf"
	"github.com/geodrill/geodrill/rundir"
)

// Mutual TLS, when the stack's configuration asks for it (or, unset, the network's default:
// on inside per-region networks, off on loopback): a CA drawn per run signs one
// certificate per region, shared by its etcd member, MinIO and host, one for the routers
// and one for the harness (refstack/tlsconf), in the run directory's tls/ folder.

// tlsOn says whether this cluster runs with TLS.
func (c *Cluster) tlsOn() bool { return c.spec.Stack.TLSOn(c.net.TLSDefault) }

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
	c.tlsDir, c.tlsClient = dir, cfg
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
