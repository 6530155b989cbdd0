package kind_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	chaos "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/clusters/kind/internal/kindtest"
	"github.com/geodrill/geodrill/faults"
)

// Every object the kind provider would apply is accepted by a real kube-apiserver
// (v1.34.3, built from its module by `make kube-apiserver`, on the project's own etcd)
// with Chaos Mesh's CRDs generated from its API types by controller-gen (`make
// chaos-mesh-crds`): server-side dry run with strict field validation, so an unknown
// field, a wrong type or a value the CRD's schema refuses fails. A planted bad resource
// of each kind is refused.
func TestAPIServerAcceptsEveryObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := kindtest.StartAPIServer(t, ctx)
	call, plural := srv.Call, srv.Plural

	path := func(obj runtime.Object) string {
		gvk := obj.GetObjectKind().GroupVersionKind()
		prefix := "/apis/" + gvk.Group + "/" + gvk.Version
		if gvk.Group == "" {
			prefix = "/api/" + gvk.Version
		}
		res := map[string]string{"Namespace": "namespaces", "Pod": "pods"}[gvk.Kind]
		if p := plural[gvk.Kind]; p != "" {
			res = p
		}
		if gvk.Kind == "Namespace" {
			return prefix + "/" + res
		}
		return prefix + "/namespaces/" + kind.Namespace + "/" + res
	}
	dryRun := func(obj runtime.Object, body []byte) (int, []byte) {
		t.Helper()
		if body == nil {
			var err error
			if body, err = json.Marshal(obj); err != nil {
				t.Fatal(err)
			}
		}
		return call(http.MethodPost, path(obj)+"?dryRun=All&fieldValidation=Strict", body)
	}

	// The namespace first (for real: the others live in it), through the provider's own
	// code, as Up makes it.
	kc, err := kubernetes.NewForConfig(srv.Rest)
	if err != nil {
		t.Fatal(err)
	}
	kindtest.Namespace(t, ctx, kc)
	pods := kindtest.Pods()
	for _, p := range pods {
		if code, b := dryRun(p, nil); code != http.StatusCreated {
			t.Errorf("pod %s: %d %s", p.Name, code, b)
		}
	}
	cs := kindtest.Rendered(t)
	for _, c := range cs {
		if code, b := dryRun(c.Object, nil); code != http.StatusCreated {
			t.Errorf("%s %s: %d %s", c.Object.GetObjectKind().GroupVersionKind().Kind, c.Object.GetName(), code, b)
		}
	}
	t.Logf("%d pods and %d Chaos Mesh resources accepted (dry run, strict)", len(pods), len(cs))

	// Planted: what the API server must refuse, so that the acceptance above means something.
	for _, bad := range []struct{ name, from, to string }{
		{"unknown field", `"direction":"to"`, `"direction":"to","directon":"to"`},
		{"direction outside the enum", `"direction":"to"`, `"direction":"sideways"`},
		{"mode outside the enum", `"mode":"all"`, `"mode":"most"`},
	} {
		body, _ := json.Marshal(cs[0].Object)
		broken := strings.Replace(string(body), bad.from, bad.to, 1)
		if broken == string(body) {
			t.Fatalf("%s: nothing to break in %s", bad.name, body)
		}
		code, b := dryRun(cs[0].Object, []byte(broken))
		if code == http.StatusCreated {
			t.Errorf("%s: accepted (%s)", bad.name, b)
			continue
		}
		var st struct{ Message string }
		_ = json.Unmarshal(b, &st)
		t.Logf("planted %s: refused, %d %s", bad.name, code, st.Message)
	}
}

