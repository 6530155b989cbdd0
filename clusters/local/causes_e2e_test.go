package local_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters/local"
)

// A region that cannot come back because its host's port was taken during the outage fails
// its restore at once, naming the cause, instead of waiting out a heal timeout; once the
// port is free again, the same restore succeeds.
func TestRestoreFailsAtOnceWhenAPortIsTaken(t *testing.T) {
	c, _ := upCluster(t, context.Background(), realBin(t))
	ctx := context.Background()
	u, err := url.Parse(c.Endpoints().Regions["b"].Host)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.KillRegion(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	thief, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatalf("take host b's port %s: %v", u.Host, err)
	}
	start := time.Now()
	err = c.RestoreRegion(ctx, "b")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("restore with host b's port taken: %v, want an error naming \"address already in use\"", err)
	}
	if first, _, _ := strings.Cut(errString(err), "\n"); !strings.Contains(first, "address already in use") {
		t.Errorf("the cause is not on the first line: %q", first)
	}
	if took > 20*time.Second {
		t.Errorf("the failed restore took %s: it should fail as soon as the host exits", took)
	}
	thief.Close()
	if err := c.RestoreRegion(ctx, "b"); err != nil {
		t.Errorf("restore once the port is free: %v", err)
	}
}

// With the run directory's disk full, bring-up fails and its first line says so, rather
// than burying it under a service's goroutine dump. Root only: it mounts a small tmpfs.
func TestUpNamesAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") != "" {
			t.Fatal("this test mounts a tmpfs and needs root")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "geodrill-full", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	// Fill it but for 256 KiB: room for the layout's own files, not for etcd's write-ahead
	// log or MinIO's format.
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 8<<20-256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testSpec(realBin(t), filepath.Join(dir, "run"))
	c, err := local.New(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = c.Up(ctx)
	_ = c.Down(context.Background())
	if err == nil {
		t.Fatal("Up on a full disk succeeded")
	}
	if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, "no space left on device") {
		t.Errorf("first line of the error: %q, want it to name \"no space left on device\"\nwhole error: %v", first, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
