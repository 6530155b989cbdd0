// Package bugs is the one table of the reference stack's unsafe switches: bugs planted on
// purpose, each off by default, each breaking one guarantee so the checkers can be shown to
// notice. A switch has one name (hyphenated); the harness (`harness run --unsafe`), scenario
// files and the stack configuration every refstack process reads (stack.unsafe,
// refstack/config) all carry a Set of them, and each component asks its config's Set
// whether a switch is on.
package bugs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
)

// Name is a switch's name, hyphenated: "skip-checksum".
type Name string

// Component is a part of the reference stack that reads switches.
type Component string

// The components that read switches. Controller and Checkpoint run inside the host process.
const (
	Host       Component = "host"
	Router     Component = "router"
	Controller Component = "controller"
	Checkpoint Component = "checkpoint"
	Etcd       Component = "etcd"
)

// The switches, by name.
const (
	AckBeforeCommit     Name = "ack-before-commit"
	NoReplication       Name = "no-replication"
	RouterIgnoresEpochs Name = "router-ignores-epochs"
	NoFencing           Name = "no-fencing"
	SkipChecksum        Name = "skip-checksum"

	TakeoverReusesEpoch    Name = "takeover-reuses-epoch"
	ServeBeforeRestore     Name = "serve-before-restore"
	UnfencedReads          Name = "unfenced-reads"
	StaleReadCache         Name = "stale-read-cache"
	CASNotAtomic           Name = "cas-not-atomic"
	CASFailReturnsNew      Name = "cas-fail-returns-new"
	RouterRetriesAfterSend Name = "router-retries-after-send"
	RouterResetIsDefinite  Name = "router-reset-is-definite"
	ProbeThresholdOne      Name = "probe-threshold-one"
	DeadRegionStaysDead    Name = "dead-region-stays-dead"
	DeltaSkipsNewKeys      Name = "delta-skips-new-keys"
	RestoreLastDeltaOnly   Name = "restore-last-delta-only"
	HeldWithoutCopy        Name = "held-without-copy"
	FailbackSkipsLogTail   Name = "failback-skips-log-tail"
	EtcdPeerNoReadTimeout  Name = "etcd-peer-no-read-timeout"
	TLSIgnoresExpiry       Name = "tls-ignores-expiry"
	ControllerTrustsItself Name = "controller-trusts-itself"
)

// Switch is one row of the table.
type Switch struct {
	Name Name
	// Area is the part of the design the bug is in: ownership, fencing, reads, cas, router,
	// controller, chains, shipping, fail-back, durability, integrity.
	Area string
	// Breaks is the guarantee the switch gives up (the README sentence).
	Breaks string
	// Readers are the components that read the switch.
	Readers []Component
	// Durability, if set, is the only durability the switch applies to.
	Durability string
	// Param, if set, says what the switch's duration parameter means (name=10s);
	// DefaultParam is its value when none is given.
	Param        string
	DefaultParam time.Duration
	// Aliases are older spellings still accepted (scenario files written before this table).
	Aliases []string
	// Exposed is the fault or workload that creates the situation the bug needs.
	Exposed string
	// Caught is the checker that should fail when the bug is on and exposed.
	Caught string
}

