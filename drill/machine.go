package drill

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/geodrill/geodrill/scenarios"
)

// Rough needs of one drill, measured on the local provider: a region's etcd, MinIO and
// agent host hold about 400 MiB together under load, the harness and router about 500 MiB;
// every request in flight holds a connection, and each process a few hundred descriptors.
const (
	regionMiB     = 400
	harnessMiB    = 500
	fdsPerRegion  = 300
	fdsForHarness = 256
)

// machine is what the drill reads of the machine before bring-up.
type machine struct {
	availableMiB int64 // MemAvailable; -1 when unknown
	fdLimit      uint64
}

func readMachine() machine {
	m := machine{availableMiB: -1}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					m.availableMiB = kb / 1024
				}
			}
		}
		f.Close()
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		m.fdLimit = rl.Cur // Go raised it to the hard limit at start
	}
	return m
}

// checkMachine refuses a scenario this machine cannot run, before anything starts, naming
// what is short and by how much.
func checkMachine(sc *scenarios.Scenario, m machine) error {
	regions := int64(len(sc.Topology.Regions))
	if need := regions*regionMiB + harnessMiB; m.availableMiB >= 0 && m.availableMiB < need {
		return fmt.Errorf("this machine has %d MiB of memory available; %d regions need about %d MiB: "+
			"free memory or run fewer regions", m.availableMiB, regions, need)
	}
	inFlight := uint64(float64(sc.Workload.Rate)*sc.Workload.Timeout.D().Seconds()) + 16
	if need := inFlight + uint64(regions)*fdsPerRegion + fdsForHarness; m.fdLimit > 0 && m.fdLimit < need {
		return fmt.Errorf("the open-file limit is %d; %d ops/s with a %s timeout and %d regions need about %d: "+
			"raise it (ulimit -n %d) or lower workload.rate", m.fdLimit, sc.Workload.Rate, sc.Workload.Timeout, regions, need, need)
	}
	return nil
}
