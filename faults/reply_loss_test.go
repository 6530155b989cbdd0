package faults

import (
	"strings"
	"testing"
)

// A reply-loss spec is checked when built: a path, a mode, a probability in (0, 1] and a
// region; each fault draws from a stream of its own (the scenario seed mixed with its
// target), and a provider without the capability cannot plan it.
func TestReplyLossSpec(t *testing.T) {
	good := Spec{Kind: "reply-loss", Region: "busiest", Seed: 7}
	goodP := ReplyLossParams{Path: PathRouterHost, Mode: ReplyReset, Probability: 0.3}
	for _, tc := range []struct {
		name string
		edit func(*Spec, *ReplyLossParams)
		want string // "" means valid
	}{
		{"valid", func(*Spec, *ReplyLossParams) {}, ""},
		{"every reply", func(_ *Spec, p *ReplyLossParams) { p.Probability = 1 }, ""},
		{"unknown path", func(_ *Spec, p *ReplyLossParams) { p.Path = "router-etcd" }, `path "router-etcd"`},
		{"unknown mode", func(_ *Spec, p *ReplyLossParams) { p.Mode = "rst" }, `mode "rst"`},
		{"no probability", func(_ *Spec, p *ReplyLossParams) { p.Probability = 0 }, "probability"},
		{"percentage", func(_ *Spec, p *ReplyLossParams) { p.Probability = 30 }, "probability"},
		{"no region", func(s *Spec, _ *ReplyLossParams) { s.Region = "" }, "needs a region"},
	} {
		s, p := good, goodP
		tc.edit(&s, &p)
		_, err := replyLossKind.New(s, &p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}

	seed := func(s Spec) uint64 {
		f, err := replyLossKind.Kind().New(s)
		if err != nil {
			t.Fatal(err)
		}
		return f.(*ReplyLoss).Seed
	}
	good.Params = &goodP
	etcd := good
	etcd.Params = &ReplyLossParams{Path: PathHostEtcd, Mode: goodP.Mode, Probability: goodP.Probability}
	other := good
	other.Seed = 8
	again := good
	if seed(good) != seed(again) || seed(good) == seed(etcd) || seed(good) == seed(other) {
		t.Errorf("seeds: same spec %d/%d, other path %d, other scenario seed %d: want equal, then different",
			seed(good), seed(again), seed(etcd), seed(other))
	}

	if _, err := Plan([]Spec{good}, struct{}{}, "bare"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("plan on a provider without reply-loss control: %v, want unavailable", err)
	}
}
