package cluster

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
)

// Cleanup deletes, in every geodrill kind cluster of this machine, the stack's pods whose
// harness is gone and, when none is left running, every Chaos Mesh resource of geodrill's.
// The clusters themselves stay (make kind-down deletes them).
func Cleanup(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "kind", "get", "clusters").Output()
	if err != nil {
		return nil, fmt.Errorf("kind get clusters: %w", err)
	}
	var removed []string
	var errs []error
	for _, name := range strings.Fields(string(out)) {
		if !strings.HasPrefix(name, "geodrill-") {
			continue
		}
		kc, cc, err := clientsOf(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		pods, err := kc.CoreV1().Pods(kind.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelPID})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		live := false
		for _, p := range pods.Items {
			pid, _ := strconv.Atoi(p.Labels[LabelPID])
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				live = true
				continue
			}
			if err := deletePods(ctx, kc, LabelRun+"="+p.Labels[LabelRun]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				continue
			}
			removed = append(removed, name+"/"+p.Name)
		}
		if live {
			continue // a running harness's faults are its own
		}
		region := strings.TrimPrefix(name, "geodrill-")
		a := &chaosmesh.Applier{Clients: map[string]crclient.Client{region: cc}}
		if err := a.DeleteAll(ctx, ""); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// clientsOf opens a kind cluster through kind's kubeconfig for it.
func clientsOf(ctx context.Context, name string) (kubernetes.Interface, crclient.Client, error) {
	cfg, err := exec.CommandContext(ctx, "kind", "get", "kubeconfig", "--name", name).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("kind get kubeconfig: %w", err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	cc, err := chaosmesh.NewClient(rc)
	if err != nil {
		return nil, nil, err
	}
	return kc, cc, nil
}
