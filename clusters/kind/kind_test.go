package kind_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
	kindconfig "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/geodrill/geodrill/clusters/kind"
)

// The kind cluster configurations decode strictly, each names its region, and the node
// image is the one the pinned kind release ships with.
func TestFixturesDecodeStrictly(t *testing.T) {
	files, _ := filepath.Glob("../../fixtures/kind/*.yaml")
	if len(files) != 3 {
		t.Fatalf("fixtures/kind: %d files, want one per region of the default topology", len(files))
	}
	if kind.NodeImage != kinddefaults.Image {
		t.Errorf("NodeImage %s, kind %s ships %s", kind.NodeImage, kind.KindVersion, kinddefaults.Image)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c kindconfig.Cluster
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		region := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "region-"), ".yaml")
		if c.Name != kind.ClusterName(region) || len(c.Nodes) != 1 || c.Nodes[0].Image != kind.NodeImage {
			t.Errorf("%s: name %q, %d nodes, image %q", f, c.Name, len(c.Nodes), c.Nodes[0].Image)
		}
		// The harness creates a missing cluster from ClusterConfig: the same cluster.
		want, err := kind.ClusterConfig(region)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&c, want) {
			wb, _ := yaml.Marshal(want)
			t.Errorf("%s differs from kind.ClusterConfig(%q):\n%s", f, region, wb)
		}
	}
	if _, err := kind.ClusterConfig("d"); err == nil || !strings.Contains(err.Error(), "a, b and c") {
		t.Errorf("a region without subnets: %v", err)
	}
	b, err := os.ReadFile("../../fixtures/chaos-mesh/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		ChaosDaemon struct {
			Runtime    string `json:"runtime"`
			SocketPath string `json:"socketPath"`
		} `json:"chaosDaemon"`
	}
	if err := yaml.Unmarshal(b, &values); err != nil || values.ChaosDaemon.Runtime != "containerd" ||
		values.ChaosDaemon.SocketPath != "/run/containerd/containerd.sock" {
		t.Errorf("chaos-mesh values: %+v (%v), want containerd at its socket", values, err)
	}
}

// The nightly workflow passes actionlint; a workflow with a mistake does not.
func TestNightlyWorkflowPassesActionlint(t *testing.T) {
	lint := func(path string, src []byte) []*actionlint.Error {
		t.Helper()
		l, err := actionlint.NewLinter(os.Stderr, &actionlint.LinterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		errs, err := l.Lint(path, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		return errs
	}
	path := "../../.github/workflows/nightly.yml"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lint(path, src) {
		t.Errorf("actionlint: %s", e.Error())
	}
	for _, want := range []string{"kind-geodrill-$r", "fixtures/chaos-mesh/values.yaml", "junit.xml", "10)", "11)"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("the workflow does not mention %q", want)
		}
	}
	broken := strings.Replace(string(src), "steps.drills.outputs.rc", "steps.drills.outputs.rc.(", 1)
	if len(lint("broken.yml", []byte(broken))) == 0 {
		t.Error("actionlint found nothing wrong in a broken expression")
	}
}

// A run directory outside the mounted directory is refused with what to pass instead.
func TestRunDirMustBeMounted(t *testing.T) {
	for dir, ok := range map[string]bool{
		kind.MountRoot + "/runs/x": true, kind.MountRoot: true,
		"/tmp/geodrill-kind-other/x": false, "/work/runs/x": false, "/tmp": false,
	} {
		err := kind.Under(dir)
		if (err == nil) != ok {
			t.Errorf("Under(%s) = %v, want ok=%v", dir, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--out "+kind.MountRoot+"/runs") {
			t.Errorf("Under(%s): %v does not say what to pass", dir, err)
		}
	}
}

// make kind-scenario installs the Chaos Mesh chart the provider names.
func TestMakefilePinsTheChart(t *testing.T) {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "CHAOS_MESH_VERSION := "+kind.ChaosMeshVersion+"\n") ||
		!strings.Contains(string(b), "KIND_MOUNT         := "+kind.MountRoot+"\n") {
		t.Error("Makefile: CHAOS_MESH_VERSION or KIND_MOUNT differ from package kind's")
	}
}
