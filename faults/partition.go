package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/geodrill/geodrill/timeline"
)

// Partition shapes, after Jepsen's grudges.
const (
	ShapeIsolate          = "isolate"           // one region cut from every other, both ways
	ShapePair             = "pair"              // one pair cut, both ways; the rest connected
	ShapeOneWay           = "one-way"           // From's packets to To dropped; To→From flows
	ShapeBridge           = "bridge"            // two sides that only talk through Region
	ShapeMajorityMinority = "majority-minority" // Region's side is the minority
)

// Shapes lists the partition shapes.
func Shapes() []string {
	return []string{ShapeIsolate, ShapePair, ShapeOneWay, ShapeBridge, ShapeMajorityMinority}
}

// Partition cuts the network between regions in one of Jepsen's shapes. Clients (the
// router and the harness) keep reaching every region: the interesting case is an owner cut
// from its peers that still receives requests and must stop acknowledging them.
type Partition struct {
	Shape string
	// Region: isolate and majority-minority (the cut-off side; a name or "busiest"),
	// bridge (the region both sides still reach).
	Region string
	// From, To: pair and one-way.
	From string
	To   string
	// Topology is every region.
	Topology []string

	id   string
	cuts []Cut
	// isolated is the region cut off through IsolateControl (no per-pair cuts).
	isolated string
}

// PartitionParams are a partition's parameters; the cut-off or bridging side is the fault's
// region.
type PartitionParams struct {
	// Shape: isolate, pair, one-way, bridge or majority-minority.
	Shape string `yaml:"shape" fault:"target"`
	// From, To: the two regions of pair and one-way.
	From string `yaml:"from" fault:"target"`
	To   string `yaml:"to" fault:"target"`
}

