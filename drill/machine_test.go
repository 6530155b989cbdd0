package drill

import (
	"strings"
	"testing"

	"github.com/geodrill/geodrill/scenarios"
)

// A drill this machine cannot hold is refused before bring-up, naming what is short.
func TestCheckMachine(t *testing.T) {
	sc := &scenarios.Scenario{}
	sc.Topology.Regions = []string{"a", "b", "c"}
	sc.Workload.Rate = 200
	sc.Workload.Timeout = scenarios.Duration(2e9)
	for _, tc := range []struct {
		name string
		m    machine
		want string
	}{
		{"roomy", machine{availableMiB: 20000, fdLimit: 1 << 20}, ""},
		{"unknown memory", machine{availableMiB: -1, fdLimit: 1 << 20}, ""},
		{"short of memory", machine{availableMiB: 1000, fdLimit: 1 << 20}, "1000 MiB of memory available; 3 regions need about 1700 MiB"},
		{"short of descriptors", machine{availableMiB: 20000, fdLimit: 1024}, "open-file limit is 1024"},
	} {
		err := checkMachine(sc, tc.m)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if m := readMachine(); m.availableMiB <= 0 || m.fdLimit == 0 {
		t.Errorf("read this machine as %+v", m)
	}
}