// Table is every switch, in the order the README lists them.
var Table = []Switch{
	{
		Name:       AckBeforeCommit,
		Area:       "durability",
		Breaks:     "writes are acknowledged before the cross-region commit",
		Readers:    []Component{Host},
		Durability: api.DurabilitySyncGeo,
		Exposed:    "region-outage of the owner's region: whatever was acknowledged but not flushed is lost",
		Caught:     "linearizability",
	},
	{
		Name:    RouterIgnoresEpochs,
		Area:    "router",
		Breaks:  "the router follows the newest epoch (it keeps forwarding to the previous owner for 10s)",
		Readers: []Component{Router},
		Param:   "how long the router keeps forwarding to the previous owner",
		// Longer than any RTO target, so the rto checker must notice.
		DefaultParam: 10 * time.Second,
		Aliases:      []string{"router-ignores-epochs-for"},
		Exposed:      "region-outage: the failed-over agents stay routed to the dead region",
		Caught:       "rto",
	},
	{
		Name:       NoReplication,
		Area:       "shipping",
		Breaks:     "checkpoints are replicated to other regions (async: kept in the owner's region only)",
		Readers:    []Component{Host},
		Durability: api.DurabilityAsync,
		Exposed:    "region-outage of the owner's region (async)",
		Caught:     "integrity",
	},
	{
		Name:    NoFencing,
		Area:    "fencing",
		Breaks:  "a deposed owner is fenced by its epoch (it keeps serving after its lease went)",
		Readers: []Component{Host},
		Exposed: "pause of the owner's host with router owner_ttl > 0: the deposed owner wakes and serves",
		Caught:  "linearizability",
	},
	{
		Name:    SkipChecksum,
		Area:    "integrity",
		Breaks:  "restores verify each checkpoint's sha256 (a corrupt copy is taken for the truth)",
		Readers: []Component{Checkpoint},
		Exposed: "checkpoint-corruption, then a restore from the corrupted region",
		Caught:  "linearizability",
	},

	// The bugs below are the small, believable mistakes a developer could make in each part
	// of the stack; each comment says where the code goes wrong.
	{
		// host/ownership.go claim: the epoch is bumped only for a never-owned agent.
		Name:    TakeoverReusesEpoch,
		Area:    "ownership",
		Breaks:  "every takeover bumps the epoch (it keeps the previous one, so two owners share an epoch and the old one's fence still passes)",
		Readers: []Component{Host},
		Exposed: "any failover: two regions serve the same (agent, epoch); a deposed owner still serving (pause, false-positive revocation, router owner_ttl > 0) reads and writes past the fence",
		Caught:  "split-brain (one region per agent and epoch); linearizability when the old owner still serves",
	},
	{
		// host/ownership.go claim: the agent is marked ready before restore() runs, to cut the RTO.
		Name:    ServeBeforeRestore,
		Area:    "ownership",
		Breaks:  "a new owner serves only after its restore (it answers from empty memory while the restore runs, then the restore overwrites what it accepted)",
		Readers: []Component{Host},
		Exposed: "any failover whose restore takes time (a slow or distant object store, wan-degradation, many keys); reads of old keys right after the takeover",
		Caught:  "linearizability (reads miss acknowledged writes; writes accepted during the restore are lost)",
	},
	{
		// host/ops.go getLocked: the linearizable epoch read is skipped on gets ("reads are cheap").
		Name:    UnfencedReads,
		Area:    "fencing",
		Breaks:  "reads are fenced by the epoch (a deposed owner serves gets from its memory until it notices its loss)",
		Readers: []Component{Host},
		Exposed: "a false-positive revocation or pause of a connected owner with router owner_ttl > 0: the router keeps sending gets to the old owner while the new one takes writes",
		Caught:  "linearizability (stale reads)",
	},
	{
		// host/ops.go: a per-host read cache (agent, key) filled on writes, never cleared when
		// an agent is dropped or retaken.
		Name:    StaleReadCache,
		Area:    "reads",
		Breaks:  "a read answers from the agent's restored state (a host-wide cache survives the incarnation and serves values from before the agent left)",
		Readers: []Component{Host},
		Exposed: "an agent that comes back to a host that served it before, in the same process: fail-back after a partition, pause or false-positive revocation, or any ping-pong of ownership",
		Caught:  "linearizability (stale reads after the agent returns)",
	},
	{
		// host/ops.go handleCAS: compare in one locked section, write in another.
		Name:    CASNotAtomic,
		Area:    "cas",
		Breaks:  "compare-and-swap is atomic (the compare and the write take the agent's lock separately, so two cas with the same expected value can both swap)",
		Readers: []Component{Host},
		Exposed: "contention: several concurrent cas on one hot key (cas-heavy mixes, a hot set)",
		Caught:  "linearizability",
	},
	{
		// host/ops.go casLocked: the mismatch branch fills the response like the write branch.
		Name:    CASFailReturnsNew,
		Area:    "cas",
		Breaks:  "a failed cas returns the current value (it returns the value it tried to write)",
		Readers: []Component{Host},
		Exposed: "any cas whose compare fails (cas mixes; more often on hot keys)",
		Caught:  "linearizability once the model checks a failed cas's returned value",
	},
	{
		// router/router.go forward: a request that failed after it was sent is sent once more.
		Name:    RouterRetriesAfterSend,
		Area:    "router",
		Breaks:  "the router never repeats a request that may have been applied (it retries once after a reset or timeout, re-applying an old write after newer ones)",
		Readers: []Component{Router},
		Exposed: "a reply lost after delivery on router -> host (reset or dropped reply), a host pause longer than the router timeout",
		Caught:  "linearizability",
	},
	{
		// router/router.go forward: a connection reset is taken for "the owner is down".
		Name:    RouterResetIsDefinite,
		Area:    "router",
		Breaks:  "an upstream failure after the request was sent is reported as unknown (a reset becomes a definite 503 fail although the write may have taken effect)",
		Readers: []Component{Router},
		Exposed: "a connection reset after delivery on router -> host, a host killed with requests in flight (region-outage, process-crash)",
		Caught:  "linearizability (a write reported failed is read later)",
	},
	{
		// controller/controller.go deadLocked: compares with 1 instead of the threshold.
		Name:    ProbeThresholdOne,
		Area:    "controller",
		Breaks:  "a region is dead after the configured number of failed probes in a row (one failed probe revokes a healthy host's lease)",
		Readers: []Component{Controller},
		Exposed: "one slow or failed probe of a healthy host: a short pause, wan latency or loss, a loaded machine",
		Caught:  "availability / rto (failovers without a dead region); linearizability with unfenced-reads-like bugs",
	},
	{
		// controller/controller.go probeAll: the failure count is reset only while below the
		// threshold.
		Name:    DeadRegionStaysDead,
		Area:    "controller",
		Breaks:  "a region that answers probes again is alive (once declared dead it stays dead: every new lease of its host is revoked)",
		Readers: []Component{Controller},
		Exposed: "any region that fails and recovers (region-outage, pause, partition) followed by fail-back or load on agents homed there",
		Caught:  "availability, rto, convergence (the region never serves again; fail-back orphans agents)",
	},
	{
		// host/checkpointing.go cutLocked: a delta holds keys whose value changed, but a key
		// that was not in the base at all is skipped.
		Name:    DeltaSkipsNewKeys,
		Area:    "chains",
		Breaks:  "a delta holds every key changed since the previous link (keys first written after the chain's full are left out)",
		Readers: []Component{Host},
		Exposed: "keys first written after an incarnation's first full checkpoint (cold and write-once keys, large key spaces), then a restore (any failover)",
		Caught:  "linearizability and integrity (agent rebuilt from chain plus log tail differs from the final reads)",
	},
	{
		// checkpoint/store.go Restore: deltas taken for cumulative, only the newest one applied.
		Name:    RestoreLastDeltaOnly,
		Area:    "chains",
		Breaks:  "a restore applies every delta of the chain in order (it applies the full and only the newest delta)",
		Readers: []Component{Checkpoint},
		Exposed: "a restore from a chain with two or more deltas whose keys differ: any failover after a few checkpoints",
		Caught:  "linearizability, rpo",
	},
	{
		// host/async.go shipLoop: a failed copy is logged and the region recorded as holder anyway.
		Name:       HeldWithoutCopy,
		Area:       "shipping",
		Breaks:     "a region is recorded as holding a checkpoint only after the copy is there (a failed copy is recorded as held and never retried)",
		Readers:    []Component{Host},
		Durability: api.DurabilityAsync,
		Exposed:    "a destination region's object store down while the owner ships (object-store-outage, region-outage of a non-owner), then a failover that restores there",
		Caught:     "integrity (a listed copy is missing); rpo/linearizability when a restore needs it",
	},
	{
		// host/ownership.go restore: a planned hand-back (home region, controller target)
		// trusts the newest checkpoint and skips the log tail.
		Name:       FailbackSkipsLogTail,
		Area:       "fail-back",
		Breaks:     "the home host restores checkpoint plus log tail on fail-back (it restores the checkpoint only, losing the writes since)",
		Readers:    []Component{Host},
		Durability: api.DurabilitySyncGeo,
		Exposed:    "any fail-back (manual or auto) of an agent with writes after its newest checkpoint",
		Caught:     "linearizability, rpo",
	},
	{
		// etcdnode: the peer streams' read timeout is an hour. This is etcd v3.7.3 as
		// released: its stream transport sets Dial where DialContext wins, so the timeout is
		// never applied (third_party/etcd-client-pkg/GEODRILL.md).
		Name:    EtcdPeerNoReadTimeout,
		Area:    "coordination",
		Breaks:  "an etcd member notices a silent peer link within 5s and redials it (the link's stream never times out: after a partition heals it stays dead until TCP's retransmission backoff next fires, seconds to minutes later)",
		Readers: []Component{Etcd},
		Exposed: "a partition isolating a region for 13s, healed; 3s later the etcd leader's region is lost: the two survivors cannot form a quorum, so nothing fails over",
		Caught:  "rto",
	},
	{
		// tlsconf.IgnoringExpiry: the host's and router's servers check a client's
		// certificate by its signature only, "to tolerate clock skew".
		Name:    TLSIgnoresExpiry,
		Area:    "security",
		Breaks:  "hosts and routers refuse a client certificate that has expired (they check only its signature and accept it)",
		Readers: []Component{Host, Router},
		Exposed: "cert-expiry of a region: its expired certificate, presented to every other region's services, must be refused",
		Caught:  "certificates",
	},
	{
		// controller.selfDoubt: never doubts, so a controller whose own probes fail leads.
		Name:    ControllerTrustsItself,
		Area:    "controller",
		Breaks:  "a controller whose own region fails its probes does not lead, depose or declare (it trusts its probes, so a controller that cannot reach anyone declares every healthy region dead)",
		Readers: []Component{Controller},
		Exposed: "cert-expiry of the controller leader's region: its probes of every region, its own included, are refused",
		Caught:  "availability, latency (agents thrash between regions)",
	},
}

