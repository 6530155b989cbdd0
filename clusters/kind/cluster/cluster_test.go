package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/kind"
	kindcluster "github.com/geodrill/geodrill/clusters/kind/cluster"
	"github.com/geodrill/geodrill/clusters/kind/internal/kindtest"
	"github.com/geodrill/geodrill/faults"
)

// The pods decode strictly, run the image's copy of the service's binary on the node's
// network, and mount the run directory at its own path.
func TestPodsAsTheSupervisorStartsThem(t *testing.T) {
	for _, p := range kindtest.Pods() {
		kindtest.RoundTrip(t, p)
		c := p.Spec.Containers[0]
		if !p.Spec.HostNetwork || p.Spec.RestartPolicy != corev1.RestartPolicyNever || c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("%s: hostNetwork %v, restart %s, pull %s", p.Name, p.Spec.HostNetwork, p.Spec.RestartPolicy, c.ImagePullPolicy)
		}
		if !strings.HasPrefix(c.Command[0], "/geodrill/") || filepath.Base(c.Command[0]) == "" {
			t.Errorf("%s: command %v", p.Name, c.Command)
		}
		if v := p.Spec.Volumes[0].HostPath; v == nil || v.Path != kindtest.RunDir || c.VolumeMounts[0].MountPath != kindtest.RunDir {
			t.Errorf("%s: run directory not mounted at its own path: %+v %+v", p.Name, v, c.VolumeMounts)
		}
		if p.Labels[kind.LabelRegion] != "a" || p.Labels[kind.LabelService] != c.Name || p.Labels[kindcluster.LabelRun] == "" {
			t.Errorf("%s: labels %v (Chaos Mesh selects by region and service)", p.Name, p.Labels)
		}
	}
}

// A pod's life through a real API server: created; SIGKILL goes to the kill it was given
// (Chaos Mesh's container-kill, whose resource the dry-run test has the API server accept);
// SIGTERM deletes it, and with it gone the pod is done; what kind cannot send is refused
// with the reason; Stop deletes within the grace. With no kubelet here the pods never run:
// deletion and the kill's hand-off are what can be seen.
func TestPodLifeAgainstTheAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := kindtest.StartAPIServer(t, ctx)
	kc, err := kubernetes.NewForConfig(srv.Rest)
	if err != nil {
		t.Fatal(err)
	}
	kindtest.Namespace(t, ctx, kc)
	log := filepath.Join(t.TempDir(), "a-host.log")
	kills := 0
	p, err := kindcluster.StartPod(ctx, kc, kindtest.Pods()[2], log, func(context.Context) error { kills++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !p.Running() || p.PID() != 0 {
		t.Fatalf("a created pod: running %v pid %d", p.Running(), p.PID())
	}
	if err := p.Signal(syscall.SIGSTOP); err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("SIGSTOP: %v, want refused with the reason", err)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil || kills != 1 {
		t.Fatalf("SIGKILL: %v, %d kills", err, kills)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the pod was not seen to end 30s after SIGTERM")
	}
	if p.Running() || p.Err() == nil || !strings.Contains(p.Err().Error(), "deleted") {
		t.Errorf("after SIGTERM: running %v, err %v", p.Running(), p.Err())
	}
	if _, err := kc.CoreV1().Pods(kind.Namespace).Get(ctx, kindtest.Pods()[2].Name, metav1.GetOptions{}); err == nil {
		t.Error("the pod is still there")
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "create pod") || !strings.Contains(string(b), "ended: pod deleted") {
		t.Errorf("log:\n%s", b)
	}

	// Stop of a pod that never runs deletes it within the grace.
	q, err := kindcluster.StartPod(ctx, kc, kindtest.Pods()[0], log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Signal(syscall.SIGKILL); err == nil {
		t.Error("SIGKILL without a kill: accepted")
	}
	if killed, err := q.Stop(ctx, 2*time.Second); err != nil || q.Running() {
		t.Errorf("Stop: killed %v, err %v, running %v", killed, err, q.Running())
	}
}

// Fault kinds kind cannot produce are refused before anything starts, with the reason,
// even when the provider has the capability they ask for (pods can be killed, not frozen).
func TestPlanRefusesWhatKindCannotDo(t *testing.T) {
	var c *kindcluster.Cluster
	_, err := faults.Plan([]faults.Spec{{Kind: "pause", Region: "a", Duration: time.Second, Params: &faults.ServiceParams{Service: "host"}}}, c, "kind")
	if err == nil || !strings.Contains(err.Error(), "unavailable on provider \"kind\"") || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("pause on kind: %v", err)
	}
	if _, err := faults.Plan([]faults.Spec{{Kind: "process-crash", Region: "a", Params: &faults.ServiceParams{Service: "host"}}}, c, "kind"); err != nil {
		t.Errorf("process-crash on kind: %v", err)
	}
}

// New refuses a kind binary other than the pinned version, and a run directory the nodes
// do not mount.
func TestNewChecksKindAndTheRunDirectory(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"kubectl", "docker"} {
		os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	}
	fake := func(version string) {
		os.WriteFile(filepath.Join(bin, "kind"), []byte("#!/bin/sh\necho 'kind "+version+" go1.24.6 linux/amd64'\n"), 0o755)
	}
	t.Setenv("PATH", bin)
	spec := clusters.Spec{Regions: []string{"a", "b", "c"}, Agents: 3, RunDir: "/work/runs/x"}
	fake("v0.29.0")
	if _, err := kindcluster.New(spec); err == nil || !strings.Contains(err.Error(), "want kind "+kind.KindVersion) {
		t.Errorf("kind v0.29.0: %v", err)
	}
	fake(kind.KindVersion)
	if _, err := kindcluster.New(spec); err == nil || !strings.Contains(err.Error(), "--out "+kind.MountRoot) {
		t.Errorf("a run directory outside %s: %v", kind.MountRoot, err)
	}
}
