package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/config"
)

// base is a valid scenario body; cases append or replace sections to break one thing.
const base = `name: t
topology:
  regions: [a, b, c]
  agents: 6
workload:
  rate: 10
  duration: 10s
`

type wantErr struct {
	line  int
	field string
	msg   string // substring of Msg
	fix   string // substring of Fix
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"misspelled top-level section", strings.Replace(base, "topology:", "topolgy:", 1), []wantErr{
			{2, "topolgy", `unknown field "topolgy" at the top level`, `did you mean "topology"?`},
		}},
		{"field in the wrong section", base + "durability: sync-geo\n", []wantErr{
			{8, "durability", `unknown field "durability"`, `"durability" belongs in stack`},
		}},
		{"unknown field with no close match", base + "stack:\n  colour: red\n", []wantErr{
			{9, "stack.colour", `unknown field "colour" in stack`, "known fields: durability, lease_ttl"},
		}},
		{"misspelled fault field", base + "faults:\n  - kind: region-outage\n    regoin: a\n    at: 1s\n    duration: 1s\n", []wantErr{
			{10, "faults[0].regoin", `unknown field "regoin" in faults[0]`, `did you mean "region"?`},
		}},
		{"negative rate", strings.Replace(base, "rate: 10", "rate: -5", 1), []wantErr{
			{6, "workload.rate", "at least 1 request per second, got -5", "rate: 200"},
		}},
		{"rate not a number", strings.Replace(base, "rate: 10", "rate: fast", 1), []wantErr{
			{6, "workload.rate", `want a whole number, got "fast"`, ""},
		}},
		{"quoted number", strings.Replace(base, "rate: 10", `rate: "10"`, 1), []wantErr{
			{6, "workload.rate", "want a whole number", "without quotes"},
		}},
		{"duration without unit", strings.Replace(base, "duration: 10s", "duration: 10", 1), []wantErr{
			{7, "workload.duration", `invalid duration "10"`, `"500ms"`},
		}},
		{"duration not parsable", strings.Replace(base, "duration: 10s", "duration: ten seconds", 1), []wantErr{
			{7, "workload.duration", `invalid duration "ten seconds"`, "unit"},
		}},
		{"regions not a list", strings.Replace(base, "regions: [a, b, c]", "regions: a", 1), []wantErr{
			{3, "topology.regions", `want a list, got a value "a"`, ""},
		}},
		{"fault at beyond load", base + "faults:\n  - kind: region-outage\n    region: a\n    at: 10s\n    duration: 1s\n", []wantErr{
			{11, "faults[0].at", "at or beyond the end of the load", "inject before 10s"},
		}},
		{"fault region not in topology", base + "faults:\n  - kind: region-outage\n    region: x\n    at: 1s\n    duration: 1s\n", []wantErr{
			{10, "faults[0].region", `unknown region "x"`, "a, b, c, busiest"},
		}},
		{"fault region typo", base + "faults:\n  - {kind: region-outage, region: busest, at: 1s, duration: 1s}\n", []wantErr{
			{9, "faults[0].region", `"busest"`, `did you mean "busiest"?`},
		}},
		{"unknown fault kind", base + "faults:\n  - kind: region-outtage\n    at: 1s\n    duration: 1s\n", []wantErr{
			{9, "faults[0].kind", `unknown fault kind "region-outtage"`, `did you mean "region-outage"?`},
		}},
		{"fault without duration", base + "faults:\n  - kind: region-outage\n    region: a\n    at: 1s\n", []wantErr{
			{9, "faults[0].duration", "faults[0].duration must be positive", "duration: 15s"},
		}},
		{"unknown durability", base + "stack:\n  durability: eventual\n", []wantErr{
			{9, "stack.durability", `unknown durability "eventual"`, "use one of: sync-geo, async"},
		}},
		{"checkpoint interval on sync-geo", base + "stack:\n  checkpoint_interval: 1s\n", []wantErr{
			{9, "stack.checkpoint_interval", "applies to durability async only", "durability: async"},
		}},
		{"no replication on sync-geo", base + "stack:\n  unsafe: {no_replication: true}\n", []wantErr{
			{9, "stack.unsafe.no-replication", "applies to durability async only", "durability: async"},
		}},
		{"negative chain length", base + "stack:\n  durability: async\n  chain_length: -1\n", []wantErr{
			{10, "stack.chain_length", "must not be negative", "default (8)"},
		}},
		{"unknown provider", base + "provider: kube\n", []wantErr{
			{8, "provider", `unknown provider "kube"`, "local, netns, docker, kind, auto"},
		}},
		{"placement exceeds agents", strings.Replace(base, "  agents: 6\n", "  agents: 6\n  placement: {a: 5, b: 2}\n", 1), []wantErr{
			{5, "topology.placement", "placement puts 7 agents in regions but topology.agents is 6", "at most 6"},
		}},
		{"placement region unknown", strings.Replace(base, "  agents: 6\n", "  agents: 6\n  placement:\n    a: 1\n    bb: 1\n", 1), []wantErr{
			{7, "topology.placement.bb", `placement region "bb" is not in topology.regions`, `did you mean "b"?`},
		}},
		{"too few regions for sync-geo", strings.Replace(base, "[a, b, c]", "[a, b]", 1), []wantErr{
			{3, "topology.regions", "at least 3 regions, got 2", "at least 3"},
		}},
		{"duplicate region", strings.Replace(base, "regions: [a, b, c]", "regions:\n    - a\n    - b\n    - a", 1), []wantErr{
			{6, "topology.regions[2]", `duplicate region "a" (also topology.regions[0] at line 4)`, "unique"},
		}},
		{"reserved region name", strings.Replace(base, "[a, b, c]", "[a, b, busiest]", 1), []wantErr{
			{3, "topology.regions[2]", `"busiest" is reserved`, ""},
		}},
		{"ratio as percent", base + "sla:\n  min_availability: 80\n", []wantErr{
			{9, "sla.min_availability", "ratio in 0..1, got 80", "write 0.8 for 80%"},
		}},
		{"negative ratio", base + "sla:\n  min_availability: -0.1\n", []wantErr{
			{9, "sla.min_availability", "ratio in 0..1", "0.8"},
		}},
		{"percent sign", base + "sla:\n  min_availability: 80%\n", []wantErr{
			{9, "sla.min_availability", `want a number, got "80%"`, "0.8 for 80%"},
		}},
		{"rto p95 above max", base + "sla:\n  rto_p95: 10s\n  rto_max: 5s\n", []wantErr{
			{9, "sla.rto_p95", "sla.rto_p95 10s exceeds sla.rto_max 5s", ""},
		}},
		{"unknown recovery phase", base + "sla:\n  rto_phases_p95:\n    declared: 1s\n    elected: 1s\n", []wantErr{
			{11, "sla.rto_phases_p95.elected", `"elected" is not a recovery phase`, "detected, declared, owner-gone"},
		}},
		{"recovery phase target not positive", base + "sla:\n  rto_phases_p95:\n    served: 0s\n", []wantErr{
			{10, "sla.rto_phases_p95.served", "must be positive, got 0s", "served: 2s"},
		}},
		{"lease below etcd minimum", base + "stack:\n  lease_ttl: 500ms\n", []wantErr{
			{9, "stack.lease_ttl", "below etcd's minimum", "lease_ttl: 2s"},
		}},
		{"lease not whole seconds", base + "stack:\n  lease_ttl: 2500ms\n", []wantErr{
			{9, "stack.lease_ttl", "not whole seconds", "lease_ttl: 3s"},
		}},
		{"negative lost writes", base + "sla:\n  max_lost_writes: -1\n", []wantErr{
			{9, "sla.max_lost_writes", "must not be negative", ""},
		}},
		{"duplicate field", base + "seed: 1\nseed: 2\n", []wantErr{
			{9, "seed", `duplicate field "seed" at the top level (first at line 8)`, "keep one"},
		}},
		{"bad name", strings.Replace(base, "name: t", "name: my scenario", 1), []wantErr{
			{1, "name", `name "my scenario" is not a usable identifier`, "letters, digits"},
		}},
		{"no agents", strings.Replace(base, "  agents: 6\n", "", 1), []wantErr{
			{2, "topology.agents", "at least 1, got 0", ""},
		}},
		{"tab indentation", "name: t\ntopology:\n\tregions: [a]\n", []wantErr{
			{3, "", "invalid YAML", "tabs"},
		}},
		{"two documents", base + "---\nname: u\n", []wantErr{
			{8, "", "more than one YAML document", "one scenario per file"},
		}},
		{"empty", "# nothing here\n", []wantErr{
			{0, "", "the scenario is empty", "region-outage.yaml"},
		}},
		{"not a mapping", "- a\n- b\n", []wantErr{
			{1, "", "scenario: want a mapping of fields, got a list", "known fields: name"},
		}},
		{"distribution typo", base + "  keys: {distribution: zipff}\n", []wantErr{
			{8, "workload.keys.distribution", `unknown workload.keys.distribution "zipff"`, `did you mean "zipf"?`},
		}},
		{"exponent on a hot set", base + "  keys: {distribution: hotset, exponent: 2}\n", []wantErr{
			{8, "workload.keys.exponent", "applies to distribution zipf only, not hotset", "use distribution: zipf"},
		}},
		{"hot set as large as the keys", base + "  keys: {distribution: hotset, hot: 4}\n", []wantErr{
			{8, "workload.keys.hot", "below the 4 keys, got 4", "use 1 to 3"},
		}},
		{"hot share as percent", base + "  agents: {distribution: hotset, hot_share: 80}\n", []wantErr{
			{8, "workload.agents.hot_share", "must be in (0, 1], got 80", "0.8 for 80%"},
		}},
		{"negative zipf exponent", base + "  agents:\n    distribution: zipf\n    exponent: -1\n", []wantErr{
			{10, "workload.agents.exponent", "must be in (0, 10], got -1", "exponent: 1"},
		}},
		{"misspelled hot_share", base + "  keys: {distribution: hotset, hot_shar: 0.5}\n", []wantErr{
			{8, "workload.keys.hot_shar", `unknown field "hot_shar" in workload.keys`, `did you mean "hot_share"?`},
		}},
		{"agents as a count", base + "  agents: 6\n", []wantErr{
			{8, "workload.agents", `want a mapping of fields, got a value "6"`, "distribution"},
		}},
		{"hot set over one agent", strings.Replace(base, "agents: 6", "agents: 1", 1) + "  agents: {distribution: hotset}\n", []wantErr{
			{8, "workload.agents.distribution", "hotset over 1 agents", "use distribution: uniform"},
		}},
		{"burst too large", base + "  burst: 100\n", []wantErr{
			{8, "workload.burst", "1 to 8 simultaneous ops per register, got 100", "use 1 to 8"},
		}},
		{"every key cold", base + "  cold: {keys: 4}\n", []wantErr{
			{8, "workload.cold.keys", "leave at least one of the 4 keys per agent to the random load, got 4", "use 0 to 3"},
		}},
		{"cold schedule without cold keys", base + "  cold: {writes: 2}\n", []wantErr{
			{8, "workload.cold.writes", "no effect without workload.cold.keys", "set workload.cold.keys"},
		}},
		{"cold reads before the writes", base + "  cold: {keys: 1, write_by: 5s, read_from: 2s}\n", []wantErr{
			{8, "workload.cold.read_from", "at or after write_by", "read_from: 8s"},
		}},
		{"cold writes after the load", base + "  cold:\n    keys: 1\n    write_by: 12s\n", []wantErr{
			{10, "workload.cold.write_by", "within the load (0, 10s], got 12s", "write_by: 3.3s"},
		}},
		{"cold writes crowd out the load", base + "  cold: {keys: 1, writes: 10}\n", []wantErr{
			{8, "workload.cold", "60 cold writes before 3.3s would take more than 50% of its 33 ops", "higher workload.rate"},
		}},
		{"hot set over the one key left", strings.Replace(base, "rate: 10", "rate: 100", 1) + "  cold: {keys: 3}\n  keys: {distribution: hotset}\n", []wantErr{
			{9, "workload.keys.distribution", "hotset over 1 keys that are not cold", "use distribution: uniform"},
		}},
		// The misspelled durability hides the sync-geo quorum complaint about 2 regions: the
		// typo is the likelier mistake, and one mistake should give one message.
		{"several problems, each with its own line", `name: t
provider: locall
topology:
  regions: [a, b]
  agents: 4
stack:
  durabilty: sync-geo
workload:
  rate: 0
  duration: 10s
faults:
  - kind: region-outage
    region: d
    at: 20s
    duration: 5s
sla:
  min_availability: 1.5
`, []wantErr{
			{2, "provider", `unknown provider "locall"`, `did you mean "local"?`},
			{7, "stack.durabilty", `unknown field "durabilty" in stack`, `did you mean "durability"?`},
			{9, "workload.rate", "got 0", ""},
			{13, "faults[0].region", `unknown region "d"`, ""},
			{14, "faults[0].at", "beyond the end of the load", ""},
			{17, "sla.min_availability", "got 1.5", "min_availability: 0.8"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors; got %+v", s)
			}
			if s != nil {
				t.Errorf("Parse returned a scenario with an error")
			}
			got := Errors(err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := got[i]
				if e.File != "x.yaml" || e.Line != w.line || e.Field != w.field ||
					!strings.Contains(e.Msg, w.msg) || !strings.Contains(e.Fix, w.fix) {
					t.Errorf("error %d = %#v\nwant line %d field %q msg ~%q fix ~%q", i, e, w.line, w.field, w.msg, w.fix)
				}
			}
		})
	}
}

