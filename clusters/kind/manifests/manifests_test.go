package manifests_test

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/manifests"
)

var nodes = kind.Nodes{"a": "172.18.0.2", "b": "172.18.0.3", "c": "172.18.0.4"}

// A region's manifests decode strictly into their types, with and without TLS; a
// misspelt field does not.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, tls := range []bool{false, true} {
		s := manifests.Stack{Nodes: nodes, Image: "geodrill-stack:0123456789abcdef", Config: "lease_ttl: 2s\n", MinIOPassword: "pw"}
		if tls {
			s.TLS = map[string][]byte{"ca.crt": []byte("ca"), "a.crt": []byte("c"), "a.key": []byte("k"),
				"minio-a/public.crt": []byte("p"), "minio-a/private.key": []byte("q")}
		}
		objs, err := manifests.Manifests("a", s)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, o := range objs {
			roundTrip(t, o)
			kinds[o.GetObjectKind().GroupVersionKind().Kind]++
			if d, ok := o.(*appsv1.Deployment); ok {
				spec := d.Spec.Template.Spec
				if !spec.HostNetwork || spec.Containers[0].ImagePullPolicy != corev1.PullNever {
					t.Errorf("%s: hostNetwork %v pull %s", d.Name, spec.HostNetwork, spec.Containers[0].ImagePullPolicy)
				}
				args := strings.Join(spec.Containers[0].Args, " ")
				if strings.Contains(args, "--tls-dir") != tls && d.Labels[kind.LabelService] != "minio" {
					t.Errorf("%s (tls %v): %s", d.Name, tls, args)
				}
			}
		}
		if kinds["Deployment"] != 3 || kinds["Namespace"] != 1 {
			t.Errorf("tls %v: objects %v, want a namespace and three deployments", tls, kinds)
		}
	}
	var d appsv1.Deployment
	if strict, err := kjson.UnmarshalStrict([]byte(`{"spec":{"template":{"spec":{"hostNetwrok":true}}}}`), &d); err == nil && len(strict) == 0 {
		t.Error("a misspelt field decoded")
	}
	if _, err := manifests.Manifests("z", manifests.Stack{Nodes: nodes, Image: "x"}); err == nil {
		t.Error("a region without a node rendered")
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
