package drill

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/geodrill/geodrill/faults/timeline"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/workload"
	"github.com/geodrill/geodrill/workload/history"
)

// finalWriteBase numbers final writes apart from load ops (from 1) and final reads (from
// workload.FinalReadBase up, one per key).
const finalWriteBase = workload.FinalReadBase + 1<<30

// finalWrites puts one value per agent through the router after the final reads, retrying
// each agent a few times while it answers 503/409: the healed stack must accept writes
// again. Every attempt is a history op with Final set, so the convergence checker judges
// them; the RPO checker ignores final writes (the final reads already came before them).
func finalWrites(ctx context.Context, router string, agents []string, key string, seed int64, clock *timeline.Clock, timeout time.Duration) history.History {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	client := &http.Client{Timeout: timeout}
	defer client.CloseIdleConnections()
	var h history.History
	id := finalWriteBase
	for _, agent := range agents {
		for attempt := 0; attempt < 10 && ctx.Err() == nil; attempt++ {
			op := history.Op{ID: id, Agent: agent, Key: key, Kind: history.Put, Final: true,
				Value: fmt.Sprintf("final-%d-s%d", id, seed)}
			id++
			putOnce(ctx, client, router, &op, clock)
			h = append(h, op)
			if op.Outcome == history.OK {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	return h
}

// putOnce sends op and settles its outcome the way the router's contract defines it: 200 is
// ok; a response carrying X-Geodrill-Outcome says fail or unknown; other 4xx and 503 did not
// happen; anything else after sending (5xx, timeout, reset) is unknown.
func putOnce(ctx context.Context, client *http.Client, router string, op *history.Op, clock *timeline.Clock) {
	u := strings.TrimRight(router, "/") + "/agents/" + url.PathEscape(op.Agent) + "/kv/" + url.PathEscape(op.Key) +
		"?op=" + strconv.FormatInt(op.ID, 10)
	op.Invoke = clock.Now()
	defer func() { op.Complete = clock.Now() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(op.Value))
	if err != nil {
		op.Outcome, op.Error = history.Fail, err.Error()
		return
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		op.Outcome, op.Error = history.Unknown, err.Error()
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	op.Status = resp.StatusCode
	op.Region = resp.Header.Get(api.HeaderRegion)
	op.Epoch, _ = strconv.ParseInt(resp.Header.Get(api.HeaderEpoch), 10, 64)
	switch o := resp.Header.Get(api.HeaderOutcome); {
	case resp.StatusCode == http.StatusOK:
		op.Outcome = history.OK
	case o == "fail" || o == "unknown":
		op.Outcome = history.Outcome(o)
	case resp.StatusCode == http.StatusServiceUnavailable || (resp.StatusCode >= 400 && resp.StatusCode < 500):
		op.Outcome = history.Fail
	default:
		op.Outcome = history.Unknown
	}
	if op.Outcome != history.OK {
		op.Error = strings.TrimSpace(string(body))
	}
}
