package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters/local"
)

// With a 15s lease, the agents of a killed region are owned elsewhere within a few seconds:
// only the controller (probes, then revoking the dead host's lease) can do that. Keepalives
// renew the lease every TTL/3, so waiting for it would take at least 10s after the kill.
func TestControllerFailsOverBeforeTheLeaseExpires(t *testing.T) {
	const ttl = 15 * time.Second
	const limit = 8 * time.Second // below 2/3 of the TTL; measured 1-3s
	bin := realBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	runDir := t.TempDir()
	s := testSpec(bin, runDir)
	s.Stack.LeaseTTL = ttl
	s.Progress = func(msg string) { t.Log(msg) }
	c, err := local.New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	if err := c.Up(ctx); err != nil {
		t.Fatal(err)
	}
	owners, err := c.Owners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var inA []string
	for agent, o := range owners {
		if o.Region == "a" {
			inA = append(inA, agent)
		}
	}
	if len(inA) == 0 {
		t.Fatalf("no agent in region a: %v", owners)
	}

	killed := time.Now()
	if err := c.KillRegion(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for {
		owners, err := c.Owners(ctx)
		moved := 0
		for _, agent := range inA {
			if o, ok := owners[agent]; err == nil && ok && o.Region != "a" {
				moved++
			}
		}
		if moved == len(inA) {
			break
		}
		// The limit leaves room for etcd electing a new leader (1-2s, when a held it) on a
		// loaded machine, and still cannot be met by lease expiry.
		if time.Since(killed) > limit {
			t.Fatalf("after %s only %d of %d agents of region a are owned elsewhere (lease TTL %s)",
				time.Since(killed).Round(time.Millisecond), moved, len(inA), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d agents of killed region a owned elsewhere %s after the kill (lease TTL %s)",
		len(inA), time.Since(killed).Round(time.Millisecond), ttl)
}
