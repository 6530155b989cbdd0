package scenarios

import (
	"strings"
	"testing"
	"time"
)

func TestFailoverFields(t *testing.T) {
	const base = `
name: x
topology: {regions: [a, b, c], agents: 3}
workload: {rate: 10, duration: 10s}
stack:
`
	for _, tc := range []struct {
		stack string
		field string // "" = valid
		line  int
	}{
		{"  failback: {mode: auto, hold: 5s}\n  controller: {probe_every: 100ms, failure_threshold: 2, max_agents_per_host: 4}\n  router: {owner_ttl: 5s}\n", "", 0},
		{"  failback: {mode: sometimes}\n", "stack.failback.mode", 6},
		{"  failback: {mode: auto}\n  controller: {disabled: true}\n", "stack.failback.mode", 6},
		{"  controller: {max_agents_per_host: -1}\n", "stack.controller.max_agents_per_host", 6},
		{"  controller: {failure_threshold: -2}\n", "stack.controller.failure_threshold", 6},
		{"  router: {owner_ttl: -1s}\n", "stack.router.owner_ttl", 6},
		{"  controller: {probe_evry: 1s}\n", "stack.controller", 6}, // unknown field: strict decoding
	} {
		s, err := Parse("x.yaml", []byte(base+tc.stack))
		if tc.field == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.stack, err)
				continue
			}
			if s.Stack.Failback.Hold != 5*time.Second || s.Stack.Controller.FailureThreshold != 2 ||
				s.Stack.Router.OwnerTTL != 5*time.Second {
				t.Errorf("decoded %+v", s.Stack)
			}
			continue
		}
		errs := Errors(err)
		if len(errs) == 0 {
			t.Errorf("%q: no error, want one on %s", tc.stack, tc.field)
			continue
		}
		if !strings.HasPrefix(errs[0].Field, tc.field) || errs[0].Line != tc.line || errs[0].Fix == "" {
			t.Errorf("%q: first error %+v, want field %s on line %d with a fix", tc.stack, errs[0], tc.field, tc.line)
		}
	}
}

func TestShippedFailoverScenarios(t *testing.T) {
	for _, f := range []string{"failback.yaml", "region-outage-revoke.yaml"} {
		s, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		switch s.Name {
		case "failback":
			if s.Stack.Failback.Mode != "auto" || s.Stack.Failback.Hold <= 0 {
				t.Errorf("failback.yaml does not fail back automatically: %+v", s.Stack.Failback)
			}
		case "region-outage-revoke":
			if s.SLA.RTOP95 == nil || s.SLA.RTOP95.D() >= s.Stack.LeaseTTL || s.Stack.Controller.Disabled {
				t.Errorf("region-outage-revoke must target an RTO below its lease TTL %s with the controller on", s.Stack.LeaseTTL)
			}
		}
	}
}
