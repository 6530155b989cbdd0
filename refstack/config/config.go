// Package config is the reference stack's configuration: one value that a scenario embeds
// as its stack: section, defaulted and validated here, and handed by a provider to every
// refstack process as one file in the run directory (rundir.StackFile), which the host and
// the router read with --config. Containers and pods mount the same file.
package config

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"gopkg.in/yaml.v3"
)

// Stack configures the reference stack. The zero value of every field but Durability means
// its default (WithDefaults fills the ones a run records).
type Stack struct {
	Durability string `yaml:"durability" json:"durability"` // sync-geo or async
	// LeaseTTL is the ownership lease TTL; etcd rounds it up to whole seconds (min 2s).
	LeaseTTL time.Duration `yaml:"lease_ttl,omitempty" json:"lease_ttl,omitempty"`
	// CheckpointEvery: a checkpoint after this many log entries.
	CheckpointEvery int `yaml:"checkpoint_every,omitempty" json:"checkpoint_every,omitempty"`
	// CheckpointInterval (async): each agent's checkpoint chain gets a link this often,
	// written to its owner's region and shipped to the others in the background.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval,omitempty" json:"checkpoint_interval,omitempty"`
	// ChainLength: deltas after a full checkpoint before the next full (0: the default, 8).
	ChainLength int `yaml:"chain_length,omitempty" json:"chain_length,omitempty"`
	// Unsafe switches, off by default, each breaking one guarantee (for self-validation).
	Unsafe Unsafe `yaml:"unsafe,omitempty" json:"unsafe,omitempty"`
	// Controller tunes failure detection and target choice (the zero value is the default).
	Controller Controller `yaml:"controller,omitempty" json:"controller,omitempty"`
	// Failback: how agents return to their home region once it is back.
	Failback Failback `yaml:"failback,omitempty" json:"failback,omitempty"`
	// Router tunes the global router.
	Router Router `yaml:"router,omitempty" json:"router,omitempty"`
	// TLS runs every link (etcd peer and client, MinIO, hosts, routers, the harness) with
	// mutual TLS from a CA drawn per run; unset, the provider decides (on for netns, off
	// for local, where it is a choice).
	TLS *bool `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Etcd tunes the stack's etcd members (the zero value is api.DefaultEtcdHeartbeat and
	// api.DefaultEtcdElection).
	Etcd Etcd `yaml:"etcd,omitempty" json:"etcd,omitempty"`
}

// Etcd is the raft timing every etcd member of the stack runs with. A leader that dies is
// replaced after about one election timeout, which every failover whose region held the
// etcd leader waits out; a shorter timeout fails over sooner but calls needless elections
// when a heartbeat is late (a loaded machine, a slow link), and each election stalls every
// write for a moment.
type Etcd struct {
	// HeartbeatInterval: how often the leader heartbeats its followers (default 100ms).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval,omitempty" json:"heartbeat_interval,omitempty"`
	// ElectionTimeout: how long a follower hears no heartbeat before it calls an election
	// (default 1s); at least 5 heartbeat intervals, as etcd requires.
	ElectionTimeout time.Duration `yaml:"election_timeout,omitempty" json:"election_timeout,omitempty"`
}

// Timing is the heartbeat interval and election timeout the members run with, defaults
// filled.
func (e Etcd) Timing() (heartbeat, election time.Duration) {
	heartbeat, election = e.HeartbeatInterval, e.ElectionTimeout
	if heartbeat == 0 {
		heartbeat = api.DefaultEtcdHeartbeat
	}
	if election == 0 {
		election = api.DefaultEtcdElection
	}
	return heartbeat, election
}

// MinLeaseTTL is the shortest lease etcd grants with this timing (one and a half election
// timeouts, in whole seconds): a shorter TTL would be silently raised to it.
func (e Etcd) MinLeaseTTL() time.Duration {
	_, election := e.Timing()
	return (election*3/2 + time.Second - 1) / time.Second * time.Second
}

