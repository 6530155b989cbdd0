package chaosmesh_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	chaos "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/faults"
)

var nodes = kind.Nodes{"a": "172.18.0.2", "b": "172.18.0.3", "c": "172.18.0.4"}

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

// rendered is one of each resource the capabilities make, over every partition shape.
func rendered(t *testing.T) []chaosmesh.Chaos {
	t.Helper()
	var all []chaosmesh.Chaos
	add := func(cs []chaosmesh.Chaos, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs...)
	}
	for i, shape := range [][]faults.Cut{
		{{From: "a", To: "b"}, {From: "b", To: "a"}, {From: "a", To: "c"}, {From: "c", To: "a"}}, // isolate a
		{{From: "a", To: "b"}},                       // one-way
		{{From: "a", To: "b"}, {From: "b", To: "a"}}, // pair
	} {
		add(chaosmesh.PartitionChaos(fmt.Sprintf("f1:partition-%d", i), shape, nodes, 10*time.Second))
	}
	add(chaosmesh.LinkChaos("f2:wan-degradation", faults.Link{From: "a", To: "b", Latency: 50 * time.Millisecond,
		Jitter: 10 * time.Millisecond, Loss: 0.05, BandwidthKbit: 8000}, nodes, 15*time.Second))
	add(chaosmesh.LinkChaos("f3:wan", faults.Link{From: "b", To: "c", Loss: 0.3}, nodes, time.Minute))
	all = append(all, chaosmesh.PodFailure("f4:region-outage", "a", 8*time.Second),
		chaosmesh.PodFailure("f5:object-store-outage", "b", 8*time.Second, "minio"),
		chaosmesh.PodFailure("f6:etcd", "c", 8*time.Second, "etcd", "minio"),
		chaosmesh.ContainerKill("f7:process-crash", "a", "host"),
		chaosmesh.ClockSkew("f8:clock-skew", "b", -5*time.Second, 10*time.Second))
	for _, path := range []string{faults.PathRouterHost, faults.PathHostObjectStore} {
		add(chaosmesh.SlowReplies("f9:slow-replies", faults.SlowReplies{Path: path, Region: "a", Latency: 1700 * time.Millisecond},
			nodes, "172.18.0.1", 6*time.Second))
	}
	return all
}

// Every Chaos Mesh resource decodes strictly into its Go type and passes Chaos Mesh's own
// admission rules; a resource those rules refuse is refused here too.
func TestChaosResourcesAreValid(t *testing.T) {
	names := map[string]bool{}
	for _, c := range rendered(t) {
		obj := roundTrip(t, c.Object)
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
	cs, _ := chaosmesh.PartitionChaos("bad", []faults.Cut{{From: "a", To: "b"}}, nodes, time.Second)
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
		nodes, "172.18.0.1", time.Second); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("slow replies on host-etcd: %v, want refused (loopback)", err)
	}
}

// roundTrip writes obj as YAML and reads it back strictly into a fresh object of its type:
// a field the type does not have, or a value of the wrong type, fails.
func roundTrip(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	// The API server's own strict decoding: YAML to JSON, then case-sensitive JSON with
	// unknown and duplicate fields refused (sigs.k8s.io/yaml's direct path allocates
	// empty structs on the way and is not what a server runs).
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	fresh := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
	strict, err := kjson.UnmarshalStrict(j, fresh)
	if err != nil || len(strict) > 0 {
		t.Fatalf("%T does not decode strictly: %v %v\n%s", obj, err, strict, b)
	}
	if !reflect.DeepEqual(obj, fresh) {
		t.Errorf("%T changed on the way through YAML:\n%s", obj, b)
	}
	return fresh
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
