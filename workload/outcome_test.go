package workload

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// respond answers with a fixed status, headers and body after reading the request.
func respond(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// hijackClose reads the whole request, then closes the connection without answering;
// with linger 0 the close is a reset.
func hijackClose(reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if reset {
			c.(*net.TCPConn).SetLinger(0)
		}
		c.Close()
	}
}

// truncated sends 200 headers and part of the promised body, then drops the connection.
func truncated(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Length", "200")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"agent":"agent-00","region":"r1"`)
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

const okBody = `{"agent":"agent-00","key":"k0","region":"r2","epoch":3}`

// TestOutcomeMapping runs the real load path (vegeta, client, settle) against servers that
// answer each way the router can, and checks the outcome every op was given.
func TestOutcomeMapping(t *testing.T) {
	t.Parallel()
	type want struct {
		outcome history.Outcome
		status  int
		region  string
		epoch   int64
		found   bool
		read    string
		swapped bool
		known   bool // ReadKnown
		errHas  string
	}
	tests := []struct {
		name    string
		kind    history.Kind
		handler http.HandlerFunc // nil: a closed port
		want    want
	}{
		// 200: ok, with the result fields.
		{"put 200", history.Put, respond(200, okBody),
			want{outcome: history.OK, status: 200, region: "r2", epoch: 3}},
		{"get 200 found", history.Get, respond(200, `{"agent":"a","region":"r2","epoch":3,"found":true,"value":"v9-s1"}`),
			want{outcome: history.OK, status: 200, region: "r2", epoch: 3, found: true, read: "v9-s1"}},
		{"get 200 not found", history.Get, respond(200, `{"agent":"a","region":"r2","epoch":3}`),
			want{outcome: history.OK, status: 200, region: "r2", epoch: 3}},
		{"cas 200 swapped", history.CAS, respond(200, `{"agent":"a","region":"r2","epoch":3,"swapped":true,"value":"new"}`),
			want{outcome: history.OK, status: 200, region: "r2", epoch: 3, swapped: true, read: "new"}},
		{"cas 200 not swapped", history.CAS, respond(200, `{"agent":"a","region":"r2","epoch":3,"found":true,"value":"other"}`),
			want{outcome: history.OK, status: 200, region: "r2", epoch: 3, found: true, read: "other", known: true}},
		{"cas 200 not swapped on an absent key", history.CAS, respond(200, `{"agent":"a","region":"r2","epoch":3}`),
			want{outcome: history.OK, status: 200, region: "r2", epoch: 3, known: true}},
		{"get 200 region and epoch from headers", history.Get,
			respond(200, `{"agent":"a","found":true,"value":"x"}`, api.HeaderRegion, "r3", api.HeaderEpoch, "11"),
			want{outcome: history.OK, status: 200, region: "r3", epoch: 11, found: true, read: "x"}},
		// 200 that cannot be trusted: unknown.
		{"put 200 with outcome unknown header", history.Put, respond(200, okBody, api.HeaderOutcome, "unknown"),
			want{outcome: history.Unknown, status: 200, region: "r2", epoch: 3, errHas: api.HeaderOutcome}},
		{"put 200 with outcome fail header", history.Put, respond(200, okBody, api.HeaderOutcome, "fail"),
			want{outcome: history.Unknown, status: 200, region: "r2", epoch: 3, errHas: api.HeaderOutcome}},
		{"cas 200 bad json", history.CAS, respond(200, `{"swapped":tru`),
			want{outcome: history.Unknown, status: 200, errHas: "decode"}},
		{"get 200 empty body", history.Get, respond(200, ""),
			want{outcome: history.Unknown, status: 200, errHas: "decode"}},
		// The outcome header decides on other statuses.
		{"put 503 fail header (no owner)", history.Put,
			respond(503, `{"agent":"a","error":"no owner"}`, api.HeaderOutcome, "fail", "Retry-After", "1"),
			want{outcome: history.Fail, status: 503, errHas: "no owner"}},
		{"put 502 unknown header", history.Put, respond(502, `{"agent":"a","error":"upstream reset"}`, api.HeaderOutcome, "unknown"),
			want{outcome: history.Unknown, status: 502, errHas: "upstream reset"}},
		{"cas 500 fail header", history.CAS, respond(500, "", api.HeaderOutcome, "fail"),
			want{outcome: history.Fail, status: 500, errHas: "500"}},
		{"put 409 unknown header", history.Put, respond(409, "", api.HeaderOutcome, "Unknown"),
			want{outcome: history.Unknown, status: 409}},
		{"put 409 fail header, fenced", history.Put,
			respond(409, `{"agent":"a","region":"r1","epoch":2,"error":"fenced"}`, api.HeaderOutcome, "fail"),
			want{outcome: history.Fail, status: 409, region: "r1", epoch: 2, errHas: "fenced"}},
		// Without the header: 4xx fail, everything else unknown.
		{"put 409", history.Put, respond(409, `{"agent":"a","error":"not owner"}`),
			want{outcome: history.Fail, status: 409, errHas: "409 Conflict: not owner"}},
		{"cas 400", history.CAS, respond(400, "bad"), want{outcome: history.Fail, status: 400}},
		{"put 404", history.Put, respond(404, ""), want{outcome: history.Fail, status: 404}},
		{"put 429", history.Put, respond(429, ""), want{outcome: history.Fail, status: 429}},
		{"put 500", history.Put, respond(500, ""), want{outcome: history.Unknown, status: 500}},
		{"cas 502", history.CAS, respond(502, ""), want{outcome: history.Unknown, status: 502}},
		{"put 503 no header", history.Put, respond(503, ""), want{outcome: history.Unknown, status: 503}},
		{"put 504", history.Put, respond(504, ""), want{outcome: history.Unknown, status: 504}},
		{"get 500 kept as recorded", history.Get, respond(500, ""), want{outcome: history.Unknown, status: 500}},
		{"get 409 kept as recorded", history.Get, respond(409, ""), want{outcome: history.Fail, status: 409}},
		{"put 302 not followed", history.Put, respond(302, "", "Location", "/elsewhere"),
			want{outcome: history.Unknown, status: 302, errHas: "302 Found"}},
		{"put 204", history.Put, respond(204, ""), want{outcome: history.Unknown, status: 204, errHas: "204"}},
		// No response.
		{"put closed port", history.Put, nil, want{outcome: history.Fail, errHas: "refused"}},
		{"cas closed port", history.CAS, nil, want{outcome: history.Fail, errHas: "refused"}},
		{"get closed port", history.Get, nil, want{outcome: history.Fail, errHas: "refused"}},
		{"put hangs past timeout", history.Put, nil /* set below */, want{outcome: history.Unknown, errHas: "deadline exceeded|Client.Timeout"}},
		{"put conn closed after request", history.Put, hijackClose(false), want{outcome: history.Unknown, errHas: "EOF"}},
		{"cas conn reset after request", history.CAS, hijackClose(true), want{outcome: history.Unknown, errHas: "reset"}},
		{"get conn closed after request", history.Get, hijackClose(false), want{outcome: history.Unknown, errHas: "EOF"}},
		{"put body cut off", history.Put, truncated, want{outcome: history.Unknown, errHas: "EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			handler := tt.handler
			if strings.Contains(tt.name, "hangs") {
				release := make(chan struct{})
				t.Cleanup(func() { close(release) })
				handler = func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}
			}
			var router string
			if handler == nil {
				router = "http://" + closedAddr(t)
			} else {
				srv := httptest.NewServer(handler)
				t.Cleanup(srv.Close)
				router = srv.URL
			}
			cfg := Config{
				Router: router, Agents: []string{"agent-00"}, Keys: []string{"k0"},
				Rate: 20, Duration: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Seed: 1,
			}
			switch tt.kind {
			case history.Put:
				cfg.Mix.Put = 1
			case history.Get:
				cfg.Mix.Get = 1
			case history.CAS:
				cfg.Mix.CAS = 1
			}
			var stats Stats
			h, err := Run(context.Background(), cfg, timeline.NewClock(), &stats)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(h) == 0 {
				t.Fatal("no ops")
			}
			for _, op := range h {
				got := want{op.Outcome, op.Status, op.Region, op.Epoch, op.Found, op.Read, op.Swapped, op.ReadKnown, ""}
				w := tt.want
				w.errHas = ""
				if got != w {
					t.Errorf("op %d:\n got %+v\nwant %+v\n(error %q)", op.ID, got, w, op.Error)
				}
				if !containsAny(op.Error, strings.Split(tt.want.errHas, "|")) {
					t.Errorf("op %d: error %q does not mention %q", op.ID, op.Error, tt.want.errHas)
				}
				if op.Outcome != history.OK && op.Error == "" {
					t.Errorf("op %d: %s without error text", op.ID, op.Outcome)
				}
				if op.Kind == history.Get && op.Value != op.Read {
					t.Errorf("op %d: get value %q, read %q; want both the value read", op.ID, op.Value, op.Read)
				}
				if op.Kind != tt.kind || op.Complete < op.Invoke {
					t.Errorf("op %d: kind %s, invoke %s, complete %s", op.ID, op.Kind, op.Invoke, op.Complete)
				}
			}
			s := stats.Load()
			n := map[history.Outcome]int64{history.OK: s.OK, history.Fail: s.Fail, history.Unknown: s.Unknown}
			if n[tt.want.outcome] != int64(len(h)) || s.OK+s.Fail+s.Unknown != int64(len(h)) {
				t.Errorf("stats %+v for %d %s ops", s, len(h), tt.want.outcome)
			}
		})
	}
}

// closedAddr is a loopback address with nothing listening.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSettleNoResponse covers what the transport saw when there is no response.
func TestSettleNoResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		conn connInfo
		want history.Outcome
	}{
		{connInfo{}, history.Fail},                                 // never connected: nothing sent
		{connInfo{Connected: true}, history.Unknown},               // connected: maybe sent
		{connInfo{Connected: true, DialError: true}, history.Fail}, // retried on a new conn that failed to dial
	}
	for _, tt := range tests {
		op := history.Op{Kind: history.Put}
		settle(&op, reply{Err: "x", Conn: tt.conn})
		if op.Outcome != tt.want || op.Error != "x" || op.Status != 0 {
			t.Errorf("%+v: got %s %q %d, want %s", tt.conn, op.Outcome, op.Error, op.Status, tt.want)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
