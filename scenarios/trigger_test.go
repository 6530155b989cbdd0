package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
)

// Triggers, selectors and the false declaration are validated like every other fault
// field: each bad value names its line, its field and the fix.
func TestTriggerAndSelectorErrors(t *testing.T) {
	crash := "  - kind: process-crash\n    service: host\n    region: new-owner\n    at: 1s\n    duration: 2s\n    trigger:\n"
	tests := []struct {
		name, faults string
		want         []wantErr // empty: must parse
	}{
		{"triggered crash of the new owner", crash + "      on: ownership-change\n      of: a\n      after: 0s..300ms\n", nil},
		{"triggered by an earlier fault", "  - {kind: region-outage, region: busiest, at: 1s, duration: 5s}\n" +
			strings.ReplaceAll(crash, "      on", "      on") + "      on: restore\n      of: f1\n      after: 150ms\n", nil},
		{"every selector is a region", "  - {kind: pause, service: host, region: etcd-leader, at: 1s, duration: 2s}\n" +
			"  - {kind: process-crash, service: etcd, region: controller-leader, at: 1s, duration: 2s}\n" +
			"  - {kind: false-declaration, region: hottest-owner, stall: 1500ms, at: 1s, duration: 2s}\n", nil},
		{"misspelled event", crash + "      on: ownershp-change\n",
			[]wantErr{{15, "faults[0].trigger.on", `unknown trigger event "ownershp-change"`, `did you mean "ownership-change"?`}}},
		{"missing event", crash + "      after: 100ms\n",
			[]wantErr{{14, "faults[0].trigger.on", "trigger.on is missing", "set on: to one of: ownership-change"}}},
		{"range upside down", crash + "      on: lease-revoked\n      after: 300ms..0s\n",
			[]wantErr{{16, "faults[0].trigger.after", "need 0 <= low <= high", "0s..300ms"}}},
		{"delay without unit", crash + "      on: lease-revoked\n      after: 0..300\n",
			[]wantErr{{16, "faults[0].trigger.after", `invalid duration "300"`, ""}}},
		{"of itself", crash + "      on: checkpoint-publish\n      of: f1\n",
			[]wantErr{{16, "faults[0].trigger.of", `"f1" names the fault itself`, "name an earlier fault"}}},
		{"of a fault that is not there", crash + "      on: checkpoint-publish\n      of: f3\n",
			[]wantErr{{16, "faults[0].trigger.of", `"f3" names no fault`, "f1..f1"}}},
		{"of an unknown region", crash + "      on: checkpoint-publish\n      of: d\n",
			[]wantErr{{16, "faults[0].trigger.of", `unknown trigger region or fault "d"`, "a, b, c, f1"}}},
		{"new-owner without a trigger", "  - {kind: region-outage, region: new-owner, at: 1s, duration: 2s}\n",
			[]wantErr{{9, "faults[0].region", `region "new-owner" needs a trigger`, "add a trigger"}}},
		{"misspelled selector", "  - {kind: false-declaration, region: etcd-leder, at: 1s, duration: 2s}\n",
			[]wantErr{{9, "faults[0].region", `unknown region "etcd-leder"`, `did you mean "etcd-leader"?`}}},
		{"false declaration without a controller", "  - {kind: false-declaration, region: a, at: 1s, duration: 2s}\nstack: {controller: {disabled: true}}\n",
			[]wantErr{{9, "faults[0].kind", "the failover controller, which is disabled", "enable the controller"}}},
		{"negative stall", "  - {kind: false-declaration, region: a, stall: -1s, at: 1s, duration: 2s}\n",
			[]wantErr{{9, "faults[0]", "stall -1s", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFaultErrors(t, tc.faults, tc.want)
		})
	}
}

// A selector cannot name a region: "busiest" as a region would be ambiguous.
func TestSelectorsAreReservedRegionNames(t *testing.T) {
	for _, sel := range faults.Selectors() {
		_, err := Parse("x.yaml", []byte(strings.Replace(base, "[a, b, c]", "[a, b, "+sel+"]", 1)))
		if err == nil || !strings.Contains(err.Error(), "reserved for fault targets") {
			t.Errorf("region %q: got %v, want it reserved", sel, err)
		}
	}
}

// The trigger reaches the faults package with its range; the drill draws the delay.
func TestTriggerSpec(t *testing.T) {
	sc, err := Parse("x.yaml", []byte(base+"faults:\n  - kind: process-crash\n    service: host\n    region: new-owner\n"+
		"    at: 1s\n    duration: 2s\n    trigger: {on: ownership-change, of: a, after: 100ms..300ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := sc.Faults[0].Spec(sc.Topology.Regions, nil).Trigger
	want := faults.Trigger{On: faults.OwnershipChange, Of: "a", MinAfter: 100 * time.Millisecond, MaxAfter: 300 * time.Millisecond, After: 100 * time.Millisecond}
	if got == nil || *got != want {
		t.Fatalf("trigger = %+v, want %+v", got, want)
	}
}
