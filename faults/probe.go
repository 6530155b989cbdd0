package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/geodrill/geodrill/clusters"
)

// HTTPProbe checks a region through its services' health URLs.
type HTTPProbe struct {
	// Regions maps a region to the health URLs of its services.
	Regions map[string][]string
	Client  *http.Client
}

// RegionUp returns nil when every health URL of the region answers 200.
func (p HTTPProbe) RegionUp(ctx context.Context, region string) error {
	urls, err := p.urls(region)
	if err != nil {
		return err
	}
	for _, u := range urls {
		code, err := p.get(ctx, u)
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		if code != http.StatusOK {
			return fmt.Errorf("%s: status %d", u, code)
		}
	}
	return nil
}

// RegionAnswers returns nil when every health URL of the region gets an HTTP answer, of
// any status.
func (p HTTPProbe) RegionAnswers(ctx context.Context, region string) error {
	urls, err := p.urls(region)
	if err != nil {
		return err
	}
	for _, u := range urls {
		if _, err := p.get(ctx, u); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
	}
	return nil
}

// RegionDown returns nil when no health URL of the region gets any HTTP answer.
func (p HTTPProbe) RegionDown(ctx context.Context, region string) error {
	urls, err := p.urls(region)
	if err != nil {
		return err
	}
	var up []string
	for _, u := range urls {
		if _, err := p.get(ctx, u); err == nil {
			up = append(up, u)
		}
	}
	if len(up) > 0 {
		return fmt.Errorf("region %s still answers at %s", region, strings.Join(up, ", "))
	}
	return nil
}

func (p HTTPProbe) urls(region string) ([]string, error) {
	urls, ok := p.Regions[region]
	if !ok || len(urls) == 0 {
		return nil, fmt.Errorf("no health URLs for region %q", region)
	}
	return urls, nil
}

// get answers the status of url (clusters.HealthStatus: tcp:// URLs are dialled).
func (p HTTPProbe) get(ctx context.Context, url string) (int, error) {
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return clusters.HealthStatus(ctx, c, url)
}
