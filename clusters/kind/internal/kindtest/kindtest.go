// Package kindtest is what the kind provider's tests share: example nodes, one of every
// resource the Chaos Mesh capabilities render, an example stack, and the strict round trip
// every rendered object must survive.
package kindtest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/clusters/kind/manifests"
	"github.com/geodrill/geodrill/faults"
)

// Nodes are three regions' node addresses on a kind network.
var Nodes = kind.Nodes{"a": "172.18.0.2", "b": "172.18.0.3", "c": "172.18.0.4"}

// RouterAddr is the router's address as the nodes see it (the network's gateway).
const RouterAddr = "172.18.0.1"

// Stack is an example of what a region's manifests are rendered from, with TLS files or
// without.
func Stack(tls bool) manifests.Stack {
	s := manifests.Stack{Nodes: Nodes, Image: "geodrill-stack:0123456789abcdef", Config: "lease_ttl: 2s\n", MinIOPassword: "pw"}
	if tls {
		s.TLS = map[string][]byte{"ca.crt": []byte("ca"), "a.crt": []byte("c"), "a.key": []byte("k"),
			"minio-a/public.crt": []byte("p"), "minio-a/private.key": []byte("q")}
	}
	return s
}

// Rendered is one of each resource the capabilities make, over every partition shape.
func Rendered(t testing.TB) []chaosmesh.Chaos {
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
		add(chaosmesh.PartitionChaos(fmt.Sprintf("f1:partition-%d", i), shape, Nodes, 10*time.Second))
	}
	add(chaosmesh.LinkChaos("f2:wan-degradation", faults.Link{From: "a", To: "b", Latency: 50 * time.Millisecond,
		Jitter: 10 * time.Millisecond, Loss: 0.05, BandwidthKbit: 8000}, Nodes, 15*time.Second))
	add(chaosmesh.LinkChaos("f3:wan", faults.Link{From: "b", To: "c", Loss: 0.3}, Nodes, time.Minute))
	all = append(all, chaosmesh.PodFailure("f4:region-outage", "a", 8*time.Second),
		chaosmesh.PodFailure("f5:object-store-outage", "b", 8*time.Second, "minio"),
		chaosmesh.PodFailure("f6:etcd", "c", 8*time.Second, "etcd", "minio"),
		chaosmesh.ContainerKill("f7:process-crash", "a", "host"),
		chaosmesh.ClockSkew("f8:clock-skew", "b", -5*time.Second, 10*time.Second))
	for _, path := range []string{faults.PathRouterHost, faults.PathHostObjectStore} {
		add(chaosmesh.SlowReplies("f9:slow-replies", faults.SlowReplies{Path: path, Region: "a", Latency: 1700 * time.Millisecond},
			Nodes, RouterAddr, 6*time.Second))
	}
	return all
}

// RoundTrip writes obj as YAML and reads it back into a fresh object of its type the way
// the API server decodes strictly: YAML to JSON, then case-sensitive JSON with unknown and
// duplicate fields refused (sigs.k8s.io/yaml's direct path allocates empty structs on the
// way, and is not what a server runs). The object must come back the same.
func RoundTrip(t testing.TB, obj runtime.Object) runtime.Object {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
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
