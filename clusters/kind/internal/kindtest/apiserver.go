package kindtest

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

	"github.com/geodrill/geodrill/internal/testbin"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// APIServer is a running kube-apiserver with Chaos Mesh's CRDs installed.
type APIServer struct {
	// Call sends one request (JSON body) and returns the status and the body.
	Call func(method, path string, body []byte) (int, []byte)
	// Plural is each Chaos Mesh kind's resource name.
	Plural map[string]string
	// Rest is a client configuration for it.
	Rest *rest.Config
}

// StartAPIServer starts kube-apiserver (v1.34.3, built from its module by `make
// kube-apiserver`) on the project's own etcd, for the test's lifetime, and installs Chaos
// Mesh's CRDs (generated from its API types by controller-gen, `make chaos-mesh-crds`).
func StartAPIServer(t *testing.T, ctx context.Context) *APIServer {
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

	return &APIServer{Call: call, Plural: plural, Rest: &rest.Config{Host: base, BearerToken: "geodrill-test",
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}}}
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