// TestTestdata loads the bad files the way the CLI does and checks the whole message:
// file, line, field and fix.
func TestTestdata(t *testing.T) {
	tests := []struct {
		file string
		want []string // full Error() strings, in order
	}{
		{"misspelled-field.yaml", []string{
			`testdata/misspelled-field.yaml:7: unknown field "durabilty" in stack; did you mean "durability"?`,
		}},
		{"bad-duration.yaml", []string{
			`testdata/bad-duration.yaml:7: workload.duration: invalid duration "10 seconds"; write a number with a unit, e.g. "10s", "500ms" or "1m30s"`,
			`testdata/bad-duration.yaml:12: faults[0].duration: invalid duration "3"; write a number with a unit, e.g. "10s", "500ms" or "1m30s"`,
		}},
		{"bad-region.yaml", []string{
			`testdata/bad-region.yaml:10: unknown region "d"; use one of: a, b, c, busiest, etcd-leader, controller-leader, controller-follower, hottest-owner, new-owner`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestMisspelledField(t *testing.T) {
	path := filepath.Join("testdata", "misspelled-field.yaml")
	_, err := Load(path)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %T: %v", err, err)
	}
	if e.File != path || e.Line != 7 || e.Field != "stack.durabilty" {
		t.Errorf("got file %q line %d field %q, want %q 7 stack.durabilty", e.File, e.Line, e.Field, path)
	}
	for _, want := range []string{path + ":7:", `"durabilty"`, "in stack", `did you mean "durability"?`} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("message %q lacks %q", e.Error(), want)
		}
	}
}

func TestShippedScenario(t *testing.T) {
	s, err := Load("region-outage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	zero, p95, avail, yes := 0, Duration(5*time.Second), 0.8, true
	want := &Scenario{
		Name:        "region-outage",
		Description: s.Description,
		Seed:        1,
		Provider:    "local",
		Topology: Topology{Regions: []string{"a", "b", "c"}, Agents: 12, KeysPerAgent: 4,
			Placement: map[string]int{"a": 8, "b": 2, "c": 2}},
		Stack: config.Stack{Durability: "sync-geo", LeaseTTL: 2 * time.Second, CheckpointEvery: 200, TLS: &yes},
		Workload: Workload{Rate: 200, Duration: Duration(30 * time.Second), Timeout: Duration(2 * time.Second),
			Mix: Mix{Put: 5, Get: 4, CAS: 1}, Agents: Popularity{Distribution: "uniform"}, Keys: Popularity{Distribution: "uniform"}, Burst: 1},
		Faults: []Fault{{Kind: "region-outage", Region: Busiest, At: Duration(10 * time.Second), Duration: Duration(15 * time.Second), Params: &faults.NoParams{}}},
		SLA: SLA{MaxLostWrites: &zero, Linearizable: &yes, RTOP95: &p95, MinAvailability: &avail,
			CheckTimeout: Duration(60 * time.Second), CheckMemoryMiB: DefaultCheckMemoryMiB},
	}
	if s.Description == "" {
		t.Error("description is empty")
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "valid-minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Name:     "valid-minimal", // from the file name
		Provider: "local",
		Topology: Topology{Regions: []string{"a", "b", "c"}, Agents: 3, KeysPerAgent: 4},
		Stack:    config.Stack{Durability: "sync-geo", LeaseTTL: 2 * time.Second, CheckpointEvery: 200},
		Workload: Workload{Rate: 10, Duration: Duration(10 * time.Second), Timeout: Duration(2 * time.Second),
			Mix: Mix{Put: 5, Get: 4, CAS: 1}, Agents: Popularity{Distribution: "uniform"}, Keys: Popularity{Distribution: "uniform"}, Burst: 1},
		SLA: SLA{CheckTimeout: Duration(60 * time.Second), CheckMemoryMiB: DefaultCheckMemoryMiB},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	// Every shipped scenario: each fault kind's own parameters must survive the round trip.
	files, _ := filepath.Glob("*.yaml")
	suite, _ := filepath.Glob(filepath.Join("selftest", "*.yaml"))
	files = append(append(files, suite...), filepath.Join("testdata", "valid-minimal.yaml"))
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			s, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			s.EnsureSeed(time.Unix(0, 42))
			out, err := s.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("scenario.yaml", out)
			if err != nil {
				t.Fatalf("resolved scenario does not parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, s) {
				t.Errorf("round trip changed the scenario:\n got %+v\nwant %+v\n%s", back, s, out)
			}
			if back.Seed == 0 {
				t.Error("resolved scenario has no seed")
			}
		})
	}
}

func TestMarshalAppliesDefaults(t *testing.T) {
	s := &Scenario{Name: "code", Seed: 7, Topology: Topology{Regions: []string{"a", "b", "c"}, Agents: 1},
		Workload: Workload{Rate: 1, Duration: Duration(time.Second)}}
	out, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seed: 7", "provider: local", "durability: sync-geo", "lease_ttl: 2s", "check_timeout: 1m0s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("resolved scenario lacks %q:\n%s", want, out)
		}
	}
	if s.Provider != "" {
		t.Error("Marshal changed its receiver")
	}
}

