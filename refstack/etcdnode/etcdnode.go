// Package etcdnode runs one embedded etcd member of the reference stack: one per region,
// peers on loopback, with the raft timing of the stack's configuration (every member the
// same, so failover timings are comparable between drills).
package etcdnode

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/rafthttp"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/tlsconf"
)

// Config of one member. Addresses are host:port on loopback.
type Config struct {
	Name           string // member name, the region, e.g. "a"
	DataDir        string
	ListenClient   string // host:port clients dial; also the advertised client URL
	ListenPeer     string // host:port peers dial; also the advertised peer URL
	InitialCluster string // "a=http://127.0.0.1:Q1,b=http://127.0.0.1:Q2,..."
	ClusterState   string // "new" or "existing"
	LogLevel       string // zap level; "" means "warn"
	// TLSDir, when set, holds the run's certificates (refstack/tlsconf): clients and peers
	// then speak mutual TLS, presenting and requiring certificates of the run's CA; the
	// member presents its region's (Name's) certificate.
	TLSDir string
	// HeartbeatInterval and ElectionTimeout are the raft timing (0: api.DefaultEtcdHeartbeat,
	// api.DefaultEtcdElection). The election timeout bounds how fast etcd itself fails over.
	HeartbeatInterval, ElectionTimeout time.Duration
	// Bugs are the stack's unsafe switches; the member reads bugs.EtcdPeerNoReadTimeout.
	Bugs bugs.Set
}

// Validate reports the first bad field, saying how to fix it.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("name is empty: give the member name (the region, e.g. a)")
	case c.DataDir == "":
		return errors.New("data dir is empty: give a directory for the member's data")
	case c.ClusterState != "new" && c.ClusterState != "existing":
		return fmt.Errorf("initial cluster state %q: want new or existing", c.ClusterState)
	}
	if _, err := hostURL(c.ListenClient); err != nil {
		return fmt.Errorf("listen client: %w", err)
	}
	if _, err := hostURL(c.ListenPeer); err != nil {
		return fmt.Errorf("listen peer: %w", err)
	}
	if !strings.Contains(c.InitialCluster, c.Name+"=") {
		return fmt.Errorf("initial cluster %q does not name member %q: add %s=http://HOST:PEERPORT to it",
			c.InitialCluster, c.Name, c.Name)
	}
	return nil
}

// ClientURL is the URL clients use, e.g. for GET /health.
func (c Config) ClientURL() string { return c.scheme() + "://" + c.ListenClient }

func (c Config) scheme() string {
	if c.TLSDir != "" {
		return "https"
	}
	return "http"
}

func hostURL(hostport string) (*url.URL, error) {
	if hostport == "" || strings.Contains(hostport, "://") || !strings.Contains(hostport, ":") {
		return nil, fmt.Errorf("%q: want host:port, e.g. 127.0.0.1:2379", hostport)
	}
	return url.Parse("http://" + hostport)
}

func (c Config) embedConfig() (*embed.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client, _ := hostURL(c.ListenClient)
	peer, _ := hostURL(c.ListenPeer)
	client.Scheme, peer.Scheme = c.scheme(), c.scheme()
	cfg := embed.NewConfig()
	cfg.Name = c.Name
	cfg.Dir = c.DataDir
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = c.InitialCluster
	cfg.InitialClusterToken = "geodrill"
	cfg.ClusterState = c.ClusterState
	heartbeat, election := c.HeartbeatInterval, c.ElectionTimeout
	if heartbeat == 0 {
		heartbeat = api.DefaultEtcdHeartbeat
	}
	if election == 0 {
		election = api.DefaultEtcdElection
	}
	if c.TLSDir != "" {
		ca, cert, key := tlsconf.Files(c.TLSDir, c.Name)
		info := transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: ca, ClientCertAuth: true}
		cfg.ClientTLSInfo, cfg.PeerTLSInfo = info, info
	}
	cfg.TickMs = uint(heartbeat / time.Millisecond)
	cfg.ElectionMs = uint(election / time.Millisecond)
	// Old revisions are only needed by watchers catching up; the op log is deleted behind
	// checkpoints, so compaction keeps long drills from growing the database.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "5m"
	cfg.Logger = "zap"
	cfg.LogLevel = c.LogLevel
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	cfg.LogOutputs = []string{"stderr"}
	return cfg, nil
}

// Node is a started member.
type Node struct {
	etcd *embed.Etcd
	cfg  Config
}

// Start starts the member and returns without waiting for it to join a quorum.
func Start(c Config) (*Node, error) {
	cfg, err := c.embedConfig()
	if err != nil {
		return nil, err
	}
	if c.Bugs.On(bugs.EtcdPeerNoReadTimeout) {
		// The peer streams' read timeout is a package setting of rafthttp, read when the
		// transport and listeners are made; one member runs per process.
		rafthttp.ConnReadTimeout = time.Hour
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: start: %w", c.Name, err)
	}
	return &Node{etcd: e, cfg: c}, nil
}

// Ready is closed once the member has joined the cluster and serves clients; that needs
// a quorum of the initial cluster.
func (n *Node) Ready() <-chan struct{} { return n.etcd.Server.ReadyNotify() }

// Err delivers a fatal server error.
func (n *Node) Err() <-chan error { return n.etcd.Err() }

// ClientURL is where clients reach this member.
func (n *Node) ClientURL() string { return n.cfg.ClientURL() }

// Close stops the member gracefully, as the etcd binary does on SIGTERM: a leader first
// hands leadership to a peer, and open client streams (watches) get up to etcd's request
// timeout (7s with these timings) to finish. Stop clients first for a fast close.
func (n *Node) Close() { n.etcd.Close() }

// Run starts the member and serves until ctx is done, then closes it cleanly. It returns
// nil on a clean shutdown and the server's error if it fails.
func Run(ctx context.Context, c Config) error {
	n, err := Start(c)
	if err != nil {
		return err
	}
	defer n.Close()
	select {
	case <-ctx.Done():
		return nil
	case err := <-n.Err():
		return fmt.Errorf("etcd %s: %w", c.Name, err)
	}
}
