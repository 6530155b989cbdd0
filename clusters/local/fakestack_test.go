package local_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/geodrill/geodrill/refstack/api"
)

// The fake stack stands in for bin/refstack when it is not built: the test binary itself,
// started through a shell wrapper with envFakeStack set, speaks refstack's CLI and serves
// just the readiness endpoints. It exercises process management (start, readiness, exit
// during Up, stop, kill, restore, cleanup) in seconds; the real stack is tested separately.
const envFakeStack = "GEODRILL_FAKE_REFSTACK"

// Files in the cluster's run directory (every child's working directory).
const (
	fakeRegistry = "fake-registry.json" // written by `register`, read by `router`
	fakeCrash    = "fake-crash"         // "host b": that service exits at start
)

func fakeRefstack(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "fake refstack: no subcommand")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	var (
		name, region, listen, client, peer, regions, placement string
		agents                                                 int
	)
	fs.StringVar(&name, "name", "", "")
	fs.StringVar(&region, "region", "", "")
	fs.StringVar(&listen, "listen", "", "")
	fs.StringVar(&client, "listen-client", "", "")
	fs.StringVar(&peer, "listen-peer", "", "")
	fs.StringVar(&regions, "regions", "", "")
	fs.StringVar(&placement, "placement", "", "")
	fs.IntVar(&agents, "agents", 0, "")
	for _, ignored := range []string{"data-dir", "initial-cluster", "initial-cluster-state", "etcd", "minio",
		"minio-user", "minio-password", "bucket", "lease-ttl", "checkpoint-every"} {
		fs.String(ignored, "", "")
	}
	if err := fs.Parse(knownFlags(fs, args[1:])); err != nil {
		return 2
	}
	who := args[0] + " " + name + region
	if b, err := os.ReadFile(fakeCrash); err == nil && strings.TrimSpace(string(b)) == strings.TrimSpace(who) {
		fmt.Fprintf(os.Stderr, "fake refstack: %s: fake crash as asked\n", who)
		return 3
	}

	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }
	var addrs []string
	switch args[0] {
	case "register":
		counts := map[string]int{}
		for _, kv := range strings.Split(placement, ",") {
			if r, n, found := strings.Cut(kv, "="); found {
				var v int
				fmt.Sscan(n, &v)
				counts[r] = v
			}
		}
		b, _ := json.Marshal(api.Placement(strings.Split(regions, ","), agents, counts))
		if err := os.WriteFile(fakeRegistry, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "etcd":
		mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"health":"true"}`)) })
		addrs = []string{client, peer}
	case "host":
		mux.HandleFunc("/healthz", ok)
		addrs = []string{listen}
	case "router":
		mux.HandleFunc("/healthz", ok)
		mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
			var regs []api.Registration
			b, _ := os.ReadFile(fakeRegistry)
			json.Unmarshal(b, &regs)
			st := api.RouterStatus{Owners: map[string]api.Owner{}}
			for _, r := range regs {
				st.Owners[r.Agent] = api.Owner{Region: r.Home, Epoch: 1}
			}
			json.NewEncoder(w).Encode(st)
		})
		addrs = []string{listen}
	default:
		fmt.Fprintf(os.Stderr, "fake refstack: unknown subcommand %q\n", args[0])
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go http.Serve(l, mux)
	}
	fmt.Fprintf(os.Stderr, "fake refstack: %s serving on %v\n", who, addrs)
	<-ctx.Done()
	return 0
}

// knownFlags drops the flags fs does not define (with their value, if any), so the fake keeps
// standing in for process management as refstack gains stack settings it does not model.
func knownFlags(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || fs.Lookup(name) != nil {
			out = append(out, args[i])
			continue
		}
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++ // skip the unknown flag's value
		}
	}
	return out
}
