package providers_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/providers"
	"github.com/geodrill/geodrill/scenarios"
)

func TestNewProviders(t *testing.T) {
	s := clusters.Spec{Regions: []string{"a"}, Agents: 1, BinDir: t.TempDir()}
	tests := []struct {
		provider string
		want     string // substring of the error
	}{
		{"nope", `unknown provider "nope" (valid: auto, netns, local, kind, docker)`},
		// local and auto reach the local provider (auto as root: netns, which wraps it),
		// which checks for the binaries.
		{"local", "make build"},
		{"auto", "make build"},
		{"", "make build"},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			c, err := providers.New(tt.provider, s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%q): got %v, want an error containing %q", tt.provider, err, tt.want)
			}
			if c != nil {
				t.Fatalf("New(%q) returned a cluster with an error: %#v", tt.provider, c)
			}
		})
	}
}

// A scenario may name exactly the providers the table has, and auto.
func TestScenarioProvidersAreTheTable(t *testing.T) {
	var names []string
	for _, p := range providers.Providers() {
		names = append(names, p.Name)
	}
	names = append(names, "auto")
	sort.Strings(names)
	listed := append([]string(nil), scenarios.Providers()...)
	sort.Strings(listed)
	if !slices.Equal(names, listed) {
		t.Errorf("scenarios.Providers %v, the providers table has %v", listed, names)
	}
}
