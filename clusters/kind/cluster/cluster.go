// Package cluster is the kind provider: the reference stack on one kind cluster per
// region, its faults as Chaos Mesh resources.
//
// The clusters are created through sigs.k8s.io/e2e-framework's kind support (the kind
// binary on PATH, at the pinned version: never installed at run time) from
// kind.ClusterConfig, the same configuration as fixtures/kind, unless they exist already
// (the nightly workflow creates them and installs Chaos Mesh first); a run leaves them up
// for the next. The stack is the local provider's supervisor with every region's service a
// bare pod on its region's node (hostNetwork, the image the docker provider builds, loaded
// into each cluster), the run directory mounted at its own path (kind.MountRoot); the
// router runs on this machine, beside the harness. So starting, waiting for readiness,
// registering the agents, killing and restoring a region are the same code as on every
// provider, and the pods are what the supervisor starts and stops.
//
// Faults between regions are Chaos Mesh resources (package chaosmesh) the harness applies
// and deletes at its own time; injection and recovery are confirmed by Chaos Mesh's
// AllInjected and AllRecovered conditions. What kind cannot do is refused by Unsupported,
// from chaosmesh.Realisations.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	e2ekind "sigs.k8s.io/e2e-framework/support/kind"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/docker"
	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// Labels on every pod of a run, beside kind's own.
const (
	LabelRun = "geodrill.io/run" // the cluster's tag
	LabelPID = "geodrill.io/pid" // the harness process that made it
)

// KindDir is the run directory's folder for the clusters' configurations and kubeconfigs.
const KindDir = "kind"

// pauseWhy is why a pod cannot be frozen.
var pauseWhy = chaosmesh.Realisations["pause"].Why

// Cluster is the kind provider. It composes the local provider's supervisor (procs), whose
// services it starts as pods, with the clusters and Chaos Mesh.
type Cluster struct {
	procs    *local.Cluster
	spec     clusters.Spec
	kindBin  string
	tag      string
	progress func(string)

	mu      sync.Mutex
	nodes   kind.Nodes
	cs      map[string]kubernetes.Interface
	applier *chaosmesh.Applier
	image   string
	seq     int
	applied map[string][]chaosmesh.Chaos // fault id → its resources
	clocks  map[string]time.Duration     // region → its TimeChaos's offset
}

// New checks the machine (kind, kubectl and Docker on PATH, kind at the pinned version)
// and the run directory (under kind.MountRoot); it creates nothing until Up.
func New(s clusters.Spec) (*Cluster, error) {
	if err := kind.Available(); err != nil {
		return nil, err
	}
	kindBin, _ := exec.LookPath("kind")
	if err := checkVersion(kindBin); err != nil {
		return nil, err
	}
	for _, r := range s.Regions {
		if _, err := kind.ClusterConfig(r); err != nil {
			return nil, err
		}
	}
	if s.RunDir == "" {
		if err := os.MkdirAll(kind.MountRoot, 0o755); err != nil {
			return nil, fmt.Errorf("kind provider: %w", err)
		}
		d, err := os.MkdirTemp(kind.MountRoot, "run-")
		if err != nil {
			return nil, fmt.Errorf("kind provider: %w", err)
		}
		s.RunDir = d
	}
	abs, err := filepath.Abs(s.RunDir)
	if err != nil {
		return nil, fmt.Errorf("kind provider: %w", err)
	}
	if err := kind.Under(abs); err != nil {
		return nil, err
	}
	s.RunDir = abs
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	c := &Cluster{spec: s, kindBin: kindBin, tag: hex.EncodeToString(b), progress: s.Progress,
		applied: map[string][]chaosmesh.Chaos{}, clocks: map[string]time.Duration{}}
	if c.progress == nil {
		c.progress = func(string) {}
	}
	lc, err := local.NewIn(s, local.Network{IP: c.ip, Start: c.start, TLSDefault: true})
	if err != nil {
		return nil, err
	}
	c.procs = lc
	return c, nil
}

