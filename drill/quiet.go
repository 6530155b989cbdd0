package drill

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

// QuietName names the Observe event that records how long the harness waited for the stack
// to finish the client operations it still held before the final reads (Detail: waited;
// held, the operations in flight at its first poll; busy, what was left when it gave up).
const QuietName = "quiet"

// quietPolls is how many polls in a row must see every host idle: a request the router has
// just forwarded may not have reached its host at the first.
const quietPolls = 2

// waitQuiet waits until no host is handling a client operation, polled every 100ms, at most
// limit. Past the throughput ceiling hosts still hold requests their clients abandoned when
// the load ends; a final read that ran before them would miss writes that land later, and
// convergence would blame the stack for the harness's haste. It returns how long it waited
// and, when it gave up, what was still in flight.
func waitQuiet(ctx context.Context, eps clusters.Endpoints, tlsCfg *tls.Config, regions []string, limit time.Duration) (q quiet) {
	start := time.Now()
	defer func() { q.waited = time.Since(start) }()
	client := statusClient(tlsCfg)
	idle := 0
	var last map[string]string
	for poll := 0; ; poll++ {
		busy := map[string]string{}
		for _, r := range regions {
			host := eps.Regions[r].Host
			if host == "" {
				continue // a stack without our hosts: nothing to ask
			}
			n, err := hostInFlight(ctx, client, host)
			switch {
			case err != nil:
				busy[r] = err.Error()
			case n > 0:
				busy[r] = strconv.FormatInt(n, 10) + " in flight"
				if poll == 0 {
					q.held += n
				}
			}
		}
		if len(busy) == 0 {
			idle++
		} else {
			idle, last = 0, busy
		}
		if idle >= quietPolls {
			return q
		}
		if time.Since(start) >= limit {
			var parts []string
			for _, r := range slices.Sorted(maps.Keys(last)) {
				parts = append(parts, r+": "+last[r])
			}
			q.err = fmt.Errorf("still busy after %s (%s)", limit, strings.Join(parts, "; "))
			return q
		}
		select {
		case <-ctx.Done():
			q.err = ctx.Err()
			return q
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hostInFlight reads one host's in-flight count from its /status.
func hostInFlight(ctx context.Context, client *http.Client, host string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, host+"/status", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/status: %s", host, resp.Status)
	}
	var st api.HostStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("%s/status: %w", host, err)
	}
	return st.InFlight, nil
}

// quiet is how a wait for the stack to go idle went.
type quiet struct {
	waited time.Duration
	held   int64 // operations in flight at the first poll
	err    error // still busy at the limit, or interrupted
}

// event records the wait on the timeline.
func (q quiet) event() timeline.Event {
	e := timeline.Event{Kind: timeline.Observe, Name: QuietName, Detail: map[string]string{
		"waited": q.waited.Round(time.Millisecond).String(), "held": strconv.FormatInt(q.held, 10)}}
	if q.err != nil {
		e.Detail["busy"] = q.err.Error()
	}
	return e
}