// Lookup finds a switch by name or alias; underscores count as hyphens.
func Lookup(name string) (Switch, bool) {
	n := strings.ReplaceAll(strings.TrimSpace(name), "_", "-")
	for _, s := range Table {
		if string(s.Name) == n || slices.Contains(s.Aliases, n) {
			return s, true
		}
	}
	return Switch{}, false
}

// Names lists every switch name in table order.
func Names() []string {
	out := make([]string, len(Table))
	for i, s := range Table {
		out[i] = string(s.Name)
	}
	return out
}

// UnknownError is a name that is in no row of the table.
type UnknownError struct{ Name string }

func (e UnknownError) Error() string {
	return fmt.Sprintf("unknown unsafe switch %q (known: %s)", e.Name, strings.Join(Names(), ", "))
}

// On is one switch turned on, with its parameter (0 for none or the default).
type On struct {
	Name  Name
	Param time.Duration
}

// Set is the switches turned on. The zero value is the healthy stack.
type Set struct {
	on []On // sorted by name, at most one per name
}

// Of is the set of the named switches, each with its default parameter.
func Of(names ...Name) Set {
	var s Set
	for _, n := range names {
		if err := s.Add(string(n), ""); err != nil {
			panic(err) // a Name constant missing from Table
		}
	}
	return s
}

