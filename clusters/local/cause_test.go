package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cause a service's log names leads the error, even under a goroutine dump.
func TestRootCauseFromTheLog(t *testing.T) {
	dir := t.TempDir()
	etcd := filepath.Join(dir, "a-etcd.log")
	dump := strings.Repeat("goroutine 1 [running]:\n\tmain.main()\n", 500)
	if err := os.WriteFile(etcd, []byte(`{"level":"fatal","msg":"failed to open WAL","error":"write /run/x: No space left on device"}`+"\n"+dump), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := filepath.Join(dir, "b-host.log")
	if err := os.WriteFile(quiet, []byte("serving\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := rootCause(quiet, etcd); !strings.HasPrefix(got, "a-etcd: no space left on device (free space") {
		t.Errorf("root cause %q", got)
	}
	if got := rootCause(quiet, filepath.Join(dir, "missing.log")); got != "" {
		t.Errorf("no cause in the logs, got %q", got)
	}
}
