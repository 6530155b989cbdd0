package chaosmesh

import "github.com/geodrill/geodrill/faults"

// Realised is what one fault kind is on kind: how faithfully, and through which Chaos Mesh
// resource or pod operation (or why none).
type Realised struct {
	How faults.Realisation
	Why string
}

// hostEtcdWhy is why slow-replies and reply-loss cannot act on the host → etcd path here.
const hostEtcdWhy = "a host and its etcd member share their node's network (hostNetwork), so their traffic stays on " +
	"the loopback device, which Chaos Mesh's tc and iptables rules (on the node's interface) do not touch"

// Realisations is every fault kind of faults.Kinds on kind: TestEveryKindIsListed keeps
// it complete, and the README's provider table says the same.
var Realisations = map[string]Realised{
	"region-outage": {faults.Exact, "PodChaos container-kill of each of the region's pods (SIGKILL through the " +
		"container runtime); new pods over the same data (the run directory, mounted into the node) when it ends"},
	"process-crash": {faults.Exact, "PodChaos container-kill of the service's pod; a new pod over the same data on recovery"},
	"pause": {faults.Unavailable, "a pod cannot be frozen through Kubernetes or Chaos Mesh: pod-kill, pod-failure " +
		"and container-kill end the process and lose its memory, which is a crash, not a pause"},
	"brief-pause": {faults.Unavailable, "a pod cannot be frozen (as pause)"},
	"partition": {faults.Exact, "NetworkChaos partition per cut, direction to: in the source region's cluster, its " +
		"pods' packets to the other region's node are dropped (one direction per resource, every shape)"},
	"wan-degradation": {faults.Exact, "NetworkChaos netem (delay, jitter, loss) and bandwidth, direction to, on each " +
		"region's pods towards the other region's node, both ways (tc netem on the node: exact where the kernel " +
		"has sch_netem, as on GitHub's runners)"},
	"object-store-outage": {faults.Exact, "PodChaos container-kill of the region's MinIO pod; a new one over the same data"},
	"etcd-member-loss":    {faults.Exact, "PodChaos container-kill of the region's etcd pod; a new one over the same data"},
	"etcd-quorum-loss":    {faults.Exact, "PodChaos container-kill of the etcd pods of a majority of regions"},
	"clock-skew": {faults.Exact, "TimeChaos on the region's host container (CLOCK_REALTIME shifted by the offset, " +
		"through Chaos Mesh's vDSO hook)"},
	"checkpoint-corruption": {faults.Exact, "no Chaos Mesh resource: the harness rewrites the objects through MinIO's " +
		"API, as on every provider"},
	"reply-loss": {faults.Unavailable, "Chaos Mesh drops packets at random, not the replies of requests already " +
		"delivered; HTTPChaos abort could cut router → host answers over plain HTTP only, and the stack runs " +
		"mutual TLS between clusters; on host → etcd, " + hostEtcdWhy},
	"slow-replies": {faults.Approximate, "NetworkChaos delay, direction to, on the region's host pod towards the router " +
		"(this machine's address on the kind network), timed by a fresh TCP handshake; router-host only: host-objectstore " +
		"cannot be timed from outside the nodes, and on host-etcd " + hostEtcdWhy},
	"false-declaration": {faults.Exact, "no Chaos Mesh resource: a request to the stack's controller through etcd, " +
		"as on every provider"},
	"crash-loop": {faults.Unavailable, "not tried on kind: each restart is a new pod, whose start (seconds) blurs " +
		"the down/up rhythm the harness sets"},
	"cert-expiry": {faults.Exact, "the region's certificate files re-issued in the run directory, which the pods " +
		"mount, as on every provider"},
}