var partitionKind = KindOf[PartitionParams]{
	Name: "partition",
	Draw: func(s *Spec, p *PartitionParams, d Draws) {
		p.Shape = d.Pick(Shapes())
		switch p.Shape {
		case ShapeIsolate, ShapeMajorityMinority:
			s.Region = d.Pick(d.Regions())
		case ShapeBridge:
			s.Region = d.Pick(d.Topology)
		case ShapePair, ShapeOneWay:
			p.From, p.To = d.TwoRegions()
		}
	},
	Check: func(s Spec, p *PartitionParams, c ParamCheck) {
		if !c.OneOf("shape", "partition shape", p.Shape, Shapes()) {
			return
		}
		switch p.Shape {
		case ShapeIsolate, ShapeMajorityMinority:
			c.Region("region", s.Region, true)
		case ShapeBridge:
			c.Region("region", s.Region, false)
		default:
			c.Region("from", p.From, false)
			c.Region("to", p.To, false)
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(NetworkControl); !ok {
			if ic, ok := cluster.(IsolateControl); ok {
				return Approximate, ic.IsolateHow() // other shapes: unavailable, by (*Partition).Realise
			}
			return Unavailable, partitionNeedsPackets
		}
		if d, ok := cluster.(interface{ PartitionHow() string }); ok {
			return Exact, d.PartitionHow()
		}
		return Exact, "packets dropped between the regions"
	},
	New: func(s Spec, pp *PartitionParams) (Fault, error) {
		p := &Partition{Shape: pp.Shape, Region: s.Region, From: pp.From, To: pp.To, Topology: s.Topology}
		if len(s.Topology) < 2 {
			return nil, errors.New("a partition needs at least 2 regions")
		}
		switch p.Shape {
		case ShapeIsolate, ShapeMajorityMinority:
			if s.Region == "" {
				return nil, fmt.Errorf("partition %s needs region (a name or \"busiest\")", p.Shape)
			}
		case ShapeBridge:
			if s.Region == "" || s.Region == "busiest" {
				return nil, errors.New("partition bridge needs region: the region both sides still reach")
			}
			if len(s.Topology) < 3 {
				return nil, errors.New("partition bridge needs at least 3 regions")
			}
		case ShapePair, ShapeOneWay:
			if p.From == "" || p.To == "" || p.From == p.To {
				return nil, fmt.Errorf("partition %s needs two different regions in from and to", p.Shape)
			}
		default:
			return nil, fmt.Errorf("unknown partition shape %q (use %s)", p.Shape, strings.Join(Shapes(), ", "))
		}
		return p, nil
	},
}

const partitionNeedsPackets = "partitions need per-pair packet control: an etcd member advertises one " +
	"peer URL to every peer, so a per-destination proxy cannot cut A→B while keeping C→B; " +
	"run this scenario with provider: netns (root)"

// Realise refines the kind's answer per shape: a provider that can only isolate one region
// approximately cannot run the other shapes.
func (p *Partition) Realise(cluster any) (Realisation, string) {
	if _, ok := cluster.(NetworkControl); ok {
		return partitionKind.Realise(cluster)
	}
	ic, ok := cluster.(IsolateControl)
	if !ok {
		return Unavailable, partitionNeedsPackets
	}
	if p.Shape != ShapeIsolate {
		return Unavailable, "this provider can only approximate the isolate shape; " + partitionNeedsPackets
	}
	return Approximate, ic.IsolateHow()
}

// Cuts resolves the shape into one-way cuts for a resolved region.
func (p *Partition) Cuts(region string) []Cut {
	both := func(a, b []string) []Cut {
		var out []Cut
		for _, x := range a {
			for _, y := range b {
				out = append(out, Cut{x, y}, Cut{y, x})
			}
		}
		return out
	}
	switch p.Shape {
	case ShapeIsolate:
		return both([]string{region}, others(p.Topology, region))
	case ShapePair:
		return both([]string{p.From}, []string{p.To})
	case ShapeOneWay:
		return []Cut{{p.From, p.To}}
	case ShapeBridge:
		rest := others(p.Topology, region)
		half := len(rest) / 2
		return both(rest[:half], rest[half:])
	case ShapeMajorityMinority:
		// The minority is region plus the regions after it (cyclically) up to just under
		// half of the topology.
		i := slices.Index(p.Topology, region)
		minority := []string{}
		for k := 0; k < (len(p.Topology)-1)/2; k++ {
			minority = append(minority, p.Topology[(i+k)%len(p.Topology)])
		}
		return both(minority, others(p.Topology, minority...))
	}
	return nil
}

// Inject resolves the target and installs the cuts.
func (p *Partition) Inject(ctx context.Context, env Env) (Record, error) {
	region := p.Region
	if p.Shape == ShapeIsolate || p.Shape == ShapeMajorityMinority {
		r, err := resolveRegion(ctx, env, p.Region)
		if err != nil {
			return Record{}, err
		}
		region = r
	}
	p.cuts = p.Cuts(region)
	p.id = fmt.Sprintf("%s-%s", p.Shape, region)
	if p.Shape == ShapePair || p.Shape == ShapeOneWay {
		p.id = fmt.Sprintf("%s-%s-%s", p.Shape, p.From, p.To)
	}
	desc := make([]string, len(p.cuts))
	for i, c := range p.cuts {
		desc[i] = c.From + "->" + c.To
	}
	rec := Record{Target: p.id, Detail: map[string]string{"shape": p.Shape, "cuts": strings.Join(desc, ",")}}
	if region != "" {
		rec.Detail["region"] = region
	}
	if p.Shape == ShapeIsolate {
		// An isolated region is lost to its peers like a dead one: target it by name and
		// list the agents it owned, as a region outage does, so failover can be measured.
		rec.Target = region
		rec.Loses = timeline.LossRegion
		if env.Owners != nil {
			if owners, err := env.Owners(ctx); err == nil {
				rec.Agents = agentsOf(owners, region)
			}
		}
	}
	if ic, ok := env.Cluster.(IsolateControl); ok && !isNetworkControl(env.Cluster) {
		p.isolated = region
		if err := ic.Isolate(ctx, p.id, region); err != nil {
			return rec, fmt.Errorf("partition %s: %w", p.id, err)
		}
		return rec, nil
	}
	if err := env.Cluster.(NetworkControl).Partition(ctx, p.id, p.cuts); err != nil {
		return rec, fmt.Errorf("partition %s: %w", p.id, err)
	}
	return rec, nil
}

func isNetworkControl(cluster any) bool {
	_, ok := cluster.(NetworkControl)
	return ok
}

// Verify dials across every cut and expects each dial to fail.
func (p *Partition) Verify(ctx context.Context, env Env) error {
	if p.isolated != "" {
		return env.Cluster.(IsolateControl).Isolated(ctx, p.id)
	}
	nc := env.Cluster.(NetworkControl)
	for _, c := range p.cuts {
		if err := nc.Reachable(ctx, c.From, c.To); err == nil {
			return fmt.Errorf("%s still reaches %s", c.From, c.To)
		}
	}
	return nil
}

// Recover removes the cuts.
func (p *Partition) Recover(ctx context.Context, env Env) error {
	if p.id == "" {
		return nil
	}
	if p.isolated != "" {
		return env.Cluster.(IsolateControl).Heal(ctx, p.id)
	}
	return env.Cluster.(NetworkControl).Heal(ctx, p.id)
}

// VerifyHealed dials across every former cut and expects each dial to connect.
func (p *Partition) VerifyHealed(ctx context.Context, env Env) error {
	if p.isolated != "" {
		if env.Cluster.(IsolateControl).Isolated(ctx, p.id) == nil {
			return fmt.Errorf("region %s is still isolated after healing", p.isolated)
		}
		return nil
	}
	nc := env.Cluster.(NetworkControl)
	for _, c := range p.cuts {
		if err := nc.Reachable(ctx, c.From, c.To); err != nil {
			return fmt.Errorf("%s does not reach %s after healing: %w", c.From, c.To, err)
		}
	}
	return nil
}
