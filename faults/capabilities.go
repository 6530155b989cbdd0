package faults

import (
	"context"
	"syscall"
	"time"
)

// The capabilities below are what fault kinds ask a cluster for, by type assertion; a
// provider implements only what it can do, and each kind's Realise says what follows.

// Unsupported is optional: a provider names the kinds it cannot produce, and why ("" for a
// kind it can). It refuses a kind even when it has the capability the kind asks for (kind's
// pods can be killed through ServiceControl's Signal but never frozen, so pause is refused).
type Unsupported interface {
	Unsupported(kind string) string
}

// ServiceControl signals one service and brings back whatever of a region is not running.
type ServiceControl interface {
	Signal(region, service string, sig syscall.Signal) error
	RestoreRegion(ctx context.Context, region string) error
}

// ServiceUnits says what a provider's services run as when that is not a process group of
// this machine, for the realisation text of the faults that signal or restart them (the
// docker provider: containers, paused by docker pause). "" means process groups.
type ServiceUnits interface {
	ServiceUnits() string
}

// processHow is a process fault's realisation text, with the provider's note on what its
// services run as.
func processHow(cluster any, how string) string {
	if u, ok := cluster.(ServiceUnits); ok {
		if note := u.ServiceUnits(); note != "" {
			return how + " (" + note + ")"
		}
	}
	return how
}

// ServiceHealth checks one service of a region ("" and "router" for the router).
type ServiceHealth interface {
	ServiceHealthy(ctx context.Context, region, service string) error
}

// Cut drops every packet from region From to region To (one direction).
type Cut struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// NetworkControl installs and removes packet drops between regions. id names the set of
// cuts so overlapping faults heal independently.
type NetworkControl interface {
	Partition(ctx context.Context, id string, cuts []Cut) error
	Heal(ctx context.Context, id string) error
	// Reachable dials from inside region from to a service of region to: nil when it
	// connects, an error when it cannot.
	Reachable(ctx context.Context, from, to string) error
}

// IsolateControl cuts one region off approximately, on a provider without per-pair packet
// control (the local provider's proxies). id names the cut so it heals independently.
type IsolateControl interface {
	// IsolateHow says what the isolation cuts and what it cannot.
	IsolateHow() string
	Isolate(ctx context.Context, id, region string) error
	Heal(ctx context.Context, id string) error
	// Isolated dials across the cut paths: nil when none of them passes data.
	Isolated(ctx context.Context, id string) error
}

// Link is the degradation of the path from one region to another.
type Link struct {
	From    string        `json:"from"`
	To      string        `json:"to"`
	Latency time.Duration `json:"latency,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	// Loss is the fraction of packets dropped, 0..1.
	Loss float64 `json:"loss,omitempty"`
	// BandwidthKbit caps the rate, in kilobits per second; 0 is no cap.
	BandwidthKbit int `json:"bandwidth_kbit,omitempty"`
}

// LinkControl degrades links between regions.
type LinkControl interface {
	// LinkRealisation says how faithfully the provider can produce l.
	LinkRealisation(l Link) (Realisation, string)
	Degrade(ctx context.Context, id string, l Link) error
	Restore(ctx context.Context, id string) error
	// Degraded returns nil when the degradation id is installed.
	Degraded(ctx context.Context, id string) error
}

// ClockControl sets the offset of a region's agent host clock at runtime.
type ClockControl interface {
	SetClockOffset(ctx context.Context, region string, offset time.Duration) error
	ClockOffset(ctx context.Context, region string) (time.Duration, error)
}