// checkVersion refuses a kind binary other than the pinned one.
func checkVersion(kindBin string) error {
	out, err := exec.Command(kindBin, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("kind provider: %s version: %w: %s", kindBin, err, strings.TrimSpace(string(out)))
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 || fields[0] != "kind" || fields[1] != kind.KindVersion {
		return fmt.Errorf("kind provider: %s is %q, want kind %s (see %s)", kindBin, strings.TrimSpace(string(out)),
			kind.KindVersion, kind.ReadmeSection)
	}
	return nil
}

// ip is where region's services listen: its node's address; the router (region "") on
// this machine's loopback.
func (c *Cluster) ip(region string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ip, ok := c.nodes[region]; ok {
		return ip
	}
	return "127.0.0.1"
}

// Up makes sure every region's cluster is there (creating what is missing), loads the
// stack's image, and starts the stack; on failure Down (which callers run) removes the
// pods.
func (c *Cluster) Up(ctx context.Context) error {
	if err := c.clusters(ctx); err != nil {
		return fmt.Errorf("kind cluster up: %w", err)
	}
	return c.procs.Up(ctx)
}

// clusters brings up (or finds) each region's cluster and learns its node's address.
func (c *Cluster) clusters(ctx context.Context) error {
	bin, err := clusters.FindBinDir(c.spec.BinDir)
	if err != nil {
		return err
	}
	c.progress("building the stack's image")
	image, err := docker.BuildImage(ctx, bin)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.spec.RunDir, KindDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	nodes, cs, chaosClients := kind.Nodes{}, map[string]kubernetes.Interface{}, map[string]crclient.Client{}
	for _, r := range c.spec.Regions {
		cfg, err := kind.ClusterConfig(r)
		if err != nil {
			return err
		}
		b, err := yaml.Marshal(cfg)
		if err != nil {
			return err
		}
		cfgPath := filepath.Join(dir, "region-"+r+".yaml")
		if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
			return err
		}
		c.progress(fmt.Sprintf("kind cluster %s: create or reuse (kind %s)", cfg.Name, kind.KindVersion))
		k := e2ekind.NewCluster(cfg.Name)
		k.WithPath(c.kindBin) // found on PATH: e2e-framework installs nothing
		tmp, err := k.CreateWithConfig(ctx, cfgPath)
		if err != nil {
			return fmt.Errorf("region %s: %w", r, err)
		}
		kubeconfig := filepath.Join(dir, "region-"+r+".kubeconfig")
		err = moveFile(tmp, kubeconfig)
		if err != nil {
			return fmt.Errorf("region %s: kubeconfig: %w", r, err)
		}
		if err := c.mounted(ctx, cfg.Name+"-control-plane"); err != nil {
			return fmt.Errorf("region %s: %w", r, err)
		}
		c.progress(fmt.Sprintf("kind cluster %s: load image %s", cfg.Name, image))
		if err := k.LoadImage(ctx, image); err != nil {
			return fmt.Errorf("region %s: %w", r, err)
		}
		rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return fmt.Errorf("region %s: %w", r, err)
		}
		ip, kc, cc, err := connect(ctx, rc)
		if err != nil {
			return fmt.Errorf("region %s: %w", r, err)
		}
		nodes[r], cs[r], chaosClients[r] = ip, kc, cc
	}
	c.mu.Lock()
	c.nodes, c.cs, c.image = nodes, cs, image
	c.applier = &chaosmesh.Applier{Clients: chaosClients}
	c.mu.Unlock()
	return nil
}

// connect opens a region's cluster: its node's address, the stack's namespace (created
// when missing), and clients.
func connect(ctx context.Context, rc *rest.Config) (string, kubernetes.Interface, crclient.Client, error) {
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return "", nil, nil, err
	}
	cc, err := chaosmesh.NewClient(rc)
	if err != nil {
		return "", nil, nil, err
	}
	ip, err := NodeAddress(ctx, kc)
	if err != nil {
		return "", nil, nil, err
	}
	if err := EnsureNamespace(ctx, kc); err != nil {
		return "", nil, nil, err
	}
	return ip, kc, cc, nil
}

