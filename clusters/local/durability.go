package local

import (
	"strconv"

	"github.com/geodrill/geodrill/clusters/internal/spec"
	"github.com/geodrill/geodrill/refstack/api"
)

// durabilityArgs are the host flags of the spec's durability settings. Defaults are left
// out so a host binary (or test stand-in) that predates them still starts.
func durabilityArgs(s spec.Spec) []string {
	var args []string
	if s.Durability != "" && s.Durability != api.DefaultDurability {
		args = append(args, "--durability", s.Durability)
	}
	if s.CheckpointInterval > 0 {
		args = append(args, "--checkpoint-interval", s.CheckpointInterval.String())
	}
	if s.ChainLength > 0 {
		args = append(args, "--chain-length", strconv.Itoa(s.ChainLength))
	}
	return args
}