// Controller is the failover controller that runs beside every agent host.
type Controller struct {
	// Disabled turns the controller off: failover then waits for the lease to expire.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// ProbeEvery is the /healthz probe interval (default 200ms).
	ProbeEvery time.Duration `yaml:"probe_every,omitempty" json:"probe_every,omitempty"`
	// FailureThreshold: consecutive failed probes before a region is dead (default 3).
	FailureThreshold int `yaml:"failure_threshold,omitempty" json:"failure_threshold,omitempty"`
	// MaxAgentsPerHost caps each host; 0 is unlimited.
	MaxAgentsPerHost int `yaml:"max_agents_per_host,omitempty" json:"max_agents_per_host,omitempty"`
}

// Failback: manual (default; an operator runs `refstack failback`) or auto after Hold.
type Failback struct {
	Mode string        `yaml:"mode,omitempty" json:"mode,omitempty"`
	Hold time.Duration `yaml:"hold,omitempty" json:"hold,omitempty"` // healthy time before auto fail-back (default 5s)
}

// Fail-back modes.
const (
	FailbackManual = "manual"
	FailbackAuto   = "auto"
)

// Router settings.
type Router struct {
	// OwnerTTL caches each agent's owner this long, like a DNS TTL; 0 follows etcd watches.
	OwnerTTL time.Duration `yaml:"owner_ttl,omitempty" json:"owner_ttl,omitempty"`
	// Count is how many routers the clients spread their requests over (default 1). Each
	// caches owners on its own, as clients behind different DNS caches do, so with an owner
	// TTL two clients can see two owners of one agent at once.
	Count int `yaml:"count,omitempty" json:"count,omitempty"`
}

// MaxRouters bounds router.count: each router is one more process.
const MaxRouters = 4

// Durabilities the stack implements.
func Durabilities() []string { return []string{api.DurabilitySyncGeo, api.DurabilityAsync} }

// WithDefaults fills the settings a run records with their defaults (durability, lease TTL,
// checkpoint cadence); the controller's and router's zero values stay zero, meaning the
// refstack defaults. It is idempotent; negative values are left for Problems to report.
func (s Stack) WithDefaults() Stack {
	if s.Durability == "" {
		s.Durability = api.DefaultDurability
	}
	if s.LeaseTTL == 0 {
		s.LeaseTTL = api.DefaultLeaseTTL
	}
	if s.CheckpointEvery == 0 {
		s.CheckpointEvery = api.DefaultCheckpointEvery
	}
	if s.Durability == api.DurabilityAsync && s.CheckpointInterval == 0 {
		s.CheckpointInterval = api.DefaultCheckpointInterval
	}
	return s
}

// Routers is how many routers run (at least one).
func (s Stack) Routers() int { return max(s.Router.Count, 1) }

// Write saves s (with defaults) to path as YAML, for the refstack processes' --config.
func (s Stack) Write(path string) error {
	var buf bytes.Buffer
	buf.WriteString("# The reference stack's configuration for this run (refstack/config); read by every host and router.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s.WithDefaults()); err != nil {
		return fmt.Errorf("stack config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("stack config: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write stack config: %w", err)
	}
	return nil
}

// Read loads a stack configuration file strictly (an unknown field is an error), applies
// the defaults and checks it.
func Read(path string) (Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Stack{}, fmt.Errorf("stack config: %w", err)
	}
	var s Stack
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Stack{}, fmt.Errorf("stack config %s: %w", path, err)
	}
	s = s.WithDefaults()
	if ps := s.Problems(); len(ps) > 0 {
		return Stack{}, fmt.Errorf("stack config %s: %s: %s (%s)", path, ps[0].Field, ps[0].Msg, ps[0].Fix)
	}
	return s, nil
}

// TLSOn says whether the stack runs with mutual TLS: as set, else the provider's default.
func (s Stack) TLSOn(providerDefault bool) bool {
	if s.TLS != nil {
		return *s.TLS
	}
	return providerDefault
}
