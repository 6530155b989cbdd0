package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/rundir"
)

// The run's MinIO secret key is drawn per run and reaches the processes by environment:
// no command line of the cluster's processes (what `ps -eo args` shows every user) holds
// it, and the run directory's cluster.json, which does, is readable by its owner only.
func TestNoSecretOnACommandLine(t *testing.T) {
	c, runDir := upCluster(t, context.Background(), realBin(t))
	secret := c.Endpoints().MinIOPassword
	if len(secret) < 32 {
		t.Fatalf("secret %q: want 128 random bits", secret)
	}
	procs := c.Processes()
	if len(procs) == 0 {
		t.Fatal("no processes")
	}
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID), "cmdline"))
		if err != nil {
			t.Fatalf("%s %s: %v", p.Service, p.Region, err)
		}
		if args := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(args, secret) {
			t.Errorf("%s %s shows the secret on its command line: %s", p.Service, p.Region, args)
		}
	}
	st, err := os.Stat(filepath.Join(runDir, rundir.ClusterFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s is %v, want 0600: it holds the secret", rundir.ClusterFile, st.Mode().Perm())
	}
}
