package faults

import (
	"strings"
	"testing"
	"time"
)

// A crash-loop spec takes a service (the router without a region), and down and up phases
// of at least MinCrashPhase, defaulting when left out.
func TestCrashLoopSpec(t *testing.T) {
	k := crashLoopKind
	for _, tc := range []struct {
		name   string
		region string
		p      CrashLoopParams
		want   string // "" means valid
	}{
		{"defaults", "busiest", CrashLoopParams{Service: "host"}, ""},
		{"router", "", CrashLoopParams{Service: "router", Down: time.Second, Up: time.Second}, ""},
		{"router with a region", "a", CrashLoopParams{Service: "router"}, "router is global"},
		{"no service", "a", CrashLoopParams{}, "unknown service"},
		{"down too short", "a", CrashLoopParams{Service: "etcd", Down: 50 * time.Millisecond}, "at least 200ms"},
		{"up too short", "a", CrashLoopParams{Service: "minio", Up: time.Millisecond}, "at least 200ms"},
	} {
		p := tc.p
		f, err := k.New(Spec{Kind: k.Name, Region: tc.region}, &p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		case tc.name == "defaults":
			if cl := f.(*CrashLoop); cl.Down != DefaultCrashDown || cl.Up != DefaultCrashUp {
				t.Errorf("defaults: down %s up %s", cl.Down, cl.Up)
			}
		}
	}
	if _, err := Plan([]Spec{{Kind: k.Name, Region: "a", Params: &CrashLoopParams{Service: "host"}}}, struct{}{}, "bare"); err == nil ||
		!strings.Contains(err.Error(), "unavailable") {
		t.Errorf("plan on a provider that cannot signal: %v, want unavailable", err)
	}
}
