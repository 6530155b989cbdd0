package kind_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	chaos "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/clusters/kind/internal/kindtest"
	"github.com/geodrill/geodrill/clusters/kind/manifests"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/internal/testbin"
)

// apiServer is a running kube-apiserver with Chaos Mesh's CRDs installed.
type apiServer struct {
	// call sends one request (JSON body) and returns the status and the body.
	call func(method, path string, body []byte) (int, []byte)
	// plural is each Chaos Mesh kind's resource name.
	plural map[string]string
	// rest is a client configuration for it.
	rest *rest.Config
}

// startAPIServer starts kube-apiserver (v1.34.3, built from its module by `make
// kube-apiserver`) on the project's own etcd, for the test's lifetime, and installs Chaos
// Mesh's CRDs (generated from its API types by controller-gen, `make chaos-mesh-crds`).
func startAPIServer(t *testing.T, ctx context.Context) *apiServer {
	t.Helper()
	bin := testbin.Dir(t, "kube-apiserver", "chaos-mesh-crds")
	dir := t.TempDir()

	etcdClient, etcdPeer, apiPort := freePort(t), freePort(t), freePort(t)
	start(t, ctx, filepath.Join(dir, "etcd.log"), filepath.Join(bin, "refstack"), "etcd", "--name", "k",
		"--data-dir", filepath.Join(dir, "etcd"), "--listen-client", "127.0.0.1:"+etcdClient,
		"--listen-peer", "127.0.0.1:"+etcdPeer, "--initial-cluster", "k=http://127.0.0.1:"+etcdPeer)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	// A static token: the server refuses anonymous requests under AlwaysAllow.
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(`geodrill-test,geodrill,1,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "certs")
	start(t, ctx, filepath.Join(dir, "apiserver.log"), filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:"+etcdClient,
		// The address the server publishes for its own service (no traffic goes there;
		// loopback is refused for it).
		"--bind-address", "127.0.0.1", "--advertise-address", "10.255.255.1", "--secure-port", apiPort,
		"--cert-dir", certDir, "--service-cluster-ip-range", "10.96.0.0/16",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey, "--authorization-mode", "AlwaysAllow", "--token-auth-file", tokens,
		"--enable-priority-and-fairness=false")

	base := "https://127.0.0.1:" + apiPort
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The server's own self-signed certificate, written to certDir at start; the test
		// talks to 127.0.0.1 only.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	call := func(method, path string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer geodrill-test")
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	waitFor(t, ctx, "the API server's /readyz", func() error {
		if code, b := call(http.MethodGet, "/readyz", nil); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, b)
		}
		return nil
	})

	// Chaos Mesh's CRDs, as controller-gen generates them from the API types.
	plural := map[string]string{}
	crds, _ := filepath.Glob(filepath.Join(bin, "chaos-mesh-crds", "*.yaml"))
	for _, f := range crds {
		y, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var crd struct {
			Metadata struct{ Name string } `json:"metadata"`
			Spec     struct {
				Names struct{ Kind, Plural string } `json:"names"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(j, &crd); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(crd.Metadata.Name, "chaos") {
			continue
		}
		plural[crd.Spec.Names.Kind] = crd.Spec.Names.Plural
		if code, b := call(http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", j); code != http.StatusCreated {
			t.Fatalf("create CRD %s: %d %s", crd.Metadata.Name, code, b)
		}
		waitFor(t, ctx, "CRD "+crd.Metadata.Name+" established", func() error {
			code, b := call(http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+crd.Metadata.Name, nil)
			if code != http.StatusOK || !strings.Contains(string(b), `"type":"Established","status":"True"`) {
				return fmt.Errorf("%d", code)
			}
			return nil
		})
	}
	for _, k := range []string{"NetworkChaos", "PodChaos", "TimeChaos"} {
		if plural[k] == "" {
			t.Fatalf("no CRD for %s among %d files in %s", k, len(crds), filepath.Join(bin, "chaos-mesh-crds"))
		}
	}

	return &apiServer{call: call, plural: plural, rest: &rest.Config{Host: base, BearerToken: "geodrill-test",
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}}}
}

