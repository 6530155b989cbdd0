package drill

import (
	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/scenarios"
)

// stackController maps the scenario's controller and fail-back settings to the cluster spec.
func stackController(st scenarios.Stack) clusters.Controller {
	return clusters.Controller{
		Disabled:         st.Controller.Disabled,
		ProbeEvery:       st.Controller.ProbeEvery.D(),
		FailureThreshold: st.Controller.FailureThreshold,
		MaxAgentsPerHost: st.Controller.MaxAgentsPerHost,
		FailbackMode:     st.Failback.Mode,
		FailbackHold:     st.Failback.Hold.D(),
	}
}
