package faults

import (
	"context"
	"strings"
	"testing"
	"time"
)

// isolateOnly can cut one region off but has no per-pair packet control, like the local
// provider's proxies. Planning only asks it how; nothing is injected.
type isolateOnly struct{}

func (isolateOnly) IsolateHow() string                            { return "proxies blackholed" }
func (isolateOnly) Isolate(context.Context, string, string) error { return nil }
func (isolateOnly) Heal(context.Context, string) error            { return nil }
func (isolateOnly) Isolated(context.Context, string) error        { return nil }

func TestPartitionRealisedPerShapeWithoutPacketControl(t *testing.T) {
	topo := []string{"a", "b", "c"}
	tests := []struct {
		spec    Spec
		want    Realisation
		wantErr string
	}{
		{spec: Spec{Params: &PartitionParams{Shape: ShapeIsolate}, Region: "busiest"}, want: Approximate},
		{spec: Spec{Params: &PartitionParams{Shape: ShapePair, From: "a", To: "b"}}, wantErr: "provider: netns"},
		{spec: Spec{Params: &PartitionParams{Shape: ShapeMajorityMinority}, Region: "a"}, wantErr: "only approximate the isolate shape"},
	}
	for _, tc := range tests {
		tc.spec.Kind, tc.spec.Topology, tc.spec.Duration = "partition", topo, time.Second
		plan, err := Plan([]Spec{tc.spec}, isolateOnly{}, "local")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want one containing %q", tc.spec.Params.(*PartitionParams).Shape, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.spec.Params.(*PartitionParams).Shape, err)
		}
		if plan[0].How != tc.want || plan[0].Why != "proxies blackholed" {
			t.Errorf("%s: realised %s (%s), want %s", tc.spec.Params.(*PartitionParams).Shape, plan[0].How, plan[0].Why, tc.want)
		}
	}
}
