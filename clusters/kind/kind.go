// Package kind is the Kubernetes provider's ground: one kind cluster per region, the
// reference stack deployed in each, and faults applied as Chaos Mesh resources.
//
// What is here: the check that this machine can run it at all (Available) and what the
// other pieces share (versions, names, labels, each region's cluster configuration and the
// directory every node mounts). The provider itself (bring-up through e2e-framework, the
// services as pods) is package cluster; the Chaos Mesh resource each fault capability
// becomes and what each fault kind is on kind are package chaosmesh. Chaos Mesh's Helm
// values, the cluster configurations as files and the nightly workflow are in fixtures/
// and .github/workflows/.
//
// Addressing across clusters: every service runs with hostNetwork on its region's single
// kind node, so a region is one IP address on the Docker network `kind` that every kind
// cluster of the machine joins, as a region is one namespace address on the netns provider.
// An etcd member advertises one peer URL to every peer (node IP and port, the same from
// every cluster), nothing is translated on the way, and a Chaos Mesh partition of a region's
// pods towards another region's node IP cuts exactly that direction.
package kind

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	kindconfig "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// Versions the fixtures and the nightly workflow pin (the workflow installs them; the
// harness never does).
const (
	KindVersion      = "v0.30.0"
	NodeImage        = "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
	ChaosMeshVersion = "2.8.2" // the Helm chart (charts.chaos-mesh.org)
)

// Namespace is where the stack runs in every region's cluster.
const Namespace = "geodrill"

// Labels on every object of the stack and on every Chaos Mesh resource the harness applies.
const (
	LabelPartOf  = "app.kubernetes.io/part-of"
	PartOf       = "geodrill"
	LabelRegion  = "geodrill.io/region"
	LabelService = "geodrill.io/service"
	LabelFault   = "geodrill.io/fault"
)

// Nodes is each region's node address on the kind network (its services' address).
type Nodes map[string]string

// ClusterName is the kind cluster of a region.
func ClusterName(region string) string { return "geodrill-" + region }

// ReadmeSection is where the README says how to run on kind.
const ReadmeSection = `README.md, section "Kubernetes (kind)"`

// Available says what this machine lacks to run the kind provider: kind, kubectl and a
// Docker daemon's client, all on PATH. Nothing is installed at run time.
func Available() error {
	var missing []string
	for _, tool := range []string{"kind", "kubectl", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kind provider: %s not on PATH (kind %s, kubectl and Docker; see %s)",
			strings.Join(missing, ", "), KindVersion, ReadmeSection)
	}
	return nil
}

// MountRoot is the directory of this machine every region's node mounts at the same path:
// a kind run's run directory lives under it (harness run --out MountRoot/runs), so the
// paths in the services' arguments (data, certificates, the stack's configuration) mean
// the same on the node as here, and the data outlives the pods, as a region's disks
// outlive its processes.
const MountRoot = "/tmp/geodrill-kind"

// Under says whether dir (absolute) is under MountRoot, and if not what to do.
func Under(dir string) error {
	rel, err := filepath.Rel(MountRoot, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("kind provider: the run directory %s is not under %s, which every region's node mounts; "+
			"run with --out %s/runs", dir, MountRoot, MountRoot)
	}
	return nil
}

// Subnets are each region's pod and service ranges: separate, so an address names one
// cluster.
var Subnets = map[string][2]string{
	"a": {"10.241.0.0/16", "10.91.0.0/16"},
	"b": {"10.242.0.0/16", "10.92.0.0/16"},
	"c": {"10.243.0.0/16", "10.93.0.0/16"},
}

// ClusterConfig is the kind configuration of region's cluster: one node, the pinned node
// image, MountRoot mounted. fixtures/kind/region-<r>.yaml is the same (a test keeps them
// so); the harness creates a missing cluster from this.
func ClusterConfig(region string) (*kindconfig.Cluster, error) {
	nets, ok := Subnets[region]
	if !ok {
		return nil, fmt.Errorf("kind provider: no subnets for region %q (the kind provider runs the regions a, b and c)", region)
	}
	return &kindconfig.Cluster{
		TypeMeta: kindconfig.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     ClusterName(region),
		Nodes: []kindconfig.Node{{
			Role:        kindconfig.ControlPlaneRole,
			Image:       NodeImage,
			Labels:      map[string]string{LabelRegion: region},
			ExtraMounts: []kindconfig.Mount{{HostPath: MountRoot, ContainerPath: MountRoot}},
		}},
		Networking: kindconfig.Networking{PodSubnet: nets[0], ServiceSubnet: nets[1]},
	}, nil
}
