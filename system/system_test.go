package system_test

import (
	"strings"
	"testing"

	"github.com/geodrill/geodrill/system"
)

func redis() *system.Described {
	return &system.Described{
		Name: "redis-sentinel", Serves: []string{"cas", "region", "epoch"},
		Services: []system.Service{
			{Name: "redis", Command: "redis-server", Args: []string{"{{.Dir}}/redis.conf"}, Health: "tcp",
				Files: map[string]string{"redis.conf": "port {{.Port}}\n{{if not .IsFirst}}replicaof 127.0.0.1 {{.PortOf \"redis\" .First}}{{end}}\n"}},
		},
		Adapter: system.Service{Name: "adapter", Command: "{{.Bin}}/adapter", Args: []string{"--redis", `{{.All "redis"}}`, "--listen", "{{.Addr}}"}, Health: "/healthz"},
	}
}

// Templates see ports, directories, peers and the first region; a replica's file names
// the first region's port, the adapter every region's address.
func TestRender(t *testing.T) {
	d := redis()
	l := system.Layout{Regions: []string{"a", "b"}, Agents: 2, Bin: "/b", RunDir: "/r",
		Ports: map[string]map[string]int{"redis": {"a": 7001, "b": 7002}, "adapter": {"": 7000}}}
	r, err := d.Services[0].Render(l.For("redis", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Args[0] != "/r/data/b/redis/redis.conf" || r.Files["redis.conf"] != "port 7002\nreplicaof 127.0.0.1 7001\n" {
		t.Errorf("b: %+v", r)
	}
	if r, _ := d.Services[0].Render(l.For("redis", "a")); r.Files["redis.conf"] != "port 7001\n\n" {
		t.Errorf("a, the first region, replicates from nobody: %q", r.Files["redis.conf"])
	}
	a, err := d.Adapter.Render(l.ForAdapter())
	if err != nil {
		t.Fatal(err)
	}
	if a.Command != "/b/adapter" || strings.Join(a.Args, " ") != "--redis a=127.0.0.1:7001,b=127.0.0.1:7002 --listen 127.0.0.1:7000" {
		t.Errorf("adapter: %+v", a)
	}
}

// On a provider that gives each region an address (netns), a service listens on its
// region's, peers are named at theirs, and the adapter stays on 127.0.0.1.
func TestRenderWithRegionAddresses(t *testing.T) {
	d := redis()
	d.Services[0].Files["redis.conf"] = "bind {{.IP}}\nreplicaof {{.IPOf .First}} {{.PortOf \"redis\" .First}}\n"
	l := system.Layout{Regions: []string{"a", "b"}, Agents: 2, Bin: "/b", RunDir: "/r",
		Ports: map[string]map[string]int{"redis": {"a": 7001, "b": 7002}, "adapter": {"": 7000}},
		IPs:   map[string]string{"a": "10.0.0.10", "b": "10.0.0.11"}}
	v := l.For("redis", "b")
	if v.Addr != "10.0.0.11:7002" {
		t.Errorf("b's address %s", v.Addr)
	}
	r, err := d.Services[0].Render(v)
	if err != nil {
		t.Fatal(err)
	}
	if r.Files["redis.conf"] != "bind 10.0.0.11\nreplicaof 10.0.0.10 7001\n" {
		t.Errorf("b: %q", r.Files["redis.conf"])
	}
	a, err := d.Adapter.Render(l.ForAdapter())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.Args, " ") != "--redis a=10.0.0.10:7001,b=10.0.0.11:7002 --listen 127.0.0.1:7000" {
		t.Errorf("adapter: %+v", a.Args)
	}
}

// Mistakes are named by field, with a fix.
func TestProblems(t *testing.T) {
	if ps := redis().ProblemsAt("system."); len(ps) != 0 {
		t.Fatalf("a good description: %+v", ps)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*system.Described)
		field string
		msg   string
	}{
		{"reference is taken", func(d *system.Described) { d.Name = "reference" }, "system.name", "not a described"},
		{"no services", func(d *system.Described) { d.Services = nil }, "system.services", "at least one"},
		{"template", func(d *system.Described) { d.Services[0].Args = []string{"{{.Nope}}"} }, "system.services[0]", "Nope"},
		{"unknown peer", func(d *system.Described) { d.Adapter.Args = []string{`{{.All "db"}}`} }, "system.adapter", `no service "db"`},
		{"health", func(d *system.Described) { d.Services[0].Health = "ping" }, "system.services[0].health", `"ping"`},
		{"no command", func(d *system.Described) { d.Adapter.Command = "" }, "system.adapter.command", "no command"},
		{"checkpoints", func(d *system.Described) { d.Serves = []string{"checkpoints"} }, "system.serves[0]", "reference stack's own format"},
		{"unknown part", func(d *system.Described) { d.Serves = []string{"epochs"} }, "system.serves[0]", "not an optional"},
		{"file name", func(d *system.Described) { d.Services[0].Files = map[string]string{"../x": ""} }, "system.services[0].files", "file name"},
	} {
		d := redis()
		tc.edit(d)
		ps := d.ProblemsAt("system.")
		found := false
		for _, p := range ps {
			if p.Field == tc.field && strings.Contains(p.Msg, tc.msg) && p.Fix != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %+v, want %s: %s", tc.name, ps, tc.field, tc.msg)
		}
	}
	var ref *system.Described
	if !ref.Serve(system.ServesCheckpoints) || redis().Serve(system.ServesCheckpoints) || !redis().Serve(system.ServesEpoch) {
		t.Error("Serve: the reference stack serves every part, a described system what it lists")
	}
}
