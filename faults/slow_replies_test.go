package faults

import (
	"strings"
	"testing"
	"time"
)

// A slow-replies spec is checked when built: a known path, a region, and a latency of 1ms
// to MaxSlowReplies and nothing else of a link; a provider without the capability cannot
// plan it; one verification attempt waits out the delay.
func TestSlowRepliesSpec(t *testing.T) {
	good := Spec{Kind: "slow-replies", Region: "hottest-owner", Path: PathHostEtcd, Link: Link{Latency: 1700 * time.Millisecond}}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string // "" means valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"the longest", func(s *Spec) { s.Link.Latency = MaxSlowReplies }, ""},
		{"unknown path", func(s *Spec) { s.Path = "router-etcd" }, `path "router-etcd"`},
		{"no latency", func(s *Spec) { s.Link.Latency = 0 }, "latency"},
		{"below a millisecond", func(s *Spec) { s.Link.Latency = time.Microsecond }, "latency"},
		{"an outage, not a delay", func(s *Spec) { s.Link.Latency = MaxSlowReplies + time.Second }, "latency"},
		{"jitter", func(s *Spec) { s.Link.Jitter = time.Millisecond }, "latency only"},
		{"loss", func(s *Spec) { s.Link.Loss = 0.1 }, "latency only"},
		{"no region", func(s *Spec) { s.Region = "" }, "needs a region"},
	} {
		s := good
		tc.edit(&s)
		_, err := slowRepliesKind.New(s)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}

	f, err := slowRepliesKind.New(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := attemptTimeout(f); got < good.Link.Latency+time.Second {
		t.Errorf("one verification attempt may take %s, shorter than a reply delayed by %s", got, good.Link.Latency)
	}
	if _, err := Plan([]Spec{good}, struct{}{}, "bare"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("plan on a provider without slow-replies control: %v, want unavailable", err)
	}
}