// NodeAddress is the InternalIP of the cluster's one node.
func NodeAddress(ctx context.Context, kc kubernetes.Interface) (string, error) {
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	if len(nodes.Items) != 1 {
		return "", fmt.Errorf("%d nodes, want the one node of kind.ClusterConfig", len(nodes.Items))
	}
	for _, a := range nodes.Items[0].Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("node %s has no InternalIP", nodes.Items[0].Name)
}

// EnsureNamespace creates the stack's namespace unless it is there.
func EnsureNamespace(ctx context.Context, kc kubernetes.Interface) error {
	_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: kind.Namespace, Labels: map[string]string{kind.LabelPartOf: kind.PartOf}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", kind.Namespace, err)
	}
	return nil
}

// mounted checks that a node (a Docker container) mounts kind.MountRoot at its own path:
// a cluster created by hand without the fixture's extraMounts cannot see the run.
func (c *Cluster) mounted(ctx context.Context, node string) error {
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format",
		`{{range .Mounts}}{{.Source}}={{.Destination}} {{end}}`, node).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker inspect %s: %w: %s", node, err, strings.TrimSpace(string(out)))
	}
	if !strings.Contains(" "+string(out), " "+kind.MountRoot+"="+kind.MountRoot+" ") {
		return fmt.Errorf("node %s does not mount %s (its mounts: %s); delete the cluster (kind delete cluster --name %s) "+
			"and create it from fixtures/kind, or let the harness create it", node, kind.MountRoot,
			strings.TrimSpace(string(out)), strings.TrimSuffix(node, "-control-plane"))
	}
	return nil
}

// moveFile moves the kubeconfig e2e-framework wrote to a temporary file into the run.
func moveFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		return err
	}
	return os.Remove(from)
}

// start runs one service: a region's as a pod on its node, the router here.
func (c *Cluster) start(svc local.Service) (local.Proc, error) {
	if svc.Region == "" {
		return local.StartChild(svc)
	}
	c.mu.Lock()
	c.seq++
	seq, kc, image := c.seq, c.cs[svc.Region], c.image
	c.mu.Unlock()
	if kc == nil {
		return nil, fmt.Errorf("kind provider: region %s has no cluster", svc.Region)
	}
	p := PodFor(svc, image, c.tag, seq)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var proc local.Proc
	kill := func(ctx context.Context) error {
		ch := []chaosmesh.Chaos{chaosmesh.PodKill("kill", svc.Region, p.Name, svc.Name)}
		c.mu.Lock()
		applier := c.applier
		c.mu.Unlock()
		if err := applier.Apply(ctx, ch); err != nil {
			return fmt.Errorf("kill pod %s: %w (is Chaos Mesh %s installed? see %s)", p.Name, err, kind.ChaosMeshVersion, kind.ReadmeSection)
		}
		go func() { // the one-shot resource goes once the container is dead
			<-proc.Done()
			_ = applier.Delete(context.Background(), ch)
		}()
		return nil
	}
	proc, err := StartPod(ctx, kc, p, svc.Log, kill)
	return proc, err
}

// PodFor is the pod of one start of a service: on its region's node's network, the run
// directory mounted at its own path, the binary the image holds under its name here.
func PodFor(svc local.Service, image, tag string, seq int) *corev1.Pod {
	hostPath := corev1.HostPathDirectory
	grace := int64(5)
	env := []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}}
	for _, kv := range svc.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      strings.Join([]string{"geodrill", tag, svc.Region, svc.Name, strconv.Itoa(seq)}, "-"),
			Namespace: kind.Namespace,
			Labels: map[string]string{kind.LabelPartOf: kind.PartOf, kind.LabelRegion: svc.Region,
				kind.LabelService: svc.Name, LabelRun: tag, LabelPID: strconv.Itoa(os.Getpid())},
		},
		Spec: corev1.PodSpec{
			HostNetwork:                   true,
			DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
			RestartPolicy:                 corev1.RestartPolicyNever, // the supervisor restarts
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:            svc.Name,
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{docker.ImageBinDir + "/" + filepath.Base(svc.Path)},
				Args:            svc.Args,
				Env:             env,
				WorkingDir:      svc.Dir,
				VolumeMounts:    []corev1.VolumeMount{{Name: "run", MountPath: svc.Dir}},
			}},
			Volumes: []corev1.Volume{{Name: "run", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: svc.Dir, Type: &hostPath}}}},
		},
	}
}

