// Package chaosmesh turns the fault capabilities into Chaos Mesh resources for the kind
// provider, built from Chaos Mesh's own API types (github.com/chaos-mesh/chaos-mesh/api),
// and says what each fault kind is on kind (realise.go).
package chaosmesh

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	chaos "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// Object is a Chaos Mesh resource: a typed Kubernetes object with metadata.
type Object interface {
	runtime.Object
	metav1.Object
}

// Chaos is one Chaos Mesh resource and the region whose cluster it is applied in.
type Chaos struct {
	Region string
	Object Object
}

// Slack is added to every resource's own duration: the harness deletes each resource when
// its fault ends (at the harness's time, to the millisecond; Chaos Mesh's conditions tick
// in seconds), and Chaos Mesh ends it by itself only if the harness is gone.
const Slack = 30 * time.Second

// meta names a resource of fault id and labels it as geodrill's.
func meta(id, suffix string) metav1.ObjectMeta {
	name := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, "geodrill-"+id+"-"+suffix), "-")
	if len(name) > 63 {
		h := fnv.New32a()
		h.Write([]byte(name))
		name = fmt.Sprintf("%s-%08x", strings.TrimRight(name[:54], "-"), h.Sum32())
	}
	return metav1.ObjectMeta{Name: name, Namespace: kind.Namespace,
		Labels: map[string]string{kind.LabelPartOf: kind.PartOf, kind.LabelFault: faultLabel(id)}}
}

// faultLabel is id as a label value (at most 63 characters of [a-z0-9-_.]).
func faultLabel(id string) string {
	v := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, id)
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

// pods selects every pod of region, or only its services'.
func pods(region string, services ...string) chaos.PodSelector {
	sel := chaos.PodSelectorSpec{GenericSelectorSpec: chaos.GenericSelectorSpec{
		Namespaces:     []string{kind.Namespace},
		LabelSelectors: map[string]string{kind.LabelRegion: region},
	}}
	if len(services) == 1 {
		sel.LabelSelectors[kind.LabelService] = services[0]
	} else if len(services) > 1 {
		vs := append([]string(nil), services...)
		sort.Strings(vs)
		sel.ExpressionSelectors = chaos.LabelSelectorRequirements{
			{Key: kind.LabelService, Operator: metav1.LabelSelectorOpIn, Values: vs},
		}
	}
	return chaos.PodSelector{Selector: sel, Mode: chaos.AllMode}
}

func duration(d time.Duration) *string {
	s := (d + Slack).Round(time.Second).String()
	return &s
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: chaos.SchemeGroupVersion.String(), Kind: kind}
}

// PartitionChaos is the cuts as NetworkChaos partitions: a cut From→To drops, in From's
// cluster, every packet its pods send to To's node. Direction "to" is the only one Chaos
// Mesh takes with external targets, and it is exactly one cut: To's replies and its own
// connections to From are untouched, as on netns.
func PartitionChaos(id string, cuts []faults.Cut, nodes kind.Nodes, d time.Duration) ([]Chaos, error) {
	var out []Chaos
	for _, cut := range cuts {
		to, ok := nodes[cut.To]
		if _, from := nodes[cut.From]; !ok || !from {
			return nil, fmt.Errorf("cut %s->%s: not a region of this cluster", cut.From, cut.To)
		}
		out = append(out, Chaos{Region: cut.From, Object: &chaos.NetworkChaos{
			TypeMeta:   typeMeta(chaos.KindNetworkChaos),
			ObjectMeta: meta(id, cut.From+"-to-"+cut.To),
			Spec: chaos.NetworkChaosSpec{
				PodSelector:       pods(cut.From),
				Action:            chaos.PartitionAction,
				PartitionBehavior: chaos.DropPartitionBehavior,
				Direction:         chaos.To,
				ExternalTargets:   []string{to},
				Duration:          duration(d),
			},
		}})
	}
	return out, nil
}

// LinkChaos is a link's degradation, both ways: in each region's cluster a netem
// NetworkChaos (delay with jitter, loss) on its pods towards the other region's node, and a
// bandwidth one when the link is capped (Chaos Mesh takes one action per resource, and
// netem carries no rate).
func LinkChaos(id string, l faults.Link, nodes kind.Nodes, d time.Duration) ([]Chaos, error) {
	var out []Chaos
	for _, dir := range [][2]string{{l.From, l.To}, {l.To, l.From}} {
		src, dst := dir[0], dir[1]
		to, ok := nodes[dst]
		if _, from := nodes[src]; !ok || !from {
			return nil, fmt.Errorf("link %s->%s: not a region of this cluster", src, dst)
		}
		tc := chaos.TcParameter{}
		if l.Latency > 0 || l.Jitter > 0 {
			tc.Delay = &chaos.DelaySpec{Latency: l.Latency.String(), Jitter: l.Jitter.String()}
		}
		if l.Loss > 0 {
			tc.Loss = &chaos.LossSpec{Loss: fmt.Sprintf("%g", l.Loss*100)}
		}
		if tc.Delay != nil || tc.Loss != nil {
			out = append(out, Chaos{Region: src, Object: &chaos.NetworkChaos{
				TypeMeta:   typeMeta(chaos.KindNetworkChaos),
				ObjectMeta: meta(id, src+"-to-"+dst+"-netem"),
				Spec: chaos.NetworkChaosSpec{
					PodSelector: pods(src), Action: chaos.NetemAction, TcParameter: tc,
					Direction: chaos.To, ExternalTargets: []string{to}, Duration: duration(d),
				},
			}})
		}
		if l.BandwidthKbit > 0 {
			out = append(out, Chaos{Region: src, Object: &chaos.NetworkChaos{
				TypeMeta:   typeMeta(chaos.KindNetworkChaos),
				ObjectMeta: meta(id, src+"-to-"+dst+"-rate"),
				Spec: chaos.NetworkChaosSpec{
					PodSelector: pods(src), Action: chaos.BandwidthAction,
					TcParameter: chaos.TcParameter{Bandwidth: &chaos.BandwidthSpec{
						Rate: fmt.Sprintf("%dkbps", l.BandwidthKbit), Limit: 20000, Buffer: 10000,
					}},
					Direction: chaos.To, ExternalTargets: []string{to}, Duration: duration(d),
				},
			}})
		}
	}
	return out, nil
}

