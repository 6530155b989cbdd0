// Package cli is the refstack command line: one subcommand per component (etcd, host,
// router, register), its flags, and the mapping of errors to exit codes. cmd/refstack only
// wires signals to Main.
package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
	"github.com/geodrill/geodrill/refstack/config"
	"github.com/geodrill/geodrill/refstack/controller"
	"github.com/geodrill/geodrill/refstack/etcdnode"
	"github.com/geodrill/geodrill/refstack/host"
	"github.com/geodrill/geodrill/refstack/registry"
	"github.com/geodrill/geodrill/refstack/router"
	"github.com/geodrill/geodrill/refstack/tlsconf"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the component failed at run time
	ExitUsage   = 2 // bad subcommand or flags
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stderr io.Writer) error
}

var commands = []command{
	{"etcd", "run one embedded etcd member", runEtcd},
	{"host", "run a region's agent host", runHost},
	{"router", "run the router that forwards agent requests to their owners", runRouter},
	{"register", "write the agent registry (home region and failover order) into etcd", runRegister},
	{"failback", "hand agents homed in a region back to it (manual fail-back)", runFailback},
	{"hold", "do nothing until stopped: holds a region's network namespace in a container", runHold},
}

// runHold is the docker provider's region "pod": a container whose network namespace the
// region's etcd, MinIO and host containers join, so a region has one address and
// partitions are drawn per region. It does nothing until SIGTERM or SIGINT.
func runHold(ctx context.Context, args []string, _ io.Writer) error {
	if len(args) > 0 {
		return usagef("hold takes no arguments, got %q", args)
	}
	<-ctx.Done()
	return nil
}

// usageError is bad input; Main exits with ExitUsage. printed: the flag package already
// reported it.
type usageError struct {
	msg     string
	printed bool
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// configFlag is --config, the same on the host and the router: the stack's configuration
// file (refstack/config; a provider writes one per run), every setting at its default when
// it is not given.
func configFlag(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "config", "", "the stack's configuration file (YAML, refstack/config: durability, lease_ttl, "+
		"checkpoint_every, checkpoint_interval, chain_length, unsafe, controller, failback, router); default settings when absent")
}

// tlsFlag is --tls-dir, the same on every subcommand: the run's certificates
// (refstack/tlsconf); when given, every link the command serves or dials is mutual TLS.
func tlsFlag(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "tls-dir", "", "directory of the run's certificates (refstack/tlsconf: ca.crt, NAME.crt, NAME.key); "+
		"when given, every link is mutual TLS")
}

// tlsConfigs are the server and client configurations of certificate name in dir; both nil
// without a dir. Bugs may hold bugs.TLSIgnoresExpiry.
func tlsConfigs(dir, name string, bs bugs.Set) (server, client *tls.Config, err error) {
	if dir == "" {
		return nil, nil, nil
	}
	if server, err = tlsconf.Server(dir, name); err != nil {
		return nil, nil, usageError{msg: err.Error()}
	}
	if bs.On(bugs.TLSIgnoresExpiry) {
		if server, err = tlsconf.IgnoringExpiry(server, dir); err != nil {
			return nil, nil, usageError{msg: err.Error()}
		}
	}
	if client, err = tlsconf.Client(dir, name); err != nil {
		return nil, nil, usageError{msg: err.Error()}
	}
	return server, client, nil
}

// readConfig reads the --config file, or the defaults when none is given.
func readConfig(path string) (config.Stack, error) {
	if path == "" {
		return config.Stack{}.WithDefaults(), nil
	}
	s, err := config.Read(path)
	if err != nil {
		return config.Stack{}, usageError{msg: err.Error()}
	}
	return s, nil
}

// Main runs the subcommand named by args[0] until ctx is done and returns the exit code.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return ExitUsage
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stderr, usage())
		return ExitOK
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, args[1:], stderr)
		var ue usageError
		switch {
		case err == nil:
			return ExitOK
		case errors.Is(err, flag.ErrHelp):
			return ExitOK
		case errors.As(err, &ue):
			if !ue.printed {
				fmt.Fprintf(stderr, "refstack %s: %v\n", name, err)
			}
			return ExitUsage
		default:
			fmt.Fprintf(stderr, "refstack %s: %v\n", name, err)
			return ExitFailure
		}
	}
	fmt.Fprintf(stderr, "refstack: unknown subcommand %q\n%s", name, usage())
	return ExitUsage
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: refstack <subcommand> [flags]   (refstack <subcommand> -h lists its flags)\n\nsubcommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	return b.String()
}

