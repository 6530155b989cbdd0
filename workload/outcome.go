package workload

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/workload/history"
)

// connInfo is what the transport saw of one request: whether it ever got a connection
// (after that, bytes may be on the wire) and whether its last attempt failed to dial.
type connInfo struct {
	Connected bool
	DialError bool
}

// reply is everything the client learnt about one request.
type reply struct {
	Status int         // 0: no complete response (transport error or body cut off)
	Header http.Header // response headers, when there was a response
	Body   []byte
	Err    string // transport error, or the status line for a non-2xx/3xx response
	Conn   connInfo
}

// settle sets op's outcome and result fields from r. See the package doc for the rules.
func settle(op *history.Op, r reply) {
	op.Status = r.Status
	op.Error = r.Err
	if r.Status == 0 {
		// Nothing was sent unless a connection was obtained. A final dial error also means
		// the last attempt sent nothing, and the transport only retries a put or cas on a
		// new connection when the earlier attempt wrote nothing.
		if !r.Conn.Connected || r.Conn.DialError {
			op.Outcome = history.Fail
		} else {
			op.Outcome = history.Unknown
		}
		return
	}

	var resp api.Response
	var decodeErr error
	if len(r.Body) > 0 {
		decodeErr = json.Unmarshal(r.Body, &resp)
	} else {
		decodeErr = errors.New("empty body")
	}
	op.Region, op.Epoch = resp.Region, resp.Epoch
	if op.Region == "" {
		op.Region = r.Header.Get(api.HeaderRegion)
	}
	if op.Epoch == 0 {
		if e, err := strconv.ParseInt(r.Header.Get(api.HeaderEpoch), 10, 64); err == nil {
			op.Epoch = e
		}
	}
	if decodeErr == nil && resp.Error != "" {
		op.Error = joinErr(op.Error, resp.Error)
	}

	said := history.Outcome(strings.ToLower(strings.TrimSpace(r.Header.Get(api.HeaderOutcome))))
	if said != history.Fail && said != history.Unknown {
		said = ""
	}

	switch {
	case r.Status == http.StatusOK && said != "":
		// The status says it took effect, the header says it did not or may not have:
		// only unknown is safe.
		op.Outcome = history.Unknown
		op.Error = joinErr(op.Error, fmt.Sprintf("200 with %s: %s", api.HeaderOutcome, said))
	case r.Status == http.StatusOK && decodeErr != nil:
		op.Outcome = history.Unknown
		op.Error = joinErr(op.Error, "decode response: "+decodeErr.Error())
	case r.Status == http.StatusOK:
		op.Outcome = history.OK
		switch op.Kind {
		case history.Get:
			// history.Op documents the read value both in Value (see Found) and in Read;
			// set both so a reader of either field sees it.
			op.Found = resp.Found
			op.Read = resp.Value
			op.Value = resp.Value
		case history.CAS:
			op.Swapped = resp.Swapped
			op.Read = resp.Value
			if !resp.Swapped {
				// A failed compare answers with the value it saw (api: Found, Value).
				op.Found, op.ReadKnown = resp.Found, true
			}
		}
	case said != "":
		op.Outcome = said
	case r.Status >= 400 && r.Status < 500:
		op.Outcome = history.Fail
	default:
		op.Outcome = history.Unknown
	}
	if op.Outcome != history.OK && op.Error == "" {
		// vegeta leaves the error empty for 1xx-3xx; say why the op is not ok.
		op.Error = fmt.Sprintf("status %d %s", r.Status, http.StatusText(r.Status))
	}
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + ": " + b
}

// connTracker remembers, per op id, what the transport saw. Run and FinalReads read it
// back when the op's result arrives.
type connTracker struct {
	mu sync.Mutex
	m  map[int64]connInfo
}

func newConnTracker() *connTracker { return &connTracker{m: map[int64]connInfo{}} }

func (t *connTracker) update(id int64, f func(*connInfo)) {
	t.mu.Lock()
	ci := t.m[id]
	f(&ci)
	t.m[id] = ci
	t.mu.Unlock()
}

// take returns and forgets what was seen for id.
func (t *connTracker) take(id int64) connInfo {
	t.mu.Lock()
	ci := t.m[id]
	delete(t.m, id)
	t.mu.Unlock()
	return ci
}

// trackingTransport records, per op id in the URL, whether a connection was obtained and
// whether the round trip failed to dial. vegeta reports errors only as text; this keeps
// the "was anything sent" question typed.
type trackingTransport struct {
	base    http.RoundTripper
	tracker *connTracker
}

func (t *trackingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	id, err := strconv.ParseInt(req.URL.Query().Get("op"), 10, 64)
	if err != nil {
		return t.base.RoundTrip(req)
	}
	trace := &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			t.tracker.update(id, func(ci *connInfo) { ci.Connected = true })
		},
	}
	resp, err := t.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		dial := isDialError(err)
		t.tracker.update(id, func(ci *connInfo) { ci.DialError = dial })
	}
	return resp, err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// newClient is the HTTP client of Run and FinalReads: keep-alive connections, no proxy (a
// proxy in the path would blur what reached the router), redirects not followed (a 3xx is
// not an API answer), and per-request connection tracking.
func newClient(timeout time.Duration, conns uint64, tlsCfg *tls.Config, tracker *connTracker) (*http.Client, *http.Transport) {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: int(conns),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     tlsCfg,
	}
	client := &http.Client{
		Timeout:   timeout,
		Transport: &trackingTransport{base: tr, tracker: tracker},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return client, tr
}
