package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/providers"
	"github.com/geodrill/geodrill/conform"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/scenarios"
)

// defaultConformScenario is the stack harness conform brings up when given no scenario.
const defaultConformScenario = "scenarios/region-outage.yaml"

// conformBudget bounds the wait for recovery when the scenario has no RTO target.
const conformBudget = 30 * time.Second

// cmdConform checks a system against the contract: the reference stack the scenario
// describes, brought up here (fault-free checks, then one outage), or a running system at
// --url (fault-free checks only).
func cmdConform(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conform", flag.ContinueOnError)
	url := fs.String("url", "", "")
	agents := fs.Int("agents", 3, "")
	provider := fs.String("provider", "", "")
	bin := fs.String("bin", "", "")
	out := fs.String("out", "runs", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"conform takes at most one scenario file, e.g. harness conform scenarios/region-outage.yaml"}
	}
	if *agents < 1 {
		return usageError{fmt.Sprintf("--agents %d: must be at least 1", *agents)}
	}
	if *provider != "" && !slices.Contains(scenarios.Providers(), *provider) {
		return usageError{fmt.Sprintf("--provider %s: unknown; use one of %s", *provider, strings.Join(scenarios.Providers(), ", "))}
	}
	var rep conform.Report
	if *url != "" {
		if len(pos) > 0 || *provider != "" {
			return usageError{"conform --url checks a running system: give no scenario or provider with it"}
		}
		names := make([]string, *agents)
		for i := range names {
			names[i] = api.AgentID(i)
		}
		fmt.Fprintf(stderr, "checking %s (fault-free; the outage checks need a system the harness starts)\n", *url)
		rep, err = conform.Check(ctx, conform.Target{URL: *url, Agents: names}, nil, nil, 0)
	} else {
		file := defaultConformScenario
		if len(pos) == 1 {
			file = pos[0]
		}
		rep, err = conformStack(ctx, file, *provider, *bin, *out, stderr)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, rep.Text())
	}
	if !rep.Passed() {
		return checkFailed{checkers.Fail}
	}
	return nil
}

// conformStack brings up the system of the scenario in file (the reference stack, or the
// described system) and checks it, killing one region.
func conformStack(ctx context.Context, file, provider, bin, out string, stderr io.Writer) (conform.Report, error) {
	sc, err := scenarios.Load(file)
	if err != nil {
		return conform.Report{}, err
	}
	if provider == "" {
		provider = sc.Provider
	}
	runDir := filepath.Join(out, "conform-"+sc.Name+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return conform.Report{}, err
	}
	progress := func(msg string) { fmt.Fprintf(stderr, "  %s\n", msg) }
	cl, err := providers.New(provider, clusters.Spec{Regions: sc.Topology.Regions, Agents: sc.Topology.Agents,
		Placement: sc.Topology.Placement, Stack: sc.Stack, System: sc.System, BinDir: bin, RunDir: runDir, Progress: progress})
	if err != nil {
		return conform.Report{}, err
	}
	outage, ok := cl.(conform.Outage)
	if !ok {
		return conform.Report{}, fmt.Errorf("provider %s cannot kill a region", providers.ResolveFor(provider, sc.System != nil))
	}
	budget := conformBudget
	if sc.SLA.RTOMax != nil {
		budget = 2 * sc.SLA.RTOMax.D()
	}
	var rep conform.Report
	what, where := "the reference stack", providers.ResolveFor(provider, sc.System != nil)
	if sc.System != nil {
		what = "the system " + sc.System.Name
	}
	fmt.Fprintf(stderr, "checking %s of %s on %s (logs in %s)\n", what, file, where, runDir)
	err = clusters.With(ctx, cl, func(ctx context.Context) error {
		eps := cl.Endpoints()
		tlsCfg, err := eps.ClientTLS()
		if err != nil {
			return err
		}
		t := conform.Target{URL: eps.Router, Client: &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsCfg}}}
		for _, r := range sc.Topology.Regions {
			t.Health = append(t.Health, eps.HealthURLs(r)...)
		}
		for i := range sc.Topology.Agents {
			t.Agents = append(t.Agents, api.AgentID(i))
		}
		rep, err = conform.Check(ctx, t, outage, sc.Topology.Regions, budget)
		return err
	})
	return rep, err
}
