package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
	"github.com/geodrill/geodrill/refstack/registry"
)

func TestBadInputExitsWithUsage(t *testing.T) {
	t.Setenv(api.EnvMinIOPassword, "s3cret")
	hostOK := []string{"host", "--region", "a", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2", "--minio", "a=127.0.0.1:3"}
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{nil, "usage: refstack"},
		{[]string{"frob"}, `unknown subcommand "frob"`},
		{[]string{"etcd", "--name", "a"}, "--data-dir is required"},
		{[]string{"etcd", "--name", "a", "--data-dir", "d", "--listen-client", "http://127.0.0.1:1", "--listen-peer", "127.0.0.1:2", "--initial-cluster", "a=http://127.0.0.1:2"}, "--listen-client"},
		{[]string{"etcd", "--name", "a", "--data-dir", "d", "--listen-client", "127.0.0.1:1", "--listen-peer", "127.0.0.1:2", "--initial-cluster", "a=http://127.0.0.1:2", "--initial-cluster-state", "old"}, "new or existing"},
		{[]string{"host", "--region", "a"}, "--listen is required"},
		{append(hostOK[:len(hostOK):len(hostOK)], "--bogus"), "flag provided but not defined: -bogus"},
		{[]string{"host", "--region", "a", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2", "--minio", "b=127.0.0.1:3"}, `--minio has no entry for this host's --region "a"`},
		{[]string{"host", "--region", "a", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2", "--minio", "a:127.0.0.1:3"}, "is not region=host:port"},
		{withConfig(t, hostOK, "lease_ttl: 200ms\n"), "lease_ttl 200ms is below etcd's minimum"},
		{withConfig(t, hostOK, "checkpoint_every: -1\n"), "checkpoint_every must be at least 1"},
		{withConfig(t, hostOK, "durability: eventual\n"), `unknown durability "eventual"`},
		{withConfig(t, hostOK, "durability: async\ncheckpoint_interval: -1s\n"), "checkpoint_interval must be positive"},
		{withConfig(t, hostOK, "chain_length: -1\n"), "chain_length must not be negative"},
		{withConfig(t, hostOK, "unsafe: {no-replication: true}\n"), "applies to durability async only"},
		{withConfig(t, hostOK, "durability: async\nunsafe: [ack-before-commit]\n"), "sync-geo"},
		{withConfig(t, hostOK, "unsafe: [skip-checksum, no-fencin]\n"), `unknown unsafe switch "no-fencin" (known: `},
		{withConfig(t, hostOK, "lease_tll: 2s\n"), "field lease_tll not found"},
		{append(hostOK[:len(hostOK):len(hostOK)], "--config", "/nonexistent/stack.yaml"), "no such file"},
		{withConfig(t, []string{"router", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2"}, "unsafe: {router-ignores-epochs: soon}\n"), "want a positive duration"},
		{withConfig(t, []string{"router", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2"}, "router: {owner_ttl: -1s}\n"), "router.owner_ttl must not be negative"},
		{append(hostOK[:len(hostOK):len(hostOK)], "extra"), `unexpected argument "extra"`},
		{[]string{"router", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1"}, "--etcd"},
		{[]string{"router", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2", "--host-via", "a:127.0.0.1:3"}, "--host-via"},
		{[]string{"router", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2", "--host-via", "a=127.0.0.1:3,a=127.0.0.1:4"}, `region "a" given twice`},
		{[]string{"register", "--etcd", "127.0.0.1:1", "--regions", "a,b", "--agents", "3", "--placement", "a=3,b=1"}, "homes 4 agents but --agents is 3"},
		{[]string{"register", "--etcd", "127.0.0.1:1", "--regions", "a,b", "--agents", "3", "--placement", "c=1"}, `region "c" is not in --regions`},
		{[]string{"register", "--etcd", "127.0.0.1:1", "--regions", "a,a", "--agents", "3"}, `region "a" given twice`},
		{[]string{"register", "--etcd", "127.0.0.1:1", "--regions", "a,b", "--agents", "0"}, "--agents 0"},
	} {
		var stderr bytes.Buffer
		code := Main(context.Background(), tc.args, &stderr)
		if code != ExitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("refstack %s: exit %d, stderr %q; want exit %d mentioning %q",
				strings.Join(tc.args, " "), code, stderr.String(), ExitUsage, tc.want)
		}
	}
}

func TestPlacementFlags(t *testing.T) {
	regs, err := Placement("a,b,c", 12, "a=8,b=2,c=2")
	if err != nil {
		t.Fatal(err)
	}
	homes := map[string]int{}
	for _, r := range regs {
		homes[r.Home]++
	}
	if len(regs) != 12 || homes["a"] != 8 || homes["b"] != 2 || homes["c"] != 2 {
		t.Errorf("placement homes %v over %d agents", homes, len(regs))
	}
	if r := regs[9]; r.Agent != "agent-09" || r.Home != "b" || strings.Join(r.Order, ",") != "b,c,a" {
		t.Errorf("agent-09 = %+v, want home b, order b,c,a", r)
	}
}

// The subcommands run until the context ends and then exit 0; register writes the registry.
func TestSubcommandsRunAndStopCleanly(t *testing.T) {
	etcd := testenv.Etcd(t)
	var stderr bytes.Buffer
	if code := Main(context.Background(), []string{"register", "--etcd", etcd, "--regions", "a,b,c", "--agents", "12", "--placement", "a=8,b=2,c=2"}, &stderr); code != ExitOK {
		t.Fatalf("register: exit %d: %s", code, stderr.String())
	}
	cli := testenv.Client(t, etcd)
	regs, err := registry.Load(context.Background(), cli)
	if err != nil || len(regs) != 12 || regs[0].Agent != api.AgentID(0) || regs[11].Home != "c" {
		t.Fatalf("registry after register: %v %+v", err, regs)
	}

	t.Setenv(api.EnvMinIOPassword, testenv.MinioPassword)
	hostAddr, routerAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	for _, tc := range []struct {
		addr string
		args []string
	}{
		// No MinIO listens here: the host still runs (checkpoints need at least two regions).
		{hostAddr, []string{"host", "--region", "c", "--listen", hostAddr, "--etcd", etcd, "--minio", "c=" + testenv.FreeAddr(t)}},
		{routerAddr, []string{"router", "--listen", routerAddr, "--etcd", etcd}},
	} {
		args := tc.args
		t.Run(args[0], func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			var out testenv.SyncBuffer
			go func() { done <- Main(ctx, args, &out) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp, err := http.Get("http://" + tc.addr + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s not healthy: %s", args[0], out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			if code := <-done; code != ExitOK {
				t.Errorf("%s exit %d after cancel: %s", args[0], code, out.String())
			}
		})
	}
}

// withConfig is args plus --config naming a stack configuration file holding body.
func withConfig(t *testing.T, args []string, body string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(args[:len(args):len(args)], "--config", path)
}

// The host takes its MinIO secret key from the environment only: without it, it refuses
// to start and says where to put it; the flag that showed it to ps is gone.
func TestHostSecretFromTheEnvironment(t *testing.T) {
	host := []string{"host", "--region", "a", "--listen", "127.0.0.1:1", "--etcd", "127.0.0.1:2", "--minio", "a=127.0.0.1:3"}
	t.Setenv(api.EnvMinIOPassword, "")
	var stderr bytes.Buffer
	if code := Main(context.Background(), host, &stderr); code != ExitUsage || !strings.Contains(stderr.String(), "set "+api.EnvMinIOPassword) {
		t.Errorf("host without %s: exit %d, %q", api.EnvMinIOPassword, code, stderr.String())
	}
	stderr.Reset()
	t.Setenv(api.EnvMinIOPassword, "s3cret")
	if code := Main(context.Background(), append(host, "--minio-password", "s3cret"), &stderr); code != ExitUsage ||
		!strings.Contains(stderr.String(), "flag provided but not defined: -minio-password") {
		t.Errorf("--minio-password: exit %d, %q", code, stderr.String())
	}
}
