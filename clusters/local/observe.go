package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
)

// Owners is the router's view of who owns each agent.
func (c *Cluster) Owners(ctx context.Context) (map[string]api.Owner, error) {
	c.mu.Lock()
	router := c.eps.StatusRouter()
	c.mu.Unlock()
	if router == "" {
		return nil, errors.New("owners: local cluster is not up")
	}
	return clusters.RouterOwnersWith(ctx, c.client, router)
}

// Process describes one service process as last started.
type Process struct {
	Region  string // "" for the router
	Service string
	PID     int
	Running bool
	Log     string
}

// Processes lists every service that has been started, in start order.
func (c *Cluster) Processes() []Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Process
	for _, s := range c.services {
		if s.cur == nil {
			continue
		}
		out = append(out, Process{Region: s.region, Service: s.name, PID: s.cur.PID(), Running: s.cur.Running(), Log: s.log})
	}
	return out
}

// probes

func (c *Cluster) get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

func (c *Cluster) get200(ctx context.Context, url string) error {
	code, body, err := c.get(ctx, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %.200s", url, code, body)
	}
	return nil
}

func (c *Cluster) etcdHealthy(ctx context.Context, endpoint string) error {
	url := c.scheme() + "://" + endpoint + "/health"
	code, body, err := c.get(ctx, url)
	if err != nil {
		return err
	}
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Health != "true" {
		return fmt.Errorf("GET %s: status %d: %.200s", url, code, body)
	}
	return nil
}
