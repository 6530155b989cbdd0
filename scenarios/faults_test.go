package scenarios

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/faults"
)

// Fault parameters are validated per kind, each error naming the line, the field and the
// fix; a valid fault of every kind parses.
func TestFaultParamErrors(t *testing.T) {
	tests := []struct {
		name, faults string
		want         []wantErr // empty: must parse
	}{
		{"partition isolate", "  - {kind: partition, shape: isolate, region: busiest, at: 1s, duration: 2s}\n", nil},
		{"crash the router", "  - {kind: process-crash, service: router, at: 1s, duration: 2s}\n", nil},
		{"wan loss", "  - {kind: wan-degradation, from: a, to: b, loss: 0.1, at: 1s, duration: 2s}\n", nil},
		{"quorum default", "  - {kind: etcd-quorum-loss, at: 1s, duration: 2s}\n", nil},
		{"skew", "  - {kind: clock-skew, region: a, offset: -30s, at: 1s, duration: 2s}\n", nil},
		{"reply loss", "  - {kind: reply-loss, path: host-etcd, region: busiest, mode: drop, probability: 0.05, at: 1s, duration: 2s}\n", nil},
		{"reply loss on a misspelled path", "  - kind: reply-loss\n    path: router-hst\n    region: a\n    mode: reset\n    probability: 0.3\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{10, "faults[0].path", `unknown reply-loss path "router-hst"`, `did you mean "router-host"?`}}},
		{"reply loss as a percentage", "  - kind: reply-loss\n    path: router-host\n    region: a\n    mode: reset\n    probability: 30\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{13, "faults[0].probability", "probability is a ratio in (0, 1], got 30", "probability: 0.3"}}},
		{"reply loss without mode", "  - kind: reply-loss\n    path: router-host\n    region: a\n    probability: 0.3\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{9, "faults[0].mode", "reply-loss needs mode", "set mode: to one of: reset, drop"}}},
		{"misspelled shape", "  - kind: partition\n    shape: isolte\n    region: a\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{10, "faults[0].shape", `unknown partition shape "isolte"`, `did you mean "isolate"?`}}},
		{"unknown service", "  - kind: pause\n    service: etdc\n    region: a\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{10, "faults[0].service", `unknown service "etdc"`, `did you mean "etcd"?`}}},
		{"router has no region", "  - kind: pause\n    service: router\n    region: a\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{11, "faults[0].region", "the router has no region", "leave region out"}}},
		{"loss as a percentage", "  - kind: wan-degradation\n    from: a\n    to: b\n    loss: 20\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{12, "faults[0].loss", "loss is a ratio in 0..1, got 20", "loss: 0.1"}}},
		{"pair to a missing region", "  - kind: partition\n    shape: pair\n    from: a\n    to: d\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{12, "faults[0].to", `unknown region "d"`, "use one of: a, b, c"}}},
		{"quorum loss of a minority", "  - kind: etcd-quorum-loss\n    regions: [a]\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{9, "faults[0]", "leaves a quorum", "fix the fault's parameters"}}},
		{"skew without offset", "  - kind: clock-skew\n    region: a\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{9, "faults[0]", "non-zero offset", ""}}},
		{"unknown field", "  - kind: clock-skew\n    region: a\n    ofset: 3s\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{11, "faults[0].ofset", `unknown field "ofset"`, `did you mean "offset"?`}}},
		// Each kind decodes only its own parameters: another kind's field is refused, naming
		// who takes it, and a parameter's value is typed.
		{"another kind's field", "  - kind: slow-replies\n    path: host-etcd\n    region: a\n    latency: 1s\n    jitter: 100ms\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{13, "faults[0].jitter", `unknown field "jitter" in faults[0]`, "jitter is a parameter of wan-degradation; slow-replies takes: kind, region, at, duration, trigger, path, latency"}}},
		{"a field on a kind without parameters", "  - kind: region-outage\n    region: a\n    service: etcd\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{11, "faults[0].service", `unknown field "service"`, "service is a parameter of process-crash, pause, brief-pause"}}},
		{"a latency without unit", "  - kind: slow-replies\n    path: host-etcd\n    region: a\n    latency: 1500\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{12, "faults[0].latency", `invalid duration "1500"`, `"500ms"`}}},
		{"a probability that is a word", "  - kind: reply-loss\n    path: router-host\n    region: a\n    mode: reset\n    probability: often\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{13, "faults[0].probability", `want a number, got "often"`, ""}}},
		{"crash loop", "  - {kind: crash-loop, service: host, region: busiest, down: 500ms, up: 1s, at: 1s, duration: 2s}\n", nil},
		{"crash loop too fast", "  - kind: crash-loop\n    service: etcd\n    region: a\n    down: 50ms\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{12, "faults[0].down", "crash-loop down 50ms is shorter than 200ms", "use at least 200ms"}}},
		{"an unknown kind's fields are not judged", "  - kind: meteor\n    region: a\n    crater: 3\n    at: 1s\n    duration: 2s\n",
			[]wantErr{{9, "faults[0].kind", `unknown fault kind "meteor"`, ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFaultErrors(t, tc.faults, tc.want)
		})
	}
}

// checkFaultErrors parses base with the given faults: section and checks the errors
// against want (empty: it must parse).
func checkFaultErrors(t *testing.T, faults string, want []wantErr) {
	t.Helper()
	_, err := Parse("x.yaml", []byte(base+"faults:\n"+faults))
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("want no error, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("want an error")
	}
	var got []*Error
	for _, e := range unwrapAll(err) {
		var se *Error
		if errors.As(e, &se) {
			got = append(got, se)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(got), len(want), err)
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || g.Field != w.field || !strings.Contains(g.Msg, w.msg) || !strings.Contains(g.Fix, w.fix) {
			t.Errorf("error %d = %+v\nwant line %d field %q msg ~%q fix ~%q", i, g, w.line, w.field, w.msg, w.fix)
		}
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// The nemesis section is validated too: bad windows and unknown kinds name their field.
func TestNemesisSectionErrors(t *testing.T) {
	ok := base + "faults: []\nnemesis: {start: 1s, end: 9s, min_hold: 1s, max_hold: 2s, min_gap: 0s, max_gap: 1s}\n"
	if _, err := Parse("x.yaml", []byte(ok)); err != nil {
		t.Fatalf("valid nemesis: %v", err)
	}
	for _, bad := range []struct{ yaml, field string }{
		{"nemesis: {kinds: [meteor], start: 1s, end: 9s, min_hold: 1s, max_hold: 2s}\n", "nemesis.kinds[0]"},
		{"nemesis: {start: 1s, end: 20s, min_hold: 1s, max_hold: 2s}\n", "nemesis.end"},
		{"nemesis: {start: 1s, end: 9s, min_hold: 3s, max_hold: 2s}\n", "nemesis"},
	} {
		_, err := Parse("x.yaml", []byte(base+"faults: []\n"+bad.yaml))
		var se *Error
		if !errors.As(err, &se) || se.Field != bad.field || se.Line == 0 {
			t.Errorf("%s: got %v, want an error on %s with a line", bad.yaml, err, bad.field)
		}
	}
}

// A kind's parameter may not take the name of a field every fault has: the decoder would
// hand it to the fault, and the kind would never see it.
func TestKindParamsDoNotShadowFaultFields(t *testing.T) {
	common := yamlNames(faultType)
	for _, k := range faults.Kinds {
		for _, name := range k.ParamNames() {
			if slices.Contains(common, name) {
				t.Errorf("%s has a parameter %q, which every fault already has", k.Name, name)
			}
		}
	}
}