// Parse reads a comma-separated list of switches, each name or name=param: "no-fencing",
// "skip-checksum,router-ignores-epochs=5s". "" is the empty set.
func Parse(s string) (Set, error) {
	var set Set
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, param, _ := strings.Cut(part, "=")
		if err := set.Add(name, strings.TrimSpace(param)); err != nil {
			return Set{}, err
		}
	}
	return set, nil
}

// Add turns on the switch name (any spelling Lookup accepts) with param, a duration for
// switches that take one ("" for the default).
func (s *Set) Add(name, param string) error {
	sw, ok := Lookup(name)
	if !ok {
		return UnknownError{Name: strings.TrimSpace(name)}
	}
	o := On{Name: sw.Name}
	switch {
	case param != "" && sw.Param == "":
		return fmt.Errorf("unsafe switch %s takes no parameter, got %q", sw.Name, param)
	case param != "":
		d, err := time.ParseDuration(param)
		if err != nil || d <= 0 {
			return fmt.Errorf("unsafe switch %s: parameter %q: want a positive duration such as %s (%s)", sw.Name, param, sw.DefaultParam, sw.Param)
		}
		if d != sw.DefaultParam {
			o.Param = d
		}
	}
	i, found := slices.BinarySearchFunc(s.on, o.Name, func(a On, n Name) int { return strings.Compare(string(a.Name), string(n)) })
	if found {
		s.on[i] = o
		return nil
	}
	s.on = slices.Insert(slices.Clone(s.on), i, o)
	return nil
}