// ClockSkew shifts the clocks region's agent host reads (CLOCK_REALTIME) by offset.
func ClockSkew(id, region string, offset, d time.Duration) Chaos {
	return Chaos{Region: region, Object: &chaos.TimeChaos{
		TypeMeta:   typeMeta(chaos.KindTimeChaos),
		ObjectMeta: meta(id, region+"-clock"),
		Spec: chaos.TimeChaosSpec{
			ContainerSelector: chaos.ContainerSelector{
				PodSelector:    pods(region, api.ServiceHost),
				ContainerNames: []string{api.ServiceHost},
			},
			TimeOffset: offset.String(),
			ClockIds:   []string{"CLOCK_REALTIME"},
			Duration:   duration(d),
		},
	}}
}

// SlowReplies delays what a path's servers send its client: a delay NetworkChaos on the
// server's pods towards the client, so requests pass at once and the replies (and
// acknowledgements) come late, as on netns. router-host: region's host towards the router
// (routerAddr, outside every cluster); host-objectstore: every other region's MinIO
// towards region's node. host-etcd has no resource: a host and its etcd member share
// their node's network (hostNetwork), so what one sends the other stays on the loopback
// device, which Chaos Mesh's tc rules (on the node's interface) do not touch; for the
// same reason the region's own MinIO is not slowed.
func SlowReplies(id string, s faults.SlowReplies, nodes kind.Nodes, routerAddr string, d time.Duration) ([]Chaos, error) {
	if _, ok := nodes[s.Region]; !ok {
		return nil, fmt.Errorf("no region %q", s.Region)
	}
	delay := chaos.TcParameter{Delay: &chaos.DelaySpec{Latency: s.Latency.String()}}
	one := func(region, service, suffix string, spec chaos.NetworkChaosSpec) Chaos {
		spec.PodSelector = pods(region, service)
		spec.Action = chaos.DelayAction
		spec.TcParameter = delay
		spec.Direction = chaos.To
		spec.Duration = duration(d)
		return Chaos{Region: region, Object: &chaos.NetworkChaos{
			TypeMeta: typeMeta(chaos.KindNetworkChaos), ObjectMeta: meta(id, suffix), Spec: spec,
		}}
	}
	switch s.Path {
	case faults.PathRouterHost:
		return []Chaos{one(s.Region, api.ServiceHost, s.Region+"-host-to-router",
			chaos.NetworkChaosSpec{ExternalTargets: []string{routerAddr}})}, nil
	case faults.PathHostEtcd:
		return nil, fmt.Errorf("slow-replies on %s: %s", s.Path, hostEtcdWhy)
	case faults.PathHostObjectStore:
		regions := make([]string, 0, len(nodes))
		for r := range nodes {
			regions = append(regions, r)
		}
		sort.Strings(regions)
		var out []Chaos
		for _, r := range regions {
			if r == s.Region {
				continue
			}
			out = append(out, one(r, api.ServiceMinIO, r+"-minio-to-"+s.Region,
				chaos.NetworkChaosSpec{ExternalTargets: []string{nodes[s.Region]}}))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no path %q (want one of %s)", s.Path, strings.Join(faults.ReplyLossPaths(), ", "))
}

// Cuts says whether c is a partition of region from's pods towards the node at toNode.
func Cuts(c Chaos, from, toNode string) bool {
	nc, ok := c.Object.(*chaos.NetworkChaos)
	if !ok || c.Region != from || nc.Spec.Action != chaos.PartitionAction {
		return false
	}
	for _, t := range nc.Spec.ExternalTargets {
		if t == toNode {
			return true
		}
	}
	return false
}

// PodKill is a SIGKILL of one pod's container through the container runtime (PodChaos
// container-kill, selected by the pod's name): the process dies at once, and the pod's
// container reports it terminated, so the harness sees the death rather than the API
// object's deletion (a pod deleted with no grace leaves the API server before its
// container is gone). The pods run with restartPolicy Never: nothing restarts it but the
// harness.
func PodKill(id, region, pod, container string) Chaos {
	return Chaos{Region: region, Object: &chaos.PodChaos{
		TypeMeta:   typeMeta(chaos.KindPodChaos),
		ObjectMeta: meta(id, pod),
		Spec: chaos.PodChaosSpec{
			ContainerSelector: chaos.ContainerSelector{
				PodSelector: chaos.PodSelector{
					Selector: chaos.PodSelectorSpec{Pods: map[string][]string{kind.Namespace: {pod}}},
					Mode:     chaos.AllMode,
				},
				ContainerNames: []string{container},
			},
			Action: chaos.ContainerKillAction,
		},
	}}
}
