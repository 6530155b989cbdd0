package host

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

// The no-fencing switch really is unsafe: a deposed owner's write commits over the new
// owner's log entry and its read is served from stale memory (TestStaleOwnerIsFenced is the
// same sequence with fencing on).
func TestUnsafeNoFencingLetsStaleOwnerPublish(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.register(reg("agent-00", "a", "b"))
	ha := c.startHost("a", func(cfg *Config) { cfg.Bugs = bugs.Of(bugs.NoFencing) })
	hb := c.startHost("b", nil)
	c.serving(ha, "agent-00", 1)
	mustOK(t, put(t, ha, "agent-00", "k", "before"), "put before takeover")

	_, stale := freeze(t, ha, "agent-00")

	if _, err := c.cli.Revoke(context.Background(), c.lease(ha)); err != nil {
		t.Fatal(err)
	}
	if e := c.serving(hb, "agent-00", 2); e != 2 {
		t.Fatalf("b took over at epoch %d, want 2", e)
	}
	mustOK(t, put(t, hb, "agent-00", "k", "after"), "new owner's put")

	if err := stale.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := ha.writeLocked(stale, "k", "stale-direct", api.Response{Agent: "agent-00", Key: "k"})
	rd := ha.getLocked(stale, "k", api.Response{Agent: "agent-00", Key: "k"})
	stale.unlock()
	if w.status != http.StatusOK {
		t.Fatalf("stale owner's write without fencing: status %d %q, want 200", w.status, w.resp.Error)
	}
	if rd.status != http.StatusOK || rd.resp.Value != "stale-direct" {
		t.Fatalf("stale owner's read without fencing: status %d value %q, want 200 stale-direct", rd.status, rd.resp.Value)
	}
	found := false
	for _, e := range c.logEntries("agent-00") {
		found = found || (strings.HasPrefix(e.Value, "stale") && e.Epoch == 1)
	}
	if !found {
		t.Errorf("no epoch-1 stale entry in the log %+v: the switch did not skip the fence", c.logEntries("agent-00"))
	}
}
