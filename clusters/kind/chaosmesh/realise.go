package chaosmesh

import "github.com/geodrill/geodrill/faults"

// Realised is what one fault kind is on kind: how faithfully, and through which Chaos Mesh
// resource (or why none).
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
	"region-outage": {faults.Exact, "PodChaos pod-failure on every pod of the region (containers swapped for a pause " +
		"image: processes gone, ports closed, volumes and address kept); deleting it starts them on the same data"},
	"process-crash": {faults.Exact, "PodChaos container-kill of the service's container; the kubelet restarts it on " +
		"the same volumes"},
	"pause": {faults.Unavailable, "Chaos Mesh cannot freeze a process: pod-failure and container-kill end it and lose " +
		"its memory, which is a crash, not a pause"},
	"brief-pause": {faults.Unavailable, "Chaos Mesh cannot freeze a process (as pause)"},
	"partition": {faults.Exact, "NetworkChaos partition per cut, direction to: in the source region's cluster, its " +
		"pods' packets to the other region's node are dropped (one direction per resource, every shape)"},
	"wan-degradation": {faults.Exact, "NetworkChaos netem (delay, jitter, loss) and bandwidth, direction to, on each " +
		"region's pods towards the other region's node, both ways (tc netem on the node: exact where the kernel " +
		"has sch_netem, as on GitHub's runners)"},
	"object-store-outage": {faults.Exact, "PodChaos pod-failure on the region's MinIO pod"},
	"etcd-member-loss":    {faults.Exact, "PodChaos pod-failure on the region's etcd pod"},
	"etcd-quorum-loss":    {faults.Exact, "PodChaos pod-failure on the etcd pods of a majority of regions, one resource per cluster"},
	"clock-skew": {faults.Exact, "TimeChaos on the region's host container (CLOCK_REALTIME shifted by the offset, " +
		"through Chaos Mesh's vDSO hook)"},
	"checkpoint-corruption": {faults.Exact, "no Chaos Mesh resource: the harness rewrites the objects through MinIO's " +
		"API, as on every provider"},
	"reply-loss": {faults.Unavailable, "Chaos Mesh drops packets at random, not the replies of requests already " +
		"delivered; HTTPChaos abort could cut router → host answers over plain HTTP only, and the stack runs " +
		"mutual TLS between clusters; on host → etcd, " + hostEtcdWhy},
	"slow-replies": {faults.Approximate, "NetworkChaos delay, direction to, on the path's servers towards its client: " +
		"exact on router-host; host-objectstore slows the other regions' MinIO only; unavailable on host-etcd: " +
		hostEtcdWhy},
	"false-declaration": {faults.Exact, "no Chaos Mesh resource: a request to the stack's controller through etcd, " +
		"as on every provider"},
	"crash-loop": {faults.Unavailable, "kills at the moments the harness chooses need one resource each, and Chaos " +
		"Mesh's schedules tick in cron time; not built"},
	"cert-expiry": {faults.Unavailable, "re-issuing a region's certificate means rewriting its Secret and restarting " +
		"its pods, which is not the running processes meeting an expired peer; not built"},
}
