package reports

import (
	"fmt"

	"github.com/geodrill/geodrill/timeline"
)

// triggerLines says, for every triggered fault, which stack event triggered it, or that
// none did: "f2:region-outage (b) injected at 8.561s, triggered by ownership-change of
// agent-03 to b@epoch 4 at 8.410s + 150ms".
func triggerLines(events []timeline.Event) []string {
	var out []string
	for _, e := range timeline.Sorted(events) {
		switch {
		case e.Kind == timeline.Inject && e.Detail["triggered_by"] != "":
			out = append(out, fmt.Sprintf("%s (%s) injected at %s, triggered by %s + %s",
				e.Name, e.Target, offset(e.At), e.Detail["triggered_by"], e.Detail["trigger_delay"]))
		case e.Kind == timeline.NotTriggered:
			out = append(out, fmt.Sprintf("%s NOT TRIGGERED: waited for %s; %s", e.Name, e.Detail["trigger"], e.Detail["why"]))
		}
	}
	return out
}
