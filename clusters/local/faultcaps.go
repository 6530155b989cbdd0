package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
)

// ServiceHealthy checks one service's health endpoint: api.ServiceEtcd (which fails
// without a quorum), ServiceMinIO, ServiceHost of region, or ServiceRouter with region "".
// Faults use it to verify that a crash, pause or quorum loss took effect and was healed.
func (c *Cluster) ServiceHealthy(ctx context.Context, region, service string) error {
	c.mu.Lock()
	eps, ok := c.eps, c.state == up
	re, known := c.eps.Regions[region]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("service health: local cluster is not up")
	}
	if service == api.ServiceRouter {
		return c.get200(ctx, eps.StatusRouter()+"/healthz")
	}
	if !known {
		return fmt.Errorf("service health: no region %q", region)
	}
	switch service {
	case api.ServiceEtcd:
		return c.etcdHealthy(ctx, re.Etcd)
	case api.ServiceMinIO:
		return c.get200(ctx, c.scheme()+"://"+re.MinIO+"/minio/health/live")
	case api.ServiceHost:
		return c.get200(ctx, re.Host+"/healthz")
	}
	return fmt.Errorf("service health: unknown service %q (use etcd, minio, host or router)", service)
}

// clockState is refstack/clock's JSON.
type clockState struct {
	Offset string `json:"offset"`
}

// SetClockOffset sets the wall-clock offset of region's agent host at runtime (PUT /clock).
// A host restarted after a kill starts again with no offset.
func (c *Cluster) SetClockOffset(ctx context.Context, region string, offset time.Duration) error {
	body, _ := json.Marshal(clockState{Offset: offset.String()})
	_, err := c.clock(ctx, region, http.MethodPut, body)
	return err
}

// ClockOffset reads the offset of region's agent host clock.
func (c *Cluster) ClockOffset(ctx context.Context, region string) (time.Duration, error) {
	s, err := c.clock(ctx, region, http.MethodGet, nil)
	if err != nil {
		return 0, err
	}
	return time.ParseDuration(s.Offset)
}

func (c *Cluster) clock(ctx context.Context, region, method string, body []byte) (clockState, error) {
	c.mu.Lock()
	re, known := c.eps.Regions[region]
	c.mu.Unlock()
	if !known {
		return clockState{}, fmt.Errorf("clock: no region %q", region)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, re.Host+"/clock", bytes.NewReader(body))
	if err != nil {
		return clockState{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return clockState{}, fmt.Errorf("clock of host %s: %w", region, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return clockState{}, fmt.Errorf("%s %s/clock: status %d: %.200s", method, re.Host, resp.StatusCode, raw)
	}
	var s clockState
	if err := json.Unmarshal(raw, &s); err != nil {
		return clockState{}, fmt.Errorf("clock of host %s: %w", region, err)
	}
	return s, nil
}
