package netns

import (
	"context"
	"syscall"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// What the netns provider does through the stack's processes, the same way the local
// provider does: observe, kill and restore regions, signal and health-check services, set
// a host's clock, read the object stores. The local provider's Toxiproxy paths are not
// forwarded: inside per-region networks they carry nothing, and faults.go does the network
// faults with nftables instead.

// Endpoints is where the stack answers (valid after Up).
func (c *Cluster) Endpoints() clusters.Endpoints { return c.procs.Endpoints() }

// RunDir holds the run's logs and data.
func (c *Cluster) RunDir() string { return c.procs.RunDir() }

// Owners is the router's view of every agent's owner.
func (c *Cluster) Owners(ctx context.Context) (map[string]api.Owner, error) {
	return c.procs.Owners(ctx)
}

// ObjectStore is region's MinIO address and credentials.
func (c *Cluster) ObjectStore(region string) (addr, user, password, bucket string, err error) {
	return c.procs.ObjectStore(region)
}

// KillRegion SIGKILLs every process of region.
func (c *Cluster) KillRegion(ctx context.Context, region string) error {
	return c.procs.KillRegion(ctx, region)
}

// RestoreRegion restarts whatever of region is not running, with the same ports and data.
func (c *Cluster) RestoreRegion(ctx context.Context, region string) error {
	return c.procs.RestoreRegion(ctx, region)
}

// Signal sends sig to one service's process group.
func (c *Cluster) Signal(region, service string, sig syscall.Signal) error {
	return c.procs.Signal(region, service, sig)
}

// ServiceHealthy checks one service of a region.
func (c *Cluster) ServiceHealthy(ctx context.Context, region, service string) error {
	return c.procs.ServiceHealthy(ctx, region, service)
}

// SetClockOffset sets the offset of region's agent host clock.
func (c *Cluster) SetClockOffset(ctx context.Context, region string, offset time.Duration) error {
	return c.procs.SetClockOffset(ctx, region, offset)
}

// ClockOffset reads the offset of region's agent host clock.
func (c *Cluster) ClockOffset(ctx context.Context, region string) (time.Duration, error) {
	return c.procs.ClockOffset(ctx, region)
}

// CertRealisation says whether region certificates can be expired (the stack runs with TLS,
// which it does here unless its configuration turns it off).
func (c *Cluster) CertRealisation() (faults.Realisation, string) { return c.procs.CertRealisation() }

// ExpireCert re-issues region's certificate as expired.
func (c *Cluster) ExpireCert(ctx context.Context, region string) error {
	return c.procs.ExpireCert(ctx, region)
}

// RenewCert issues region a valid certificate again.
func (c *Cluster) RenewCert(ctx context.Context, region string) error {
	return c.procs.RenewCert(ctx, region)
}

// PresentCert asks the other regions' services and the router to serve a request on
// region's certificate.
func (c *Cluster) PresentCert(ctx context.Context, region string) map[string]error {
	return c.procs.PresentCert(ctx, region)
}

// CertAccepted completes a fresh TLS handshake with region's host.
func (c *Cluster) CertAccepted(ctx context.Context, region string) error {
	return c.procs.CertAccepted(ctx, region)
}

// ServiceUnits says what the services run as when the fabric runs them otherwise than as
// processes in the namespaces (faults.ServiceUnits); "" on this package's own network.
func (c *Cluster) ServiceUnits() string {
	if u, ok := c.fabric.(faults.ServiceUnits); ok {
		return u.ServiceUnits()
	}
	return ""
}
