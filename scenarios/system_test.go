package scenarios_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/scenarios"
)

// The Redis Sentinel scenario loads; what of a scenario needs the reference stack is
// refused for a described system, by field, with the fix.
func TestDescribedSystemScenario(t *testing.T) {
	b, err := os.ReadFile("../scenarios/redis-sentinel-region-outage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse("redis.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if sc.System == nil || sc.System.Name != "redis-sentinel" || len(sc.System.Services) != 2 {
		t.Fatalf("system: %+v", sc.System)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"provider", "seed: 1\n", "seed: 1\nprovider: docker\n", "local or netns provider"},
		{"planted bugs", "seed: 1\n", "seed: 1\nstack:\n  unsafe: [skip-checksum]\n", "reference stack only"},
		{"trigger", "    duration: 8s\n", "    duration: 8s\n    trigger: {on: ownership-change}\n", "triggers wait on the reference stack"},
		{"cas not served", "serves: [cas, region, epoch]", "serves: [region, epoch]", "does not serve cas"},
		{"template", `--master, geodrill,`, `--master, "{{.Master}}",`, "can't evaluate field Master"},
	} {
		y := strings.Replace(string(b), tc.from, tc.to, 1)
		if y == string(b) {
			t.Fatalf("%s: nothing replaced", tc.name)
		}
		_, err := scenarios.Parse("redis.yaml", []byte(y))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// The scenarios of one real HA stack describe one system: the Patroni ones differ only in
// synchronous_mode, the Redis ones not at all.
func TestHAScenariosShareTheirStack(t *testing.T) {
	load := func(name string) *scenarios.Scenario {
		t.Helper()
		sc, err := scenarios.Load("../scenarios/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	for base, others := range map[string][]string{
		"patroni-sync-region-outage": {"patroni-async-region-outage", "patroni-sync-pause-leader",
			"patroni-sync-partition-leader", "patroni-async-partition-leader"},
		"redis-sentinel-region-outage": {"redis-sentinel-partition-primary"},
	} {
		a, _ := json.Marshal(load(base).System)
		for _, name := range others {
			b, _ := json.Marshal(load(name).System)
			if strings.HasPrefix(name, "patroni-async") {
				b = []byte(strings.Replace(string(b), "synchronous_mode: false", "synchronous_mode: true", 1))
			}
			if string(a) != string(b) {
				t.Errorf("%s's system differs from %s's (beyond synchronous_mode)", name, base)
			}
		}
	}
}
