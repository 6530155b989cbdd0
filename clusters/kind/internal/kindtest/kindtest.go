// Package kindtest is what the kind provider's tests share: example nodes, one of every
// resource the Chaos Mesh capabilities render, the pods of an example region, and the strict round trip
// every rendered object must survive.
package kindtest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	kindcluster "github.com/geodrill/geodrill/clusters/kind/cluster"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/faults"
)

// Nodes are three regions' node addresses on a kind network.
var Nodes = kind.Nodes{"a": "172.18.0.2", "b": "172.18.0.3", "c": "172.18.0.4"}

// RouterAddr is the router's address as the nodes see it (the network's gateway).
const RouterAddr = "172.18.0.1"

// RunDir is an example run directory, under the directory every node mounts.
const RunDir = kind.MountRoot + "/runs/region-outage-20261130T230000-seed1"

// Pods are one start of each of region a's services as the kind provider runs them, with
// arguments as the local supervisor gives them.
func Pods() []*corev1.Pod {
	at := func(port string) string { return Nodes["a"] + ":" + port }
	stack := RunDir + "/stack.yaml"
	tlsArgs := []string{"--tls-dir", RunDir + "/tls"}
	env := []string{"GEODRILL_RUN=" + RunDir, "GOTRACEBACK=all"}
	svcs := []local.Service{
		{Region: "a", Name: "etcd", Path: "/src/bin/refstack", Env: env, Args: append([]string{"etcd", "--name", "a",
			"--data-dir", RunDir + "/data/a/etcd", "--listen-client", at("40001"), "--listen-peer", at("40002"),
			"--initial-cluster", "a=https://" + at("40002") + ",b=https://172.18.0.3:40012,c=https://172.18.0.4:40022",
			"--initial-cluster-state", "new", "--config", stack}, tlsArgs...)},
		{Region: "a", Name: "minio", Path: "/src/bin/minio", Env: append(env, "MINIO_ROOT_USER=geodrill", "MINIO_ROOT_PASSWORD=pw"),
			Args: []string{"server", "--address", at("40003"), "--console-address", at("40004"), "--quiet",
				"--certs-dir", RunDir + "/tls/minio-a", RunDir + "/data/a/minio"}},
		{Region: "a", Name: "host", Path: "/src/bin/refstack", Env: append(env, "GEODRILL_MINIO_PASSWORD=pw"),
			Args: append([]string{"host", "--region", "a", "--listen", at("40005"), "--etcd", at("40001"),
				"--minio", "a=" + at("40003"), "--config", stack}, tlsArgs...)},
	}
	var out []*corev1.Pod
	for i, s := range svcs {
		s.Dir, s.Log = RunDir, RunDir+"/logs/a-"+s.Name+".log"
		out = append(out, kindcluster.PodFor(s, "geodrill-stack:0123456789abcdef", "0a1b2c", i+1))
	}
	return out
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
	all = append(all, chaosmesh.ClockSkew("f8:clock-skew", "b", -5*time.Second, 10*time.Second),
		chaosmesh.PodKill("kill", "a", "geodrill-0a1b2c-a-host-3", "host"))
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

// Namespace makes the stack's namespace through the provider's own code, twice (the
// clusters outlive a run), and its default service account, which a cluster's controller
// manager (not run here) makes in every namespace.
func Namespace(t testing.TB, ctx context.Context, kc kubernetes.Interface) {
	t.Helper()
	for range 2 {
		if err := kindcluster.EnsureNamespace(ctx, kc); err != nil {
			t.Fatal(err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: kind.Namespace}}
	if _, err := kc.CoreV1().ServiceAccounts(kind.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