// Down stops the stack (its pods are deleted by the supervisor, the router stopped), then
// deletes every Chaos Mesh resource still applied and whatever pod of this run is left.
// The clusters stay up for the next run (make kind-down deletes them).
func (c *Cluster) Down(ctx context.Context) error {
	err := c.procs.Down(ctx)
	c.mu.Lock()
	applier, cs := c.applier, c.cs
	var left []chaosmesh.Chaos
	for _, a := range c.applied {
		left = append(left, a...)
	}
	c.applied = map[string][]chaosmesh.Chaos{}
	c.clocks = map[string]time.Duration{}
	c.mu.Unlock()
	if applier != nil && len(left) > 0 {
		err = errors.Join(err, applier.Delete(ctx, left))
	}
	for r, kc := range cs {
		if derr := deletePods(ctx, kc, LabelRun+"="+c.tag); derr != nil {
			err = errors.Join(err, fmt.Errorf("region %s: %w", r, derr))
		}
	}
	return err
}

// deletePods deletes the stack's pods matching selector, at once.
func deletePods(ctx context.Context, kc kubernetes.Interface, selector string) error {
	zero := int64(0)
	err := kc.CoreV1().Pods(kind.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero},
		metav1.ListOptions{LabelSelector: selector})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Unsupported names the fault kinds kind cannot produce (chaosmesh.Realisations).
func (c *Cluster) Unsupported(k string) string {
	if r, ok := chaosmesh.Realisations[k]; ok && r.How == faults.Unavailable {
		return r.Why
	}
	return ""
}

// ServiceUnits is the process faults' note on what the services run as.
func (c *Cluster) ServiceUnits() string {
	return "kind: each service is a bare pod on its region's node; SIGKILL is Chaos Mesh's container-kill of it, " +
		"SIGTERM its deletion with a grace, and a restart is a new pod over the same data"
}

// The local supervisor's capabilities, forwarded.

func (c *Cluster) Endpoints() clusters.Endpoints { return c.procs.Endpoints() }
func (c *Cluster) RunDir() string                { return c.procs.RunDir() }

func (c *Cluster) Owners(ctx context.Context) (map[string]api.Owner, error) {
	return c.procs.Owners(ctx)
}

func (c *Cluster) ObjectStore(region string) (addr, user, password, bucket string, err error) {
	return c.procs.ObjectStore(region)
}

func (c *Cluster) KillRegion(ctx context.Context, region string) error {
	return c.procs.KillRegion(ctx, region)
}

func (c *Cluster) RestoreRegion(ctx context.Context, region string) error {
	return c.procs.RestoreRegion(ctx, region)
}

func (c *Cluster) Signal(region, service string, sig syscall.Signal) error {
	return c.procs.Signal(region, service, sig)
}

func (c *Cluster) ServiceHealthy(ctx context.Context, region, service string) error {
	return c.procs.ServiceHealthy(ctx, region, service)
}

// Certificates: files in the run directory, which the pods mount, as on every provider.

func (c *Cluster) CertRealisation() (faults.Realisation, string) { return c.procs.CertRealisation() }

func (c *Cluster) ExpireCert(ctx context.Context, region string) error {
	return c.procs.ExpireCert(ctx, region)
}

func (c *Cluster) RenewCert(ctx context.Context, region string) error {
	return c.procs.RenewCert(ctx, region)
}

func (c *Cluster) PresentCert(ctx context.Context, region string) map[string]error {
	return c.procs.PresentCert(ctx, region)
}

func (c *Cluster) CertAccepted(ctx context.Context, region string) error {
	return c.procs.CertAccepted(ctx, region)
}
