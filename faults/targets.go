package faults

import (
	"context"
	"fmt"
	"slices"
)

// resolveRegion turns "busiest" into the region owning most agents right now; any other
// name is returned as is.
func resolveRegion(ctx context.Context, env Env, region string) (string, error) {
	if region != "busiest" {
		return region, nil
	}
	if env.Owners == nil {
		return "", fmt.Errorf("cannot resolve \"busiest\": no owner view")
	}
	owners, err := env.Owners(ctx)
	if err != nil {
		return "", fmt.Errorf("read owners to find the busiest region: %w", err)
	}
	r := busiest(owners)
	if r == "" {
		return "", fmt.Errorf("no agent has an owner: cannot pick the busiest region")
	}
	return r, nil
}

// others is every region of topology except the given ones, in order.
func others(topology []string, except ...string) []string {
	var out []string
	for _, r := range topology {
		if !slices.Contains(except, r) {
			out = append(out, r)
		}
	}
	return out
}

// majority is how many of n members make a quorum.
func majority(n int) int { return n/2 + 1 }
