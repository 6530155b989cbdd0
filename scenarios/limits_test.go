package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Scenarios past what one machine runs are refused at validation, each naming the limit:
// 100 regions, a rate of 1e9, 1e7 agents, 20,001 faults; two faults of one kind on one target
// whose holds overlap; a fault held past the end of the load.
func TestLimitsAndOverlaps(t *testing.T) {
	regions := make([]string, 100)
	for i := range regions {
		regions[i] = fmt.Sprintf("r%d", i)
	}
	many := strings.Repeat("  - {kind: pause, service: host, region: a, at: 1s, duration: 1s}\n", 20001)
	for _, tc := range []struct {
		name, yaml string
		field, msg string
	}{
		{"100 regions", strings.Replace(base, "[a, b, c]", "["+strings.Join(regions, ", ")+"]", 1),
			"topology.regions", "above the limit of 7"},
		{"rate 1e9", strings.Replace(base, "rate: 10", "rate: 1000000000", 1), "workload.rate", "above the limit of 5000"},
		{"1e7 agents", strings.Replace(base, "agents: 6", "agents: 10000000", 1), "topology.agents", "above the limit of 1000"},
		{"a day of load", strings.Replace(base, "duration: 10s", "duration: 24h", 1), "workload.duration", "above the limit of 1h0m0s"},
		{"20,001 faults", base + "faults:\n" + many, "faults", "20001 is above the limit of 100"},
		{"two outages of one region", base + "faults:\n" +
			"  - {kind: region-outage, region: a, at: 1s, duration: 4s}\n" +
			"  - {kind: region-outage, region: a, at: 3s, duration: 4s}\n",
			"faults[1].at", "faults[0] and faults[1] are both region-outage of the same target"},
		{"two crashes of one host", base + "faults:\n" +
			"  - {kind: process-crash, service: host, region: b, at: 1s, duration: 4s}\n" +
			"  - {kind: process-crash, service: host, region: b, at: 2s, duration: 1s}\n",
			"faults[1].at", "holds overlap"},
		{"held past the end", base + "faults:\n  - {kind: region-outage, region: a, at: 8s, duration: 5s}\n",
			"faults[0].duration", "held until 13s, past the end of the load at 10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.yaml))
			found := false
			for _, e := range Errors(err) {
				if e.Field == tc.field && strings.Contains(e.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error on %s saying %q, got: %.600v", tc.field, tc.msg, err)
			}
			if len(err.Error()) > 20000 {
				t.Errorf("the error is %d bytes long", len(err.Error()))
			}
		})
	}

	// One after the other, and different kinds on one target, are fine.
	ok := base + "faults:\n" +
		"  - {kind: region-outage, region: a, at: 1s, duration: 2s}\n" +
		"  - {kind: region-outage, region: a, at: 4s, duration: 2s}\n" +
		"  - {kind: slow-replies, path: host-etcd, region: b, latency: 1s, at: 1s, duration: 6s}\n" +
		"  - {kind: false-declaration, region: b, at: 2s, duration: 2s}\n"
	if _, err := Parse("x.yaml", []byte(ok)); err != nil {
		t.Errorf("sequential and composed faults: %v", err)
	}
}

// A long value from the file is cut short in the message that repeats it.
func TestLongValueIsNotEchoedWhole(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	_, err := Parse("x.yaml", []byte(strings.Replace(base, "duration: 10s", "duration: "+long, 1)))
	if err == nil {
		t.Fatal("accepted")
	}
	if n := len(err.Error()); n > 2000 {
		t.Errorf("the error is %d bytes: the value was echoed whole", n)
	}
}

// Load reads regular files only, of bounded size, and says what else it was given: no file,
// a directory, a FIFO (which would block), /dev/zero (which never ends), a file too big.
func TestLoadRefusesWhatIsNotAScenarioFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.yaml")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, msg string }{
		{filepath.Join(dir, "missing.yaml"), "no such file"},
		{dir, "is a directory"},
		{fifo, "is not a regular file"},
		{"/dev/zero", "is not a regular file"},
		{big, "above the limit"},
		{loop, "cannot read"},
	} {
		done := make(chan error, 1)
		go func() { _, err := Load(tc.path); done <- err }()
		select {
		case err := <-done:
			es := Errors(err)
			if len(es) != 1 || !strings.Contains(es[0].Msg, tc.msg) || es[0].Fix == "" && tc.msg != "above the limit" {
				t.Errorf("%s: %v, want a scenario error saying %q with a fix", tc.path, err, tc.msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Load still reading after 5s", tc.path)
		}
	}
}
