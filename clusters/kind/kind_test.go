package kind_test

import (
	"os"
	"path/filepath"
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
