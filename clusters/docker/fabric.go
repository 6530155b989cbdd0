package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/geodrill/geodrill/clusters/local"
)

// fabric is the docker provider's half of a netns cluster: the Docker network, a holding
// container per region with its namespace attached under /run/netns, and every service in
// a container of its own (netns.Fabric).
type fabric struct {
	cli *client.Client
	bin string
	tag string

	mu      sync.Mutex
	image   string
	network string            // the network's id, "" before Wire
	holds   map[string]string // region -> holding container id
	nsNames []string          // attached namespace names
	seq     int               // numbers service containers: a region restored starts new ones
}

// subnetBase: the regions' networks are 10.214.N.0/24 (the netns provider uses 10.213).
const subnetBase = "10.214"

func (f *fabric) labels() map[string]string {
	return map[string]string{LabelCluster: f.tag, LabelPID: strconv.Itoa(os.Getpid())}
}

// name is a container or network name of this cluster.
func (f *fabric) name(parts ...string) string {
	return strings.Join(append([]string{"geodrill", f.tag}, parts...), "-")
}

// Wire builds the image (or finds it), the network, and one holding container per region.
func (f *fabric) Wire(ctx context.Context, regions []string, ns func(string) string) (map[string]string, string, error) {
	img, err := ensureImage(ctx, f.cli, f.bin)
	if err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	f.image, f.holds = img, map[string]string{}
	f.mu.Unlock()

	var subnet netip.Prefix
	var netID string
	for n := int(f.tag[0])%200 + 1; ; n++ {
		if n > 250 {
			return nil, "", fmt.Errorf("docker provider: no free %s.N.0/24 subnet for the regions' network (run `harness down`)", subnetBase)
		}
		subnet = netip.MustParsePrefix(fmt.Sprintf("%s.%d.0/24", subnetBase, n))
		gw := netip.MustParseAddr(fmt.Sprintf("%s.%d.1", subnetBase, n))
		res, err := f.cli.NetworkCreate(ctx, f.name(), client.NetworkCreateOptions{
			Driver: "bridge", Labels: f.labels(),
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: gw}}},
		})
		if err == nil {
			netID = res.ID
			break
		}
		if !strings.Contains(err.Error(), "overlap") {
			return nil, "", fmt.Errorf("docker provider: create network %s: %w", f.name(), err)
		}
	}
	f.mu.Lock()
	f.network = netID
	f.mu.Unlock()

	ips := map[string]string{}
	base := subnet.Addr().As4()
	for i, r := range regions {
		ip := netip.AddrFrom4([4]byte{base[0], base[1], base[2], byte(10 + i)})
		id, pid, err := f.run(ctx, f.name(r), []string{imageBinDir + "/refstack"}, []string{"hold"}, nil, func(hc *container.HostConfig) {
			hc.NetworkMode = container.NetworkMode(f.name())
		}, func(es map[string]*network.EndpointSettings) {
			es[f.name()] = &network.EndpointSettings{NetworkID: netID, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}}
		}, f.name())
		if err != nil {
			return nil, "", fmt.Errorf("docker provider: region %s: %w", r, err)
		}
		f.mu.Lock()
		f.holds[r] = id
		f.mu.Unlock()
		name := ns(r)
		if out, err := exec.CommandContext(ctx, "ip", "netns", "attach", name, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("docker provider: ip netns attach %s %d: %w: %s", name, pid, err, strings.TrimSpace(string(out)))
		}
		f.mu.Lock()
		f.nsNames = append(f.nsNames, name)
		f.mu.Unlock()
		ips[r] = ip.String()
	}
	gw := subnet.Addr().As4()
	gw[3] = 1
	return ips, netip.AddrFrom4(gw).String(), nil
}

// run creates and starts a container of the stack's image through testcontainers-go and
// returns its id and host pid.
func (f *fabric) run(ctx context.Context, name string, entry, cmd, env []string, host func(*container.HostConfig),
	endpoints func(map[string]*network.EndpointSettings), networks ...string) (string, int, error) {
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	req := testcontainers.ContainerRequest{
		Image: f.image, Name: name, Entrypoint: entry, Cmd: cmd, Env: envMap, Labels: f.labels(), Networks: networks,
		HostConfigModifier: host, EndpointSettingsModifier: endpoints,
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
		return "", 0, err
	}
	id := ctr.GetContainerID()
	st, err := f.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return id, 0, err
	}
	if st.Container.State == nil || st.Container.State.Pid == 0 {
		return id, 0, fmt.Errorf("container %s is not running", name)
	}
	return id, st.Container.State.Pid, nil
}

// Start runs one service in a container: a region's in its holding container's namespace,
// the router on the host's network. The run directory is bind-mounted at its own path, so
// every path in the service's arguments means the same inside.
func (f *fabric) Start(svc local.Service) (local.Proc, error) {
	f.mu.Lock()
	f.seq++
	seq, hold := f.seq, f.holds[svc.Region]
	f.mu.Unlock()
	mode := container.NetworkMode("host")
	where := "router"
	if svc.Region != "" {
		if hold == "" {
			return nil, fmt.Errorf("docker provider: region %s has no holding container", svc.Region)
		}
		mode, where = container.NetworkMode("container:"+hold), svc.Region
	}
	bin := imageBinDir + "/" + filepath.Base(svc.Path)
	name := f.name(where, svc.Name, strconv.Itoa(seq))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	id, pid, err := f.run(ctx, name, []string{bin}, svc.Args, append([]string{"HOME=/tmp"}, svc.Env...), func(hc *container.HostConfig) {
		hc.NetworkMode = mode
		hc.Binds = append(hc.Binds, svc.Dir+":"+svc.Dir)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("start %s in a container: %w", name, err)
	}
	return follow(f.cli, id, name, pid, svc.Log)
}

// Unwire removes the holding containers, the namespace attachments and the network.
func (f *fabric) Unwire(ctx context.Context) error {
	f.mu.Lock()
	holds, names, netID := f.holds, f.nsNames, f.network
	f.holds, f.nsNames, f.network = nil, nil, ""
	f.mu.Unlock()
	var errs []error
	for _, n := range names {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "delete", n).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %w: %s", n, err, strings.TrimSpace(string(out))))
		}
	}
	for _, id := range holds {
		if _, err := f.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	// Whatever else carries the cluster's label (a service container a failed start left).
	errs = append(errs, removeLabelled(ctx, f.cli, f.tag))
	if netID != "" {
		if _, err := f.cli.NetworkRemove(ctx, netID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ServiceUnits is the note the process faults add to how they were done.
func (f *fabric) ServiceUnits() string {
	return "docker: each service is a container; signals by docker kill, SIGSTOP and SIGCONT by docker pause and unpause, a restart is a new container over the same data"
}
