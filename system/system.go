// Package system describes the system a drill exercises when it is not the reference
// stack: per region the services to start (command, arguments and files as templates over
// ports, directories and peers; a health check; a role), and the adapter that serves the
// contract (package conform) in front of them. A scenario's `system:` section decodes into
// Described; clusters/described runs it.
package system

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/geodrill/geodrill/refstack/config"
)

// Reference is the name of the reference stack, the system when a scenario names none.
const Reference = "reference"

// Optional contract parts a described system may serve (conform.Parts' optional ones).
const (
	ServesCAS    = "cas"
	ServesRegion = "region"
	ServesEpoch  = "epoch"
	// ServesCheckpoints: the harness can read every agent's checkpoint chain and its
	// metadata after the run (the reference stack's object stores and etcd). Only the
	// reference stack serves it: the format is its own.
	ServesCheckpoints = "checkpoints"
)

// Optional lists the parts a described system may declare in serves.
func Optional() []string { return []string{ServesCAS, ServesRegion, ServesEpoch} }

// Health checks a service may have.
const (
	HealthTCP = "tcp" // its port accepts a connection
)

// Described is a system the scenario describes.
type Described struct {
	// Name names it in reports, e.g. redis-sentinel.
	Name string `yaml:"name" json:"name"`
	// Services run in every region, started in this order (each waits for the one before
	// it to be healthy in every region).
	Services []Service `yaml:"services" json:"services"`
	// Adapter serves the contract; it runs once, outside the regions, like the router.
	Adapter Service `yaml:"adapter" json:"adapter"`
	// Serves lists the optional contract parts the system serves (cas, region, epoch);
	// checkers that need one it does not serve say they are not applicable.
	Serves []string `yaml:"serves,omitempty" json:"serves,omitempty"`
}

// Service is one process per region (or the adapter).
type Service struct {
	Name string `yaml:"name" json:"name"`
	// Role says what it is to the system (store, coordinator, ...), for people and reports.
	Role    string `yaml:"role,omitempty" json:"role,omitempty"`
	Command string `yaml:"command" json:"command"`
	// Args are templates (Vars); an argument that renders empty is kept (some programs take
	// "" as a value).
	Args []string `yaml:"args,omitempty" json:"args,omitempty"`
	// Files are written into the service's directory before its first start (file name →
	// template); a restart keeps what the service rewrote there.
	Files map[string]string `yaml:"files,omitempty" json:"files,omitempty"`
	// Health is "tcp" (its port accepts connections) or an HTTP path on its port answering
	// 200 (e.g. /healthz).
	Health string `yaml:"health,omitempty" json:"health,omitempty"`
	// Ports names further ports the service needs beside its own (etcd's peer port): the
	// templates reach them as {{.PortOf "etcd.peer" "a"}}.
	Ports []string `yaml:"ports,omitempty" json:"ports,omitempty"`
	// User runs the service as that user (PostgreSQL refuses root); its directory is then
	// made that user's.
	User string `yaml:"user,omitempty" json:"user,omitempty"`
}

// PortNames are the names of a service's ports in a Layout: its own, then svc.extra.
func (s Service) PortNames() []string {
	out := []string{s.Name}
	for _, p := range s.Ports {
		out = append(out, s.Name+"."+p)
	}
	return out
}

// Serve says whether the system serves an optional contract part: the reference stack
// (nil) serves every one.
func (d *Described) Serve(part string) bool { return d == nil || slices.Contains(d.Serves, part) }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// ProblemsAt reports what is wrong with d, each field named with prefix (a scenario passes
// "system."). A template is rendered with example values to find its mistakes early.
func (d *Described) ProblemsAt(prefix string) []config.Problem {
	var out []config.Problem
	add := func(field, fix, msg string) {
		out = append(out, config.Problem{Field: prefix + field, Msg: msg, Fix: fix})
	}
	if !nameRE.MatchString(d.Name) || d.Name == Reference {
		add("name", "name it in lower case, e.g. name: redis-sentinel (leave system: out for the reference stack)",
			fmt.Sprintf("system.name %q is not a described system's name", d.Name))
	}
	if len(d.Services) == 0 {
		add("services", "list the services each region runs, e.g. - {name: redis, command: redis-server, args: [...]}",
			"a described system needs at least one service per region")
	}
	seen := map[string]bool{}
	example := exampleVars(d)
	for i, s := range d.Services {
		f := fmt.Sprintf("services[%d]", i)
		if !nameRE.MatchString(s.Name) || s.Name == "adapter" || seen[s.Name] {
			add(f+".name", "a unique lower-case name other than adapter, e.g. name: redis",
				fmt.Sprintf("service name %q is empty, malformed, reserved or repeated", s.Name))
		}
		seen[s.Name] = true
		out = append(out, s.problems(prefix+f, example.For(s.Name, "a"))...)
	}
	out = append(out, d.Adapter.problems(prefix+"adapter", example.ForAdapter())...)
	for i, p := range d.Serves {
		switch {
		case p == ServesCheckpoints:
			add(fmt.Sprintf("serves[%d]", i), "leave it out", "checkpoints are the reference stack's own format; a described system cannot serve them")
		case !slices.Contains(Optional(), p):
			add(fmt.Sprintf("serves[%d]", i), "use "+strings.Join(Optional(), ", "), fmt.Sprintf("%q is not an optional contract part", p))
		}
	}
	return out
}