// parse parses args, turning flag errors into usage errors (the flag package already
// printed what was wrong) and rejecting positional arguments.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{msg: err.Error(), printed: true}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: every input is a --flag", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range required {
		if !set[name] {
			return usagef("--%s is required (%s)", name, fs.Lookup(name).Usage)
		}
	}
	return nil
}

func logger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func runEtcd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c etcdnode.Config
	fs.StringVar(&c.Name, "name", "", "member name, the region (e.g. a)")
	fs.StringVar(&c.DataDir, "data-dir", "", "directory for the member's data")
	fs.StringVar(&c.ListenClient, "listen-client", "", "client address host:port (also advertised)")
	fs.StringVar(&c.ListenPeer, "listen-peer", "", "peer address host:port (also advertised)")
	fs.StringVar(&c.InitialCluster, "initial-cluster", "", "every member: a=http://127.0.0.1:Q1,b=http://127.0.0.1:Q2,...")
	fs.StringVar(&c.ClusterState, "initial-cluster-state", "new", "new (bootstrap) or existing (rejoin)")
	fs.StringVar(&c.LogLevel, "log-level", "warn", "etcd log level: debug, info, warn, error")
	var configFile string
	configFlag(fs, &configFile)
	tlsFlag(fs, &c.TLSDir)
	if err := parse(fs, args, "name", "data-dir", "listen-client", "listen-peer", "initial-cluster"); err != nil {
		return err
	}
	st, err := readConfig(configFile)
	if err != nil {
		return err
	}
	c.HeartbeatInterval, c.ElectionTimeout = st.Etcd.Timing()
	c.Bugs = st.Unsafe.Set
	if err := checkAddr("listen-client", c.ListenClient); err != nil {
		return err
	}
	if err := checkAddr("listen-peer", c.ListenPeer); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return usageError{msg: err.Error()}
	}
	return etcdnode.Run(ctx, c)
}

func runHost(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c host.Config
	var etcd, minio string
	fs.StringVar(&c.Region, "region", "", "this host's region (e.g. a)")
	fs.StringVar(&c.Listen, "listen", "", "API address host:port")
	fs.StringVar(&etcd, "etcd", "", "this region's etcd client endpoints host:port[,host:port...]")
	fs.StringVar(&minio, "minio", "", "every region's MinIO: a=host:port,b=host:port,...")
	fs.StringVar(&c.MinIOUser, "minio-user", "geodrill", "MinIO access key")
	fs.StringVar(&c.Bucket, "bucket", "geodrill", "checkpoint bucket, created in every region")
	var configFile, tlsDir string
	configFlag(fs, &configFile)
	tlsFlag(fs, &tlsDir)
	if err := parse(fs, args, "region", "listen", "etcd", "minio"); err != nil {
		return err
	}
	st, err := readConfig(configFile)
	if err != nil {
		return err
	}
	applyHost(&c, st)
	if c.TLSServer, c.TLSClient, err = tlsConfigs(tlsDir, c.Region, st.Unsafe.Set); err != nil {
		return err
	}
	if err := checkAddr("listen", c.Listen); err != nil {
		return err
	}
	if c.Etcd, err = parseAddrs("etcd", etcd); err != nil {
		return err
	}
	if c.MinIO, err = parseRegionAddrs("minio", minio); err != nil {
		return err
	}
	if c.Bucket == "" {
		return usagef("--bucket is empty: give a bucket name such as geodrill")
	}
	if c.MinIOPassword = os.Getenv(api.EnvMinIOPassword); c.MinIOPassword == "" {
		return usagef("set %s to the MinIO secret key (a secret is never taken on the command line, where ps shows it)",
			api.EnvMinIOPassword)
	}
	if !hasRegion(c.MinIO, c.Region) {
		return usagef("--minio has no entry for this host's --region %q: add %s=HOST:PORT", c.Region, c.Region)
	}
	c.Logger = logger(stderr)
	h, err := host.New(c)
	if err != nil {
		return usageError{msg: err.Error()}
	}
	return h.Run(ctx)
}

