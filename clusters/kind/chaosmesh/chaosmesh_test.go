package chaosmesh_test

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	chaos "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/clusters/kind/internal/kindtest"
	"github.com/geodrill/geodrill/faults"
)

// Every fault kind geodrill has is said to be exact, approximate or unavailable on kind,
// with a reason.
func TestEveryKindIsListed(t *testing.T) {
	var listed []string
	for name, r := range chaosmesh.Realisations {
		listed = append(listed, name)
		if r.Why == "" || (r.How != faults.Exact && r.How != faults.Approximate && r.How != faults.Unavailable) {
			t.Errorf("%s: %q (%q)", name, r.How, r.Why)
		}
	}
	sort.Strings(listed)
	want := append([]string(nil), faults.Names()...)
	sort.Strings(want)
	if !slices.Equal(listed, want) {
		t.Errorf("kind lists %v, the fault kinds are %v", listed, want)
	}
}

// admit runs Chaos Mesh's own admission code (its webhook's defaulting and validation).
func admit(obj runtime.Object) error {
	ctx := context.Background()
	switch o := obj.(type) {
	case *chaos.NetworkChaos:
		_ = o.Default(ctx, o)
		_, err := o.ValidateCreate(ctx, o)
		return err
	case *chaos.PodChaos:
		_ = o.Default(ctx, o)
		_, err := o.ValidateCreate(ctx, o)
		return err
	case *chaos.TimeChaos:
		_ = o.Default(ctx, o)
		_, err := o.ValidateCreate(ctx, o)
		return err
	}
	return nil
}

// Every Chaos Mesh resource decodes strictly into its Go type and passes Chaos Mesh's own
// admission rules; a resource those rules refuse is refused here too.
func TestChaosResourcesAreValid(t *testing.T) {
	names := map[string]bool{}
	for _, c := range kindtest.Rendered(t) {
		obj := kindtest.RoundTrip(t, c.Object)
		if err := admit(obj); err != nil {
			t.Errorf("%s (%T in region %s): Chaos Mesh refuses it: %v", c.Object.GetName(), c.Object, c.Region, err)
		}
		if n := c.Object.GetName(); len(n) > 63 || names[c.Region+"/"+n] {
			t.Errorf("name %q: too long or twice in region %s", n, c.Region)
		} else {
			names[c.Region+"/"+n] = true
		}
		if c.Object.GetNamespace() != kind.Namespace || c.Object.GetLabels()[kind.LabelPartOf] != kind.PartOf {
			t.Errorf("%s: namespace %q labels %v", c.Object.GetName(), c.Object.GetNamespace(), c.Object.GetLabels())
		}
		if nc, ok := c.Object.(*chaos.NetworkChaos); ok && nc.Spec.Direction == "" {
			t.Errorf("%s: no direction (always explicit)", nc.Name)
		}
	}
	// The check catches something: "from" with external targets and no target pods is
	// what Chaos Mesh's webhook refuses, and so must admit.
	cs, _ := chaosmesh.PartitionChaos("bad", []faults.Cut{{From: "a", To: "b"}}, kindtest.Nodes, time.Second)
	bad := cs[0].Object.(*chaos.NetworkChaos)
	bad.Spec.Direction = chaos.From
	bad.Spec.Action = chaos.DelayAction
	bad.Spec.Delay = &chaos.DelaySpec{Latency: "10ms"}
	if err := admit(bad); err == nil {
		t.Error("a delay from external targets without target pods was admitted")
	}
	bad.Spec.Direction, bad.Spec.Action, bad.Spec.Delay = chaos.To, chaos.NetemAction, &chaos.DelaySpec{Latency: "ten"}
	if err := admit(bad); err == nil {
		t.Error("a latency that is not a duration was admitted")
	}
	if _, err := chaosmesh.SlowReplies("x", faults.SlowReplies{Path: faults.PathHostEtcd, Region: "a", Latency: time.Second},
		kindtest.Nodes, "172.18.0.1", time.Second); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("slow replies on host-etcd: %v, want refused (loopback)", err)
	}
}

// The README's provider table says, for every kind it lists, what Realisations says.
func TestReadmeColumnAgrees(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	col, rows := -1, 0
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if col < 0 {
			for i, c := range cells {
				if strings.TrimSpace(c) == "kind (Chaos Mesh)" {
					col = i
				}
			}
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			if rows > 0 {
				break
			}
			continue
		}
		name := strings.SplitN(strings.TrimPrefix(line, "| `"), "`", 2)[0]
		r, ok := chaosmesh.Realisations[name]
		if !ok || col >= len(cells) {
			t.Errorf("README row %q: not a kind Realisations lists, or no kind column", name)
			continue
		}
		if cell := strings.TrimSpace(cells[col]); !strings.HasPrefix(cell, string(r.How)) {
			t.Errorf("README says %s is %q on kind; Realisations says %s", name, cell, r.How)
		}
		rows++
	}
	if col < 0 || rows < 10 {
		t.Errorf("README: kind column %d, %d rows", col, rows)
	}
}