func (s Service) problems(field string, v Vars) []config.Problem {
	var out []config.Problem
	add := func(f, fix, msg string) { out = append(out, config.Problem{Field: field + f, Msg: msg, Fix: fix}) }
	if s.Command == "" {
		add(".command", "the program to run, e.g. command: redis-server (a name on PATH, or {{.Bin}}/adapter)", "no command")
	}
	if s.Health != "" && s.Health != HealthTCP && !strings.HasPrefix(s.Health, "/") {
		add(".health", `use health: tcp, or an HTTP path such as health: /healthz`, fmt.Sprintf("health %q", s.Health))
	}
	if _, err := s.Render(v); err != nil {
		add("", "fix the template (see README, \"Drilling another system\")", err.Error())
	}
	for name := range s.Files {
		if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
			add(".files", "a plain file name, e.g. sentinel.conf", fmt.Sprintf("file name %q", name))
		}
	}
	for i, p := range s.Ports {
		if !nameRE.MatchString(p) {
			add(fmt.Sprintf(".ports[%d]", i), "a lower-case name, e.g. peer", fmt.Sprintf("port name %q", p))
		}
	}
	return out
}

// Vars are what the templates see for one service of one region.
type Vars struct {
	Region  string   // this service's region ("" for the adapter)
	First   string   // the first region of the topology
	IsFirst bool     // Region == First
	Regions []string // every region, in topology order
	IP      string   // the address this service listens on (its region's: 127.0.0.1 on local)
	Port    int      // this service's port
	Addr    string   // IP:Port
	Dir     string   // this service's data directory (created before it starts)
	Bin     string   // the binaries directory (adapter, refstack)
	Agents  int      // how many agents the drill uses

	ports map[string]map[string]int // service → region → port
	ips   map[string]string         // region → its address
}

// PortOf is the port of service svc in region.
func (v Vars) PortOf(svc, region string) (int, error) {
	p, ok := v.ports[svc][region]
	if !ok {
		return 0, fmt.Errorf("no service %q in region %q", svc, region)
	}
	return p, nil
}

// IPOf is the address region's services listen on.
func (v Vars) IPOf(region string) string { return ipIn(v.ips, region) }

// AddrOf is IPOf(region):PortOf(svc, region).
func (v Vars) AddrOf(svc, region string) (string, error) {
	p, err := v.PortOf(svc, region)
	return net.JoinHostPort(v.IPOf(region), strconv.Itoa(p)), err
}

// ipIn is region's address in ips, 127.0.0.1 when none is given (the local provider, and
// the adapter, which runs beside the harness).
func ipIn(ips map[string]string, region string) string {
	if ip, ok := ips[region]; ok && ip != "" {
		return ip
	}
	return "127.0.0.1"
}

// All is "a=IP:P,b=..." for service svc over every region.
func (v Vars) All(svc string) (string, error) {
	var parts []string
	for _, r := range v.Regions {
		a, err := v.AddrOf(svc, r)
		if err != nil {
			return "", err
		}
		parts = append(parts, r+"="+a)
	}
	return strings.Join(parts, ","), nil
}

// Layout is every port and directory of a run, from which each service's Vars come.
type Layout struct {
	Regions []string
	Agents  int
	Bin     string
	RunDir  string
	Ports   map[string]map[string]int // service → region → port ("adapter" → "" → port)
	// IPs is each region's address (nil: every service on 127.0.0.1, as on local).
	IPs map[string]string
}

// For is the Vars of service svc in region.
func (l Layout) For(svc, region string) Vars {
	first := ""
	if len(l.Regions) > 0 {
		first = l.Regions[0]
	}
	port := l.Ports[svc][region]
	dir := filepath.Join(l.RunDir, "data", region, svc)
	if region == "" {
		dir = filepath.Join(l.RunDir, "data", svc)
	}
	ip := ipIn(l.IPs, region)
	return Vars{Region: region, First: first, IsFirst: region == first, Regions: l.Regions, IP: ip, Port: port,
		Addr: net.JoinHostPort(ip, strconv.Itoa(port)), Dir: dir, Bin: l.Bin, Agents: l.Agents, ports: l.Ports, ips: l.IPs}
}

// ForAdapter is the adapter's Vars.
func (l Layout) ForAdapter() Vars { return l.For("adapter", "") }

// exampleVars is a layout with made-up ports, for validation.
func exampleVars(d *Described) Layout {
	l := Layout{Regions: []string{"a", "b", "c"}, Agents: 3, Bin: "/bin", RunDir: "/run",
		Ports: map[string]map[string]int{"adapter": {"": 9000}}}
	n := 0
	for _, s := range d.Services {
		for _, name := range s.PortNames() {
			l.Ports[name] = map[string]int{"a": 9100 + n, "b": 9200 + n, "c": 9300 + n}
			n++
		}
	}
	return l
}

// Rendered is one service ready to start: its command, arguments and files.
type Rendered struct {
	Command string
	Args    []string
	Files   map[string]string
}

// Render fills the templates of s with v.
func (s Service) Render(v Vars) (Rendered, error) {
	r := Rendered{Files: map[string]string{}}
	var err error
	if r.Command, err = render("command", s.Command, v); err != nil {
		return r, err
	}
	for i, a := range s.Args {
		out, err := render(fmt.Sprintf("args[%d]", i), a, v)
		if err != nil {
			return r, err
		}
		r.Args = append(r.Args, out)
	}
	names := make([]string, 0, len(s.Files))
	for n := range s.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out, err := render("files."+n, s.Files[n], v)
		if err != nil {
			return r, err
		}
		r.Files[n] = out
	}
	return r, nil
}

func render(what, text string, v Vars) (string, error) {
	t, err := template.New(what).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return b.String(), nil
}