func runRouter(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c router.Config
	var etcd string
	fs.StringVar(&c.Listen, "listen", "", "API address host:port")
	fs.StringVar(&etcd, "etcd", "", "every region's etcd client endpoint host:port,host:port,...")
	fs.DurationVar(&c.Timeout, "timeout", 3*time.Second, "timeout of one forwarded request")
	var configFile, tlsDir string
	configFlag(fs, &configFile)
	tlsFlag(fs, &tlsDir)
	var hostVia string
	fs.StringVar(&hostVia, "host-via", "", "send each region's requests to this host:port (a proxy before its host) instead of the owner's advertised URL: a=host:port,...")
	if err := parse(fs, args, "listen", "etcd"); err != nil {
		return err
	}
	if hostVia != "" {
		via, err := parseRegionAddrs("host-via", hostVia)
		if err != nil {
			return err
		}
		c.HostVia = map[string]string{}
		for _, e := range via {
			c.HostVia[e.Region] = e.Addr
		}
	}
	st, err := readConfig(configFile)
	if err != nil {
		return err
	}
	c.OwnerTTL, c.Bugs = st.Router.OwnerTTL, st.Unsafe.Set
	if c.TLSServer, c.TLSClient, err = tlsConfigs(tlsDir, tlsconf.Router, st.Unsafe.Set); err != nil {
		return err
	}
	if err := checkAddr("listen", c.Listen); err != nil {
		return err
	}
	if c.Etcd, err = parseAddrs("etcd", etcd); err != nil {
		return err
	}
	if c.Timeout <= 0 {
		return usagef("--timeout %s: want a positive duration such as 3s", c.Timeout)
	}
	c.Logger = logger(stderr)
	rt, err := router.New(c)
	if err != nil {
		return usageError{msg: err.Error()}
	}
	return rt.Run(ctx)
}

func runRegister(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var etcd, regionsFlag, placement string
	var agents int
	var wait time.Duration
	fs.StringVar(&etcd, "etcd", "", "etcd client endpoints host:port,host:port,...")
	fs.StringVar(&regionsFlag, "regions", "", "regions in failover order: a,b,c")
	fs.IntVar(&agents, "agents", 0, "number of agents (agent-00 ...)")
	fs.StringVar(&placement, "placement", "", "agents homed per region, e.g. a=8,b=2,c=2 (the rest round-robin)")
	fs.DurationVar(&wait, "wait", 30*time.Second, "how long to retry while etcd does not answer")
	var tlsDir string
	tlsFlag(fs, &tlsDir)
	if err := parse(fs, args, "etcd", "regions", "agents"); err != nil {
		return err
	}
	endpoints, err := parseAddrs("etcd", etcd)
	if err != nil {
		return err
	}
	regs, err := Placement(regionsFlag, agents, placement)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_, client, err := tlsConfigs(tlsDir, tlsconf.Harness, bugs.Set{})
	if err != nil {
		return err
	}
	if err := registry.Register(ctx, endpoints, client, regs); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "registered %d agents in regions %s\n", len(regs), regionsFlag)
	return nil
}

func runFailback(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("failback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var etcd, region string
	var maxAgents int
	fs.StringVar(&etcd, "etcd", "", "etcd client endpoints host:port,host:port,...")
	fs.StringVar(&region, "region", "", "home region to hand agents back to (its host must be up)")
	fs.IntVar(&maxAgents, "max-agents", 0, "most agents the region's host may serve (0 = unlimited)")
	var tlsDir string
	tlsFlag(fs, &tlsDir)
	if err := parse(fs, args, "etcd", "region"); err != nil {
		return err
	}
	endpoints, err := parseAddrs("etcd", etcd)
	if err != nil {
		return err
	}
	if maxAgents < 0 {
		return usagef("--max-agents %d: want 0 (unlimited) or more", maxAgents)
	}
	_, client, err := tlsConfigs(tlsDir, tlsconf.Harness, bugs.Set{})
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, TLS: client})
	if err != nil {
		return fmt.Errorf("etcd %v: %w", endpoints, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := controller.Failback(ctx, cli, region, maxAgents)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "handed %d agents back to region %s\n", n, region)
	return nil
}