// The Applier creates a fault's resources, waits for Chaos Mesh's AllInjected and
// AllRecovered conditions, and deletes them, against a real API server. No Chaos Mesh
// controller runs here, so the test plays its part on the status subresource: until it
// does, WaitInjected says which resources are not injected. DeleteAll finds what a dead
// run left by label.
func TestApplierAgainstTheAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := kindtest.StartAPIServer(t, ctx)
	ns, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]string{"name": kind.Namespace}})
	if code, b := srv.Call(http.MethodPost, "/api/v1/namespaces", ns); code != http.StatusCreated {
		t.Fatalf("namespace: %d %s", code, b)
	}
	cl, err := chaosmesh.NewClient(srv.Rest)
	if err != nil {
		t.Fatal(err)
	}
	// One API server plays every region's cluster.
	a := &chaosmesh.Applier{Clients: map[string]client.Client{"a": cl, "b": cl, "c": cl}, Poll: 50 * time.Millisecond}
	cs, err := chaosmesh.PartitionChaos("f1:partition", []faults.Cut{{From: "a", To: "b"}, {From: "b", To: "a"}}, kindtest.Nodes, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	link, err := chaosmesh.LinkChaos("f2:wan", faults.Link{From: "c", To: "a", Loss: 0.1}, kindtest.Nodes, 8*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cs = append(append(cs, link...), chaosmesh.ClockSkew("f3:skew", "b", time.Second, 5*time.Second))
	if err := a.Apply(ctx, cs); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	err = a.WaitInjected(short, cs)
	stop()
	if err == nil || !strings.Contains(err.Error(), "AllInjected not True") || !strings.Contains(err.Error(), cs[0].Object.GetName()) {
		t.Fatalf("WaitInjected with no controller: %v, want every resource named as not injected", err)
	}
	setCondition := func(c chaosmesh.Chaos, cond chaos.ChaosConditionType) {
		t.Helper()
		obj := c.Object.DeepCopyObject().(client.Object)
		if err := cl.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		st := obj.(interface{ GetStatus() *chaos.ChaosStatus }).GetStatus()
		st.Conditions = append(st.Conditions, chaos.ChaosCondition{Type: cond, Status: corev1.ConditionTrue})
		// Chaos Mesh's CRDs have no status subresource (as its controller writes them):
		// the status goes with the object.
		if err := cl.Update(ctx, obj); err != nil {
			t.Fatalf("status of %s: %v", obj.GetName(), err)
		}
	}
	for _, c := range cs {
		setCondition(c, chaos.ConditionAllInjected)
	}
	if err := a.WaitInjected(ctx, cs); err != nil {
		t.Fatalf("WaitInjected after the conditions were set: %v", err)
	}
	// Recovered: one says so, the others are deleted (gone counts as recovered).
	setCondition(cs[0], chaos.ConditionAllRecovered)
	if err := a.Delete(ctx, cs[1:]); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitRecovered(ctx, cs); err != nil {
		t.Fatalf("WaitRecovered: %v", err)
	}
	// A second fault left behind (as by a killed harness) goes with DeleteAll, by label.
	left := []chaosmesh.Chaos{chaosmesh.ClockSkew("f4:skew", "a", time.Second, time.Minute)}
	if err := a.Apply(ctx, left); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{srv.Plural["NetworkChaos"], srv.Plural["PodChaos"], srv.Plural["TimeChaos"]} {
		code, b := srv.Call(http.MethodGet, "/apis/chaos-mesh.org/v1alpha1/namespaces/"+kind.Namespace+"/"+p, nil)
		if code != http.StatusOK || strings.Contains(string(b), `"name":"geodrill-`) {
			t.Errorf("%s after DeleteAll: %d %s", p, code, b)
		}
	}
	// Applying what cannot all be created leaves nothing: the second resource's region has
	// no cluster, so the first is deleted again.
	half := []chaosmesh.Chaos{chaosmesh.ClockSkew("f5:x", "a", time.Second, time.Second), chaosmesh.ClockSkew("f5:y", "z", time.Second, time.Second)}
	if err := a.Apply(ctx, half); err == nil || !strings.Contains(err.Error(), `no cluster for region "z"`) {
		t.Errorf("Apply into a region without a cluster: %v", err)
	}
	code, b := srv.Call(http.MethodGet, "/apis/chaos-mesh.org/v1alpha1/namespaces/"+kind.Namespace+"/"+srv.Plural["TimeChaos"], nil)
	if code != http.StatusOK || strings.Contains(string(b), half[0].Object.GetName()) {
		t.Errorf("a half-applied fault left %s behind: %d %s", half[0].Object.GetName(), code, b)
	}
}
