// Package docker is the docker provider: the same stack in containers, built on
// testcontainers-go. Per region an etcd, a MinIO and an agent host container share the
// network namespace of a holding container (`refstack hold`) that has the region's address
// on a Docker network of the run's own, like the containers of a Kubernetes pod; the router
// runs in a container on the host's network, where the harness reaches it on loopback.
//
// The network faults are the netns provider's, exact and pairwise: each holding
// container's namespace is attached under /run/netns (`ip netns attach`), and partitions,
// degradations and reply loss are nftables rules inside the receiving region's namespace.
// A Docker network per region pair (disconnect/reconnect) was the other choice; it cannot
// cut one direction only, and an etcd member would need a peer URL per network. Process
// faults act on containers: kill with a signal, pause and unpause for SIGSTOP and SIGCONT,
// a region restored by new containers over the same data (the run directory, bind-mounted
// at its own path).
//
// Images are built locally, with no pull, FROM scratch with the static refstack and MinIO
// binaries, tagged by the content's hash so a second run reuses them. Ryuk (testcontainers'
// reaper) cannot be pulled here: when its image is not on the machine it is turned off and
// this package removes what it made by label, on every exit path, and `harness down`
// removes what a killed harness left.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/netns"
)

// Labels on everything this provider creates.
const (
	LabelCluster = "geodrill.cluster" // the cluster's tag
	LabelPID     = "geodrill.pid"     // the harness process that made it
	LabelImage   = "geodrill.image"   // on images: what the image holds
)

// ryukImage is the reaper image testcontainers-go would start.
const ryukImage = "testcontainers/ryuk"

var setupOnce sync.Once

// setup quiets testcontainers-go's own logging and turns its reaper off when the reaper's
// image is not on the machine (it cannot be pulled here); cleanup is then ours, by label.
// testcontainers-go reads its configuration once, at its first client: this runs before.
func setup(ctx context.Context, cli *client.Client) {
	setupOnce.Do(func() {
		tclog.SetDefault(tclog.NewNoopLogger())
		if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "" {
			return
		}
		list, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ryukImage+"*")})
		if err != nil || len(list.Items) == 0 {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
	})
}

// Available reports whether this process can run the provider, and if not why.
func Available(ctx context.Context) error {
	if err := netns.Available(); err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("docker provider needs `ip` (iproute2) to attach the regions' namespaces")
	}
	cli, err := dial(ctx)
	if err != nil {
		return err
	}
	return cli.Close()
}

// dial connects to the Docker daemon, with a message that says what to do when it is not
// there.
func dial(ctx context.Context) (*client.Client, error) {
	raw, err := client.New(client.FromEnv)
	if err == nil {
		_, err = raw.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		if raw != nil {
			raw.Close()
		}
		return nil, fmt.Errorf("docker provider: no Docker daemon answers (%w); install and start one with scripts/docker.sh up (Debian's docker.io, as root)", err)
	}
	setup(ctx, raw)
	raw.Close()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker provider: %w", err)
	}
	return dc.Client, nil
}

// New checks the spec and the machine; it creates nothing until Up. The cluster is the
// netns provider's, over this package's fabric.
func New(ctx context.Context, s clusters.Spec) (*netns.Cluster, error) {
	cli, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	bin, err := clusters.FindBinDir(s.BinDir)
	if err != nil {
		cli.Close()
		return nil, err
	}
	f := &fabric{cli: cli, bin: bin}
	c, err := netns.NewOn(s, f, "")
	if err != nil {
		cli.Close()
		return nil, err
	}
	f.tag = c.Tag()
	return c, nil
}
