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
	good := Spec{Kind: "slow-replies", Region: "hottest-owner"}
	goodP := SlowRepliesParams{Path: PathHostEtcd, Latency: 1700 * time.Millisecond}
	for _, tc := range []struct {
		name string
		edit func(*Spec, *SlowRepliesParams)
		want string // "" means valid
	}{
		{"valid", func(*Spec, *SlowRepliesParams) {}, ""},
		{"the longest", func(_ *Spec, p *SlowRepliesParams) { p.Latency = MaxSlowReplies }, ""},
		{"unknown path", func(_ *Spec, p *SlowRepliesParams) { p.Path = "router-etcd" }, `path "router-etcd"`},
		{"no latency", func(_ *Spec, p *SlowRepliesParams) { p.Latency = 0 }, "latency"},
		{"below a millisecond", func(_ *Spec, p *SlowRepliesParams) { p.Latency = time.Microsecond }, "latency"},
		{"an outage, not a delay", func(_ *Spec, p *SlowRepliesParams) { p.Latency = MaxSlowReplies + time.Second }, "latency"},
		{"no region", func(s *Spec, _ *SlowRepliesParams) { s.Region = "" }, "needs a region"},
	} {
		s, p := good, goodP
		tc.edit(&s, &p)
		_, err := slowRepliesKind.New(s, &p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}

	good.Params = &goodP
	f, err := slowRepliesKind.Kind().New(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := attemptTimeout(f); got < goodP.Latency+time.Second {
		t.Errorf("one verification attempt may take %s, shorter than a reply delayed by %s", got, goodP.Latency)
	}
	if _, err := Plan([]Spec{good}, struct{}{}, "bare"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("plan on a provider without slow-replies control: %v, want unavailable", err)
	}
}
