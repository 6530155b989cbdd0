package local

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// portPicker hands out free loopback TCP ports, never the same one twice.
//
// It picks below the kernel's ephemeral range on purpose. A port taken from the ephemeral
// range (listening on :0) is free now, but while a region is down after KillRegion any
// outgoing connection on the machine may get it as its source port, and RestoreRegion, which
// must reuse the same ports, would then fail with "address in use".
type portPicker struct {
	rng    *rand.Rand
	lo, hi int // candidates are [lo, hi)
	used   map[int]bool
}

const (
	lowestPort   = 10000 // stay clear of well-known and common service ports
	minPortRange = 1000  // below this many candidates, fall back to the ephemeral range
)

func newPortPicker() *portPicker {
	p := &portPicker{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), used: map[int]bool{}}
	p.lo, p.hi = lowestPort, ephemeralLow()
	return p
}

// ephemeralLow is the first port of the ephemeral range (32768 unless tuned).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// pick returns a port nobody listens on right now and this picker has not handed out.
func (p *portPicker) pick() (int, error) {
	if p.hi-p.lo >= minPortRange {
		for range 200 {
			port := p.lo + p.rng.IntN(p.hi-p.lo)
			if p.used[port] || !free(port) {
				continue
			}
			p.used[port] = true
			return port, nil
		}
	}
	// The range is tiny or crowded: let the kernel choose.
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !p.used[port] {
			p.used[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("pick a free port: no unused port found")
}

func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// PickPorts returns n distinct ports nobody listens on now, below the ephemeral range, as
// the local provider picks its own (for other runners on this machine: clusters/described).
func PickPorts(n int) ([]int, error) {
	p := newPortPicker()
	out := make([]int, 0, n)
	for range n {
		port, err := p.pick()
		if err != nil {
			return nil, err
		}
		out = append(out, port)
	}
	return out, nil
}
