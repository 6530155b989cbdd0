package local

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/rundir"
)

// prepare creates the directories, picks the ports and describes every service.
func (c *Cluster) prepare() error {
	runDir := c.spec.RunDir
	if runDir == "" {
		d, err := os.MkdirTemp("", "geodrill-local-")
		if err != nil {
			return fmt.Errorf("run dir: %w", err)
		}
		runDir = d
	}
	runDir, err := filepath.Abs(runDir)
	if err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	logs := filepath.Join(runDir, rundir.LogsDir)
	dirs := []string{logs}
	for _, r := range c.spec.Regions {
		dirs = append(dirs, c.dataDir(runDir, r, api.ServiceEtcd), c.dataDir(runDir, r, api.ServiceMinIO))
	}
	for _, d := range dirs {
		// 0700: etcd warns about, and MinIO data should not have, wider permissions.
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Every host and router reads the stack's configuration from one file.
	stackFile := filepath.Join(runDir, rundir.StackFile)
	if err := c.spec.Stack.Write(stackFile); err != nil {
		return err
	}

	ports := newPortPicker()
	type regionPorts struct{ client, peer, minio, console, host int }
	rp := map[string]regionPorts{}
	for _, r := range c.spec.Regions {
		var p regionPorts
		for _, dst := range []*int{&p.client, &p.peer, &p.minio, &p.console, &p.host} {
			if *dst, err = ports.pick(); err != nil {
				return err
			}
		}
		rp[r] = p
	}
	routerPort, err := ports.pick()
	if err != nil {
		return err
	}
	var moreRouterPorts []int // the routers after the first
	for i := 1; i < c.spec.Stack.Routers(); i++ {
		p, err := ports.pick()
		if err != nil {
			return err
		}
		moreRouterPorts = append(moreRouterPorts, p)
	}

	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	// The router reaches each host through a proxy of its own (not inside per-region
	// networks, as in minioFor), so that faults can act on the router → host path alone.
	var hostVia []string
	if c.net.IP == nil {
		for _, r := range c.spec.Regions {
			port, err := ports.pick()
			if err != nil {
				return err
			}
			hostVia = append(hostVia, r+"="+c.hostVia(r, addr(port), addr(rp[r].host)))
		}
	}
	secret, err := clusters.NewSecret()
	if err != nil {
		return err
	}
	tlsFiles, err := c.setupTLS(runDir)
	if err != nil {
		return err
	}
	scheme := c.scheme() + "://"
	eps := clusters.Endpoints{
		TLS:           tlsFiles,
		Router:        scheme + addr(routerPort),
		Regions:       map[string]clusters.RegionEndpoints{},
		MinIOUser:     clusters.MinIOUser,
		MinIOPassword: secret,
		Bucket:        clusters.Bucket,
		Logs:          logs,
	}
	// Clients reach the router through a proxy; the harness's own reads go direct.
	via, err := c.routerVia(addr(routerPort))
	if err != nil {
		return err
	}
	if via != addr(routerPort) {
		eps.Router, eps.RouterDirect = scheme+via, eps.Router
	}
	eps.Routers = []string{eps.Router}
	for _, p := range moreRouterPorts {
		eps.Routers = append(eps.Routers, scheme+addr(p))
	}
	var peers, minios []string
	for _, r := range c.spec.Regions {
		p := rp[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		eps.Regions[r] = clusters.RegionEndpoints{Etcd: addr(p.client), MinIO: addr(p.minio), Host: scheme + addr(p.host)}
		eps.Etcd = append(eps.Etcd, addr(p.client))
		peers = append(peers, r+"="+scheme+addr(p.peer))
		minios = append(minios, r+"="+addr(p.minio))
	}

	marker := EnvMarker + "=" + runDir
	stackEnv := []string{marker, "GOTRACEBACK=all"}
	var svcs []*service
	for _, r := range c.spec.Regions {
		p, re := rp[r], eps.Regions[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		svcs = append(svcs, &service{
			region: r, name: api.ServiceEtcd, path: c.refstack, env: stackEnv,
			log: filepath.Join(logs, r+"-etcd.log"),
			args: func(restart bool) []string {
				// After a kill the member rejoins the cluster it already belongs to.
				state := "new"
				if restart {
					state = "existing"
				}
				return append([]string{"etcd", "--name", r, "--data-dir", c.dataDir(runDir, r, api.ServiceEtcd),
					"--listen-client", addr(p.client), "--listen-peer", addr(p.peer),
					"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", state, "--config", stackFile}, c.tlsArgs()...)
			},
			ready: func(ctx context.Context) error { return c.etcdHealthy(ctx, re.Etcd) },
		})
	}
	for _, r := range c.spec.Regions {
		p, re := rp[r], eps.Regions[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		svcs = append(svcs, &service{
			region: r, name: api.ServiceMinIO, path: c.minio,
			env: []string{marker, "MINIO_ROOT_USER=" + clusters.MinIOUser, "MINIO_ROOT_PASSWORD=" + secret,
				"MINIO_UPDATE=off", "MINIO_PROMETHEUS_AUTH_TYPE=public"}, // /minio/v2/metrics/* without a token
			log: filepath.Join(logs, r+"-minio.log"),
			args: func(bool) []string {
				args := []string{"server", "--address", addr(p.minio), "--console-address", addr(p.console), "--quiet"}
				if c.tlsOn() {
					args = append(args, "--certs-dir", c.minioCerts(r, runDir))
				}
				return append(args, c.dataDir(runDir, r, api.ServiceMinIO))
			},
			ready: func(ctx context.Context) error { return c.get200(ctx, scheme+re.MinIO+"/minio/health/live") },
		})
	}
	for _, r := range c.spec.Regions {
		p, re := rp[r], eps.Regions[r]
		addr := c.addrIn(r) // the region network's address (127.0.0.1 unless NewIn)
		minioArg, err := c.minioFor(r, minios)
		if err != nil {
			return err
		}
		etcdArg, err := c.etcdFor(r, re.Etcd)
		if err != nil {
			return err
		}
		args := []string{"host", "--region", r, "--listen", addr(p.host), "--etcd", etcdArg,
			"--minio", minioArg, "--minio-user", clusters.MinIOUser,
			"--bucket", clusters.Bucket, "--config", stackFile}
		args = append(args, c.tlsArgs()...)
		svcs = append(svcs, &service{
			region: r, name: api.ServiceHost, path: c.refstack,
			env:   append(slices.Clone(stackEnv), api.EnvMinIOPassword+"="+secret),
			log:   filepath.Join(logs, r+"-host.log"),
			args:  func(bool) []string { return args },
			ready: func(ctx context.Context) error { return c.get200(ctx, re.Host+"/healthz") },
		})
	}
	routerArgs := func(port int) []string {
		args := append([]string{"router", "--listen", addr(port), "--etcd", strings.Join(eps.Etcd, ","), "--config", stackFile}, c.tlsArgs()...)
		if len(hostVia) > 0 {
			args = append(args, "--host-via", strings.Join(hostVia, ","))
		}
		return args
	}
	// The first router is the one faults on "router" act on; the others share its name, so
	// they start and stop with it.
	svcs = append(svcs, &service{
		name: api.ServiceRouter, path: c.refstack, env: stackEnv,
		log:   filepath.Join(logs, "router.log"),
		args:  func(bool) []string { return routerArgs(routerPort) },
		ready: func(ctx context.Context) error { return c.get200(ctx, eps.StatusRouter()+"/healthz") },
	})
	for i, p := range moreRouterPorts {
		url := eps.Routers[i+1]
		svcs = append(svcs, &service{
			name: api.ServiceRouter, path: c.refstack, env: stackEnv,
			log:   filepath.Join(logs, fmt.Sprintf("router-%d.log", i+2)),
			args:  func(bool) []string { return routerArgs(p) },
			ready: func(ctx context.Context) error { return c.get200(ctx, url+"/healthz") },
		})
	}

	c.mu.Lock()
	c.runDir, c.services, c.eps = runDir, svcs, eps
	c.mu.Unlock()
	return nil
}
