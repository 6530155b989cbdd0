package scenarios

import "fmt"

// validateFailover checks stack.controller, stack.failback and stack.router.
func (st *Stack) validateFailover(v *validator) {
	c := st.Controller
	if c.ProbeEvery < 0 {
		v.add("stack.controller.probe_every", "leave it out for the default (200ms)",
			fmt.Sprintf("stack.controller.probe_every must be positive, got %s", c.ProbeEvery))
	}
	if c.FailureThreshold < 0 {
		v.add("stack.controller.failure_threshold", "leave it out for the default (3)",
			fmt.Sprintf("stack.controller.failure_threshold must be at least 1, got %d", c.FailureThreshold))
	}
	if c.MaxAgentsPerHost < 0 {
		v.add("stack.controller.max_agents_per_host", "use 0 (unlimited) or a positive count",
			fmt.Sprintf("stack.controller.max_agents_per_host must not be negative, got %d", c.MaxAgentsPerHost))
	}
	switch st.Failback.Mode {
	case "", "manual", "auto":
	default:
		v.add("stack.failback.mode", "use mode: manual or mode: auto",
			fmt.Sprintf("unknown fail-back mode %q", st.Failback.Mode))
	}
	if st.Failback.Hold < 0 {
		v.add("stack.failback.hold", "leave it out for the default (5s)",
			fmt.Sprintf("stack.failback.hold must be positive, got %s", st.Failback.Hold))
	}
	if st.Failback.Mode == "auto" && c.Disabled {
		v.add("stack.failback.mode", "remove controller.disabled, or use mode: manual",
			"auto fail-back needs the controller, but stack.controller.disabled is true")
	}
	if st.Router.OwnerTTL < 0 {
		v.add("stack.router.owner_ttl", "use 0 (follow etcd watches) or a positive duration such as 5s",
			fmt.Sprintf("stack.router.owner_ttl must not be negative, got %s", st.Router.OwnerTTL))
	}
	if st.Router.Count < 0 || st.Router.Count > MaxRouters {
		v.add("stack.router.count", fmt.Sprintf("use 1 to %d (leave it out for one router)", MaxRouters),
			fmt.Sprintf("stack.router.count must be between 1 and %d, got %d", MaxRouters, st.Router.Count))
	}
}

// MaxRouters bounds stack.router.count: each router is one more process.
const MaxRouters = 4
