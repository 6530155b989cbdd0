package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

// Problem is one thing wrong with a stack configuration.
type Problem struct {
	// Field is the setting's path, e.g. "stack.lease_ttl" (with the prefix given to
	// ProblemsAt).
	Field string
	Msg   string
	// Fix says what to write instead.
	Fix string
	// Related are other settings the problem depends on (same prefix), so that a reader
	// who already reported one of them can stay quiet.
	Related []string
}

// Problems reports everything wrong with s (defaults applied first), fields named as in a
// stack configuration file.
func (s Stack) Problems() []Problem { return s.ProblemsAt("") }

// ProblemsAt reports everything wrong with s, each field named with prefix (a scenario
// passes "stack.").
func (s Stack) ProblemsAt(prefix string) []Problem {
	var out []Problem
	add := func(field, fix, msg string, related ...string) {
		for i := range related {
			related[i] = prefix + related[i]
		}
		out = append(out, Problem{Field: prefix + field, Msg: msg, Fix: fix, Related: related})
	}
	at := func(field string) string { return prefix + field }

	if !slices.Contains(Durabilities(), s.Durability) {
		fix := "use one of: " + strings.Join(Durabilities(), ", ")
		add("durability", fix, fmt.Sprintf("unknown durability %q", s.Durability))
	}
	ttl, minTTL := s.LeaseTTL, max(api.MinLeaseTTL, s.Etcd.MinLeaseTTL())
	switch {
	case ttl <= 0:
		add("lease_ttl", "leave it out for the default (2s)", fmt.Sprintf("%s must be positive, got %s", at("lease_ttl"), ttl))
	case ttl < minTTL:
		add("lease_ttl", fmt.Sprintf("use lease_ttl: %s", minTTL),
			fmt.Sprintf("%s %s is below etcd's minimum lease TTL of %s", at("lease_ttl"), ttl, minTTL), "etcd.election_timeout")
	case ttl%time.Second != 0:
		up := (ttl + time.Second - 1) / time.Second * time.Second
		add("lease_ttl", fmt.Sprintf("use lease_ttl: %s", up),
			fmt.Sprintf("%s %s is not whole seconds; etcd leases are", at("lease_ttl"), ttl))
	}
	if s.CheckpointEvery < 1 {
		add("checkpoint_every", fmt.Sprintf("leave it out for the default (%d)", api.DefaultCheckpointEvery),
			fmt.Sprintf("%s must be at least 1, got %d", at("checkpoint_every"), s.CheckpointEvery))
	}

	// The settings that belong to async durability.
	async := s.Durability == api.DurabilityAsync
	switch {
	case s.CheckpointInterval < 0:
		add("checkpoint_interval", "e.g. checkpoint_interval: 1s",
			fmt.Sprintf("%s must be positive, got %s", at("checkpoint_interval"), s.CheckpointInterval))
	case s.CheckpointInterval > 0 && !async:
		add("checkpoint_interval", "leave it out, or set durability: async",
			at("checkpoint_interval")+" applies to durability async only (sync-geo checkpoints every checkpoint_every log entries)", "durability")
	}
	if s.ChainLength < 0 {
		add("chain_length", fmt.Sprintf("leave it out for the default (%d)", api.DefaultChainLength),
			fmt.Sprintf("%s must not be negative, got %d", at("chain_length"), s.ChainLength))
	}
	var de bugs.DurabilityError
	if err := s.Unsafe.CheckDurability(s.Durability); errors.As(err, &de) {
		add("unsafe."+string(de.Switch), fmt.Sprintf("set durability: %s, or drop the switch", de.Want),
			err.Error(), "durability")
	}

	heartbeat, election := s.Etcd.Timing()
	switch {
	case s.Etcd.HeartbeatInterval < 0 || (s.Etcd.HeartbeatInterval > 0 && s.Etcd.HeartbeatInterval < 10*time.Millisecond):
		add("etcd.heartbeat_interval", "use 10ms or more, or leave it out for the default (100ms)",
			fmt.Sprintf("%s must be at least 10ms, got %s", at("etcd.heartbeat_interval"), s.Etcd.HeartbeatInterval))
	case heartbeat%time.Millisecond != 0 || election%time.Millisecond != 0:
		add("etcd", "write whole milliseconds", at("etcd")+" timings are whole milliseconds in etcd")
	case election < 5*heartbeat:
		add("etcd.election_timeout", fmt.Sprintf("use election_timeout: %s or more", 5*heartbeat),
			fmt.Sprintf("%s %s is under 5 heartbeat intervals (%s), which etcd refuses", at("etcd.election_timeout"), election, heartbeat),
			"etcd.heartbeat_interval")
	case election > 50*time.Second:
		add("etcd.election_timeout", "use 50s or less", fmt.Sprintf("%s %s is over etcd's limit of 50s", at("etcd.election_timeout"), election))
	}

	// Failure detection, fail-back and routing.
	c := s.Controller
	if c.ProbeEvery < 0 {
		add("controller.probe_every", "leave it out for the default (200ms)",
			fmt.Sprintf("%s must be positive, got %s", at("controller.probe_every"), c.ProbeEvery))
	}
	if c.FailureThreshold < 0 {
		add("controller.failure_threshold", "leave it out for the default (3)",
			fmt.Sprintf("%s must be at least 1, got %d", at("controller.failure_threshold"), c.FailureThreshold))
	}
	if c.MaxAgentsPerHost < 0 {
		add("controller.max_agents_per_host", "use 0 (unlimited) or a positive count",
			fmt.Sprintf("%s must not be negative, got %d", at("controller.max_agents_per_host"), c.MaxAgentsPerHost))
	}
	switch s.Failback.Mode {
	case "", FailbackManual, FailbackAuto:
	default:
		add("failback.mode", "use mode: manual or mode: auto", fmt.Sprintf("unknown fail-back mode %q", s.Failback.Mode))
	}
	if s.Failback.Hold < 0 {
		add("failback.hold", "leave it out for the default (5s)",
			fmt.Sprintf("%s must be positive, got %s", at("failback.hold"), s.Failback.Hold))
	}
	if s.Failback.Mode == FailbackAuto && c.Disabled {
		add("failback.mode", "remove controller.disabled, or use mode: manual",
			"auto fail-back needs the controller, but "+at("controller.disabled")+" is true")
	}
	if s.Router.OwnerTTL < 0 {
		add("router.owner_ttl", "use 0 (follow etcd watches) or a positive duration such as 5s",
			fmt.Sprintf("%s must not be negative, got %s", at("router.owner_ttl"), s.Router.OwnerTTL))
	}
	if s.Router.Count < 0 || s.Router.Count > MaxRouters {
		add("router.count", fmt.Sprintf("use 1 to %d (leave it out for one router)", MaxRouters),
			fmt.Sprintf("%s must be between 1 and %d, got %d", at("router.count"), MaxRouters, s.Router.Count))
	}
	return out
}
