// Package kind is the Kubernetes provider's ground: one kind cluster per region, the
// reference stack deployed in each, and faults applied as Chaos Mesh resources.
//
// What is here: the check that this machine can run it at all (Available) and what the
// other pieces share (names, labels, ports); the stack's manifests for a region are
// package manifests, the Chaos Mesh resource each fault capability becomes and what each
// fault kind is on kind are package chaosmesh. The cluster
// configurations, Chaos Mesh's Helm values and the nightly workflow are in fixtures/ and
// .github/workflows/. Bringing the clusters up through e2e-framework is not built yet: New
// says so after the machine check.
//
// Addressing across clusters: every service runs with hostNetwork on its region's single
// kind node, so a region is one IP address on the Docker network `kind` that every kind
// cluster of the machine joins, as a region is one namespace address on the netns provider.
// An etcd member advertises one peer URL to every peer (node IP and port, the same from
// every cluster), nothing is translated on the way, and a Chaos Mesh partition of a region's
// pods towards another region's node IP cuts exactly that direction.
package kind

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/geodrill/geodrill/clusters"
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

// Ports the services listen on, on their node's address (hostNetwork). They avoid the
// node's own etcd (2379, 2380) and the NodePort range.
const (
	PortEtcdClient = 12379
	PortEtcdPeer   = 12380
	PortMinIO      = 19000
	PortConsole    = 19001
	PortHost       = 18080
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

// ErrNotBuilt is what New answers on a machine that has everything: the bring-up is the
// part of the provider not written yet.
var ErrNotBuilt = errors.New("kind provider: bringing the clusters up (e2e-framework: create, load images, deploy, wait) " +
	"is not built yet; the manifests, the Chaos Mesh resources and fixtures/ are (see " + ReadmeSection + ")")

// New checks the machine, then says what is missing from the provider.
func New(s clusters.Spec) (clusters.Cluster, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	return nil, ErrNotBuilt
}