func TestValidateInCode(t *testing.T) {
	s := &Scenario{Name: "code", Topology: Topology{Regions: []string{"a"}, Agents: 1}}
	s.ApplyDefaults()
	errs := Errors(s.Validate())
	var fields []string
	for _, e := range errs {
		if e.File != "" || e.Line != 0 {
			t.Errorf("code-built scenario error has a position: %v", e)
		}
		fields = append(fields, e.Field)
	}
	want := []string{"topology.regions", "workload.rate", "workload.duration"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields %v, want %v\n%v", fields, want, s.Validate())
	}
}

func TestEnsureSeed(t *testing.T) {
	s := &Scenario{}
	got := s.EnsureSeed(time.Unix(1, 5))
	if got == 0 || s.Seed != got {
		t.Errorf("EnsureSeed = %d, Seed = %d", got, s.Seed)
	}
	s.Seed = 9
	if s.EnsureSeed(time.Unix(1, 5)) != 9 {
		t.Error("EnsureSeed replaced an existing seed")
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Msg: "m", Fix: "f"}, "a.yaml:3: m; f"},
		{Error{File: "a.yaml", Msg: "m"}, "a.yaml: m"},
		{Error{Line: 4, Msg: "m"}, "line 4: m"},
		{Error{Msg: "m", Fix: "f"}, "m; f"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"durability", "lease_ttl", "checkpoint_every", "unsafe"}
	tests := []struct{ in, want string }{
		{"durabilty", "durability"},
		{"durabiltiy", "durability"},
		{"lease-ttl", "lease_ttl"},
		{"LeaseTTL", "lease_ttl"}, // case and separators are normalised first
		{"checkpoint_evry", "checkpoint_every"},
		{"colour", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"durabilty", "durability", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMain(m *testing.M) {
	os.Unsetenv(EnvDir)
	os.Exit(m.Run())
}

// TestWorkloadSkewDefaults: each distribution gets its own defaults, cold keys their windows.
func TestWorkloadSkewDefaults(t *testing.T) {
	s, err := Parse("x.yaml", []byte(strings.Replace(base, "duration: 10s", "duration: 24s", 1)+
		"  agents: {distribution: zipf}\n  keys: {distribution: hotset}\n  cold: {keys: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Workload
	if want := (Popularity{Distribution: "zipf", Exponent: 1}); w.Agents != want {
		t.Errorf("agents %+v, want %+v", w.Agents, want)
	}
	if want := (Popularity{Distribution: "hotset", Hot: 1, HotShare: 0.8}); w.Keys != want {
		t.Errorf("keys %+v, want %+v", w.Keys, want)
	}
	want := Cold{Keys: 1, Writes: 1, WriteBy: Duration(8 * time.Second), Reads: 1, ReadFrom: Duration(19200 * time.Millisecond)}
	if w.Cold != want {
		t.Errorf("cold %+v, want %+v", w.Cold, want)
	}
	if c := w.Cold.Schedule(); c.Check(6, 4, w.Rate, w.Duration.D()) != nil || c.WriteBy != 8*time.Second {
		t.Errorf("schedule %+v", c)
	}
}

// TestContendedExample: the contended workload the README shows stays valid.
func TestContendedExample(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "contended-region-outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Workload
	if w.Burst != 4 || w.Keys.Distribution != "hotset" || w.Cold.Keys != 1 || w.Cold.WriteBy.D() != 8*time.Second {
		t.Errorf("workload %+v", w)
	}
}
