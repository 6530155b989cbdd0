package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// A crash loop on a real cluster kills the host, restarts it after down, kills it again
// after up, and leaves it running once recovered: the host is seen down, up and down again
// while the fault is held.
func TestCrashLoopKillsAndRestartsTheService(t *testing.T) {
	c, _ := upCluster(t, context.Background(), realBin(t))
	ctx := context.Background()
	k, err := faults.Lookup("crash-loop")
	if err != nil {
		t.Fatal(err)
	}
	f, err := k.New(faults.Spec{Kind: k.Name, Region: "b", Params: &faults.CrashLoopParams{
		Service: api.ServiceHost, Down: 500 * time.Millisecond, Up: 1500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	env := faults.Env{Cluster: c}
	if _, err := f.Inject(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(ctx, env); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// Watch the host's health for two loops: down, then up, then down again.
	var seen []bool
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		up := c.ServiceHealthy(ctx, "b", api.ServiceHost) == nil
		if len(seen) == 0 || seen[len(seen)-1] != up {
			seen = append(seen, up)
		}
	}
	if len(seen) < 3 || seen[0] || !seen[1] || seen[2] {
		t.Errorf("host b's health while looping went %v, want down, up, down, ...", seen)
	}
	if n := f.(*faults.CrashLoop).Crashes(); n < 2 {
		t.Errorf("%d crashes in 4s of a 500ms-down, 1.5s-up loop, want at least 2", n)
	}
	if err := f.Recover(ctx, env); err != nil {
		t.Fatalf("recover: %v", err)
	}
	healed, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for f.VerifyHealed(healed, env) != nil {
		if healed.Err() != nil {
			t.Fatal("host b did not come back after the loop was recovered")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The loop is over: the host stays up.
	time.Sleep(2 * time.Second)
	if err := c.ServiceHealthy(ctx, "b", api.ServiceHost); err != nil {
		t.Errorf("host b after recovery: %v", err)
	}
}