// On reports whether the switch is on.
func (s Set) On(name Name) bool {
	_, ok := s.find(name)
	return ok
}

// Param is the parameter of a switch that is on: the one given, else the table's default;
// 0 when the switch is off.
func (s Set) Param(name Name) time.Duration {
	o, ok := s.find(name)
	switch {
	case !ok:
		return 0
	case o.Param > 0:
		return o.Param
	}
	sw, _ := Lookup(string(name))
	return sw.DefaultParam
}

func (s Set) find(name Name) (On, bool) {
	for _, o := range s.on {
		if o.Name == name {
			return o, true
		}
	}
	return On{}, false
}

// List is the switches turned on, sorted by name.
func (s Set) List() []On { return slices.Clone(s.on) }

// IsZero reports whether no switch is on (yaml omitempty uses it).
func (s Set) IsZero() bool { return len(s.on) == 0 }

// String is the set as Parse reads it: "no-fencing,router-ignores-epochs=5s".
func (s Set) String() string {
	parts := make([]string, len(s.on))
	for i, o := range s.on {
		parts[i] = string(o.Name)
		if o.Param > 0 {
			parts[i] += "=" + o.Param.String()
		}
	}
	return strings.Join(parts, ",")
}

// Union is s with every switch of t turned on too (t's parameters win).
func (s Set) Union(t Set) Set {
	out := Set{on: slices.Clone(s.on)}
	for _, o := range t.on {
		p := ""
		if o.Param > 0 {
			p = o.Param.String()
		}
		_ = out.Add(string(o.Name), p) // names from a Set are in the table
	}
	return out
}

// CheckDurability reports the first switch that does not apply to durability ("" means
// sync-geo), as an error saying so.
func (s Set) CheckDurability(durability string) error {
	if durability == "" {
		durability = api.DefaultDurability
	}
	for _, o := range s.on {
		sw, _ := Lookup(string(o.Name))
		if sw.Durability != "" && sw.Durability != durability {
			return DurabilityError{Switch: sw.Name, Want: sw.Durability}
		}
	}
	return nil
}

// DurabilityError is a switch turned on under a durability it does not apply to.
type DurabilityError struct {
	Switch Name
	Want   string
}

func (e DurabilityError) Error() string {
	return fmt.Sprintf("unsafe switch %s applies to durability %s only", e.Switch, e.Want)
}