// Placement turns the register flags into registrations.
func Placement(regionsFlag string, agents int, placement string) ([]api.Registration, error) {
	regions, err := parseRegions(regionsFlag)
	if err != nil {
		return nil, err
	}
	if agents < 1 {
		return nil, usagef("--agents %d: want at least 1", agents)
	}
	counts, err := parsePlacement(placement, regions)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total > agents {
		return nil, usagef("--placement %q homes %d agents but --agents is %d: lower the counts or raise --agents", placement, total, agents)
	}
	return api.Placement(regions, agents, counts), nil
}

func parseRegions(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, usagef("--regions is empty: give the regions in order, e.g. a,b,c")
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			return nil, usagef("--regions %q has an empty name", s)
		case strings.ContainsAny(r, "/= "):
			return nil, usagef("--regions: region %q may not contain '/', '=' or spaces", r)
		case seen[r]:
			return nil, usagef("--regions: region %q given twice", r)
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, nil
}

func parsePlacement(s string, regions []string) (map[string]int, error) {
	counts := map[string]int{}
	if strings.TrimSpace(s) == "" {
		return counts, nil
	}
	for _, part := range strings.Split(s, ",") {
		region, n, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, usagef("--placement: %q is not region=count (e.g. a=8)", part)
		}
		if !contains(regions, region) {
			return nil, usagef("--placement: region %q is not in --regions %v", region, regions)
		}
		if _, dup := counts[region]; dup {
			return nil, usagef("--placement: region %q given twice", region)
		}
		c, err := strconv.Atoi(n)
		if err != nil || c < 0 {
			return nil, usagef("--placement: count %q for region %s is not a whole number >= 0", n, region)
		}
		counts[region] = c
	}
	return counts, nil
}

func parseAddrs(flagName, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, usagef("--%s is empty: give host:port[,host:port...]", flagName)
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if err := checkAddr(flagName, a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func parseRegionAddrs(flagName, s string) ([]checkpoint.Endpoint, error) {
	if strings.TrimSpace(s) == "" {
		return nil, usagef("--%s is empty: give region=host:port,... for every region", flagName)
	}
	var out []checkpoint.Endpoint
	for _, part := range strings.Split(s, ",") {
		region, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || region == "" {
			return nil, usagef("--%s: %q is not region=host:port (e.g. a=127.0.0.1:9001)", flagName, part)
		}
		if hasRegion(out, region) {
			return nil, usagef("--%s: region %q given twice", flagName, region)
		}
		if err := checkAddr(flagName, addr); err != nil {
			return nil, err
		}
		out = append(out, checkpoint.Endpoint{Region: region, Addr: addr})
	}
	return out, nil
}

func checkAddr(flagName, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return usagef("--%s: %q is not host:port (e.g. 127.0.0.1:2379; no scheme)", flagName, addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return usagef("--%s: %q has a bad port", flagName, addr)
	}
	return nil
}

func hasRegion(eps []checkpoint.Endpoint, region string) bool {
	for _, e := range eps {
		if e.Region == region {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// applyHost sets the host's and its controller's settings from the stack's configuration
// (checked by config.Read); a zero setting is the host's or the controller's default.
func applyHost(c *host.Config, st config.Stack) {
	c.LeaseTTL, c.CheckpointEvery, c.Durability = st.LeaseTTL, st.CheckpointEvery, st.Durability
	c.CheckpointInterval, c.ChainLength = st.CheckpointInterval, st.ChainLength // zero: host.New's defaults
	c.Bugs, c.MaxAgents = st.Unsafe.Set, st.Controller.MaxAgentsPerHost
	if st.Controller.Disabled {
		return
	}
	c.Controller = &controller.Config{
		ProbeEvery: st.Controller.ProbeEvery, FailureThreshold: st.Controller.FailureThreshold,
		FailbackMode: st.Failback.Mode, FailbackHold: st.Failback.Hold,
		MaxAgentsPerHost: st.Controller.MaxAgentsPerHost, Bugs: st.Unsafe.Set,
	}
}
