package manifests_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/internal/kindtest"
	"github.com/geodrill/geodrill/clusters/kind/manifests"
)

// A region's manifests decode strictly into their types, with and without TLS; a
// misspelt field does not.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, tls := range []bool{false, true} {
		objs, err := manifests.Manifests("a", kindtest.Stack(tls))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, o := range objs {
			kindtest.RoundTrip(t, o)
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
	if _, err := manifests.Manifests("z", manifests.Stack{Nodes: kindtest.Nodes, Image: "x"}); err == nil {
		t.Error("a region without a node rendered")
	}
}
