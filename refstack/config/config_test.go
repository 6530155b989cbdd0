package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

// A written configuration reads back the same, defaults filled; an unknown field or a bad
// setting is refused naming it.
func TestWriteRead(t *testing.T) {
	var u Unsafe
	if err := u.Add(string(bugs.RouterIgnoresEpochs), "3s"); err != nil {
		t.Fatal(err)
	}
	in := Stack{Durability: api.DurabilityAsync, Unsafe: u,
		Controller: Controller{ProbeEvery: 100 * time.Millisecond, FailureThreshold: 2},
		Failback:   Failback{Mode: FailbackAuto, Hold: 4 * time.Second},
		Router:     Router{OwnerTTL: 3 * time.Second, Count: 2}}
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := in.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := in.WithDefaults()
	if got.LeaseTTL != api.DefaultLeaseTTL || got.CheckpointInterval != api.DefaultCheckpointInterval ||
		got.Unsafe.String() != want.Unsafe.String() || got.Controller != want.Controller ||
		got.Failback != want.Failback || got.Router != want.Router || got.Routers() != 2 {
		t.Errorf("read back %+v, want %+v", got, want)
	}

	for body, msg := range map[string]string{
		"lease_tll: 2s\n":               "field lease_tll not found",
		"lease_ttl: 1500ms\n":           "below etcd's minimum",
		"failback: {mode: sometimes}\n": `unknown fail-back mode "sometimes"`,
		"router: {count: 9}\n":          "router.count must be between 1 and 4",
		"controller: {disabled: true}\nfailback: {mode: auto}\n": "auto fail-back needs the controller",
	} {
		p := filepath.Join(t.TempDir(), "stack.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", body, err, msg)
		}
	}
}

// Problems names each field with the prefix it is given, and the fields it depends on.
func TestProblemsAt(t *testing.T) {
	s := Stack{Durability: api.DurabilitySyncGeo, CheckpointInterval: time.Second}.WithDefaults()
	ps := s.ProblemsAt("stack.")
	if len(ps) != 1 || ps[0].Field != "stack.checkpoint_interval" || len(ps[0].Related) != 1 ||
		ps[0].Related[0] != "stack.durability" || !strings.Contains(ps[0].Msg, "stack.checkpoint_interval applies to durability async only") {
		t.Errorf("problems %+v", ps)
	}
	if ps := (Stack{}).WithDefaults().Problems(); len(ps) != 0 {
		t.Errorf("the defaults have problems: %+v", ps)
	}
}

// The etcd timing is checked against etcd's own rules, and the lease TTL against the
// shortest lease that timing allows.
func TestEtcdTiming(t *testing.T) {
	for _, tc := range []struct {
		etcd  Etcd
		ttl   time.Duration
		field string // "" means valid
	}{
		{Etcd{}, 2 * time.Second, ""},
		{Etcd{HeartbeatInterval: 50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond}, 2 * time.Second, ""},
		{Etcd{HeartbeatInterval: 5 * time.Millisecond}, 2 * time.Second, "etcd.heartbeat_interval"},
		{Etcd{HeartbeatInterval: 100 * time.Millisecond, ElectionTimeout: 400 * time.Millisecond}, 2 * time.Second, "etcd.election_timeout"},
		{Etcd{ElectionTimeout: 3 * time.Second}, 2 * time.Second, "lease_ttl"}, // etcd would raise a 2s lease to 5s
		{Etcd{ElectionTimeout: 3 * time.Second}, 5 * time.Second, ""},
	} {
		s := Stack{Etcd: tc.etcd, LeaseTTL: tc.ttl}.WithDefaults()
		ps := s.Problems()
		switch {
		case tc.field == "" && len(ps) > 0:
			t.Errorf("%+v: %+v", tc.etcd, ps)
		case tc.field != "" && (len(ps) != 1 || ps[0].Field != tc.field):
			t.Errorf("%+v, lease %s: %+v, want one problem on %s", tc.etcd, tc.ttl, ps, tc.field)
		}
	}
}