// Every object the kind provider would apply is accepted by a real kube-apiserver
// (v1.34.3, built from its module by `make kube-apiserver`, on the project's own etcd)
// with Chaos Mesh's CRDs generated from its API types by controller-gen (`make
// chaos-mesh-crds`): server-side dry run with strict field validation, so an unknown
// field, a wrong type or a value the CRD's schema refuses fails. A planted bad resource
// of each kind is refused.
func TestAPIServerAcceptsEveryObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startAPIServer(t, ctx)
	call, plural := srv.call, srv.plural

	path := func(obj runtime.Object) string {
		gvk := obj.GetObjectKind().GroupVersionKind()
		prefix := "/apis/" + gvk.Group + "/" + gvk.Version
		if gvk.Group == "" {
			prefix = "/api/" + gvk.Version
		}
		res := map[string]string{"Namespace": "namespaces", "ConfigMap": "configmaps", "Secret": "secrets",
			"Deployment": "deployments"}[gvk.Kind]
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

	objs, err := manifests.Manifests("a", kindtest.Stack(true))
	if err != nil {
		t.Fatal(err)
	}
	// The namespace first (dry run, then for real: the others live in it).
	if code, b := dryRun(objs[0], nil); code != http.StatusCreated {
		t.Fatalf("namespace: %d %s", code, b)
	}
	nsBody, _ := json.Marshal(objs[0])
	if code, b := call(http.MethodPost, path(objs[0]), nsBody); code != http.StatusCreated {
		t.Fatalf("create namespace: %d %s", code, b)
	}
	for _, o := range objs[1:] {
		if code, b := dryRun(o, nil); code != http.StatusCreated {
			t.Errorf("%s: %d %s", o.GetObjectKind().GroupVersionKind().Kind, code, b)
		}
	}
	cs := kindtest.Rendered(t)
	for _, c := range cs {
		if code, b := dryRun(c.Object, nil); code != http.StatusCreated {
			t.Errorf("%s %s: %d %s", c.Object.GetObjectKind().GroupVersionKind().Kind, c.Object.GetName(), code, b)
		}
	}
	t.Logf("%d manifests and %d Chaos Mesh resources accepted (dry run, strict)", len(objs), len(cs))

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

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// start runs a server for the test's lifetime, its output in logFile (shown on failure).
func start(t *testing.T, ctx context.Context, logFile, path string, args ...string) {
	t.Helper()
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s (last lines):\n%s", filepath.Base(logFile), b)
		}
	})
}

func waitFor(t *testing.T, ctx context.Context, what string, f func() error) {
	t.Helper()
	var err error
	for ctx.Err() == nil {
		if err = f(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// The Applier creates a fault's resources, waits for Chaos Mesh's AllInjected and
// AllRecovered conditions, and deletes them, against a real API server. No Chaos Mesh
// controller runs here, so the test plays its part on the status subresource: until it
// does, WaitInjected says which resources are not injected. DeleteAll finds what a dead
// run left by label.
func TestApplierAgainstTheAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startAPIServer(t, ctx)
	ns, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]string{"name": kind.Namespace}})
	if code, b := srv.call(http.MethodPost, "/api/v1/namespaces", ns); code != http.StatusCreated {
		t.Fatalf("namespace: %d %s", code, b)
	}
	cl, err := chaosmesh.NewClient(srv.rest)
	if err != nil {
		t.Fatal(err)
	}
	// One API server plays every region's cluster.
	a := &chaosmesh.Applier{Clients: map[string]client.Client{"a": cl, "b": cl, "c": cl}, Poll: 50 * time.Millisecond}
	cs, err := chaosmesh.PartitionChaos("f1:partition", []faults.Cut{{From: "a", To: "b"}, {From: "b", To: "a"}}, kindtest.Nodes, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cs = append(cs, chaosmesh.PodFailure("f2:outage", "c", 8*time.Second), chaosmesh.ClockSkew("f3:skew", "b", time.Second, 5*time.Second))
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
	left := []chaosmesh.Chaos{chaosmesh.ContainerKill("f4:crash", "a", "host")}
	if err := a.Apply(ctx, left); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{srv.plural["NetworkChaos"], srv.plural["PodChaos"], srv.plural["TimeChaos"]} {
		code, b := srv.call(http.MethodGet, "/apis/chaos-mesh.org/v1alpha1/namespaces/"+kind.Namespace+"/"+p, nil)
		if code != http.StatusOK || strings.Contains(string(b), `"name":"geodrill-`) {
			t.Errorf("%s after DeleteAll: %d %s", p, code, b)
		}
	}
	// Applying what cannot all be created leaves nothing: the second resource's region has
	// no cluster, so the first is deleted again.
	half := []chaosmesh.Chaos{chaosmesh.PodFailure("f5:x", "a", time.Second), chaosmesh.PodFailure("f5:y", "z", time.Second)}
	if err := a.Apply(ctx, half); err == nil || !strings.Contains(err.Error(), `no cluster for region "z"`) {
		t.Errorf("Apply into a region without a cluster: %v", err)
	}
	code, b := srv.call(http.MethodGet, "/apis/chaos-mesh.org/v1alpha1/namespaces/"+kind.Namespace+"/"+srv.plural["PodChaos"], nil)
	if code != http.StatusOK || strings.Contains(string(b), half[0].Object.GetName()) {
		t.Errorf("a half-applied fault left %s behind: %d %s", half[0].Object.GetName(), code, b)
	}
}
