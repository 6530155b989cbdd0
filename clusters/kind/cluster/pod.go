package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/local"
)

// poll is how often a pod's state is read.
const poll = 300 * time.Millisecond

// startTimeout bounds a pod's way from created to running.
const startTimeout = 90 * time.Second

// pod is one service's pod as the supervisor sees it (local.Proc): created bare (no
// controller restarts it: the supervisor does, as on every provider), its output copied
// to the service's log file, done once its container has ended or the pod is gone.
type pod struct {
	cs   kubernetes.Interface
	name string
	log  string
	// kill SIGKILLs the pod's container (Chaos Mesh's container-kill).
	kill func(ctx context.Context) error

	mu       sync.Mutex
	finished bool
	done     chan struct{}
	err      error
}

var _ local.Proc = (*pod)(nil)

// fatalWaiting are the reasons a container waits that never end by themselves.
var fatalWaiting = map[string]bool{
	"ErrImageNeverPull": true, "ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// StartPod creates p in the stack's namespace and follows it until it has ended.
//
// kill is how Signal(SIGKILL) ends it: the Chaos Mesh container-kill of the pod
// (Cluster.start applies it); nil: SIGKILL is refused.
func StartPod(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, logPath string, kill func(context.Context) error) (local.Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(logf, "--- geodrill %s: create pod %s/%s\n", time.Now().Format(time.RFC3339Nano), kind.Namespace, p.Name)
	if _, err := cs.CoreV1().Pods(kind.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		logf.Close()
		return nil, fmt.Errorf("create pod %s: %w", p.Name, err)
	}
	pd := &pod{cs: cs, name: p.Name, log: logPath, kill: kill, done: make(chan struct{})}
	go pd.follow(logf)
	return pd, nil
}

func (p *pod) PID() int              { return 0 } // not a process of this machine's namespace
func (p *pod) Done() <-chan struct{} { return p.done }

func (p *pod) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *pod) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.finished
}

// follow copies the container's output once it runs and watches for its end: the
// container terminated, the pod gone, or a start that can never succeed (the pod is then
// deleted).
func (p *pod) follow(logf *os.File) {
	defer logf.Close()
	began := time.Now()
	streaming := false
	copied := make(chan struct{})
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cur, err := p.cs.CoreV1().Pods(kind.Namespace).Get(ctx, p.name, metav1.GetOptions{})
		cancel()
		var end error
		ended := false
		switch {
		case apierrors.IsNotFound(err):
			ended, end = true, errors.New("pod deleted")
		case err != nil:
			// The API server is unreachable for a moment; try again.
		default:
			st := containerState(cur)
			switch {
			case st.Terminated != nil:
				ended = true
				if st.Terminated.ExitCode != 0 {
					end = fmt.Errorf("exit status %d (%s)", st.Terminated.ExitCode, st.Terminated.Reason)
				}
			case cur.Status.Phase == corev1.PodFailed || cur.Status.Phase == corev1.PodSucceeded:
				ended = true
				if cur.Status.Phase == corev1.PodFailed {
					end = fmt.Errorf("pod failed: %s %s", cur.Status.Reason, cur.Status.Message)
				}
			case st.Waiting != nil && fatalWaiting[st.Waiting.Reason]:
				ended, end = true, fmt.Errorf("container cannot start: %s: %s", st.Waiting.Reason, st.Waiting.Message)
				p.delete(0)
			case st.Running == nil && time.Since(began) > startTimeout:
				ended, end = true, fmt.Errorf("pod not running after %v (phase %s)", startTimeout, cur.Status.Phase)
				p.delete(0)
			}
			if !streaming && (st.Running != nil || st.Terminated != nil) {
				streaming = true
				go p.copyLogs(logf, copied)
			}
		}
		if ended {
			if streaming {
				select { // the output's last lines, unless the stream hangs
				case <-copied:
				case <-time.After(5 * time.Second):
				}
			}
			fmt.Fprintf(logf, "--- geodrill %s: pod %s ended: %v\n", time.Now().Format(time.RFC3339Nano), p.name, errText(end))
			p.mu.Lock()
			p.finished, p.err = true, end
			p.mu.Unlock()
			close(p.done)
			return
		}
		time.Sleep(poll)
	}
}

func errText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// containerState is the state of the pod's one container (zero before it has one).
func containerState(p *corev1.Pod) corev1.ContainerState {
	if len(p.Status.ContainerStatuses) == 0 {
		return corev1.ContainerState{}
	}
	return p.Status.ContainerStatuses[0].State
}

func (p *pod) copyLogs(w io.Writer, copied chan<- struct{}) {
	defer close(copied)
	rc, err := p.cs.CoreV1().Pods(kind.Namespace).GetLogs(p.name, &corev1.PodLogOptions{Follow: true}).Stream(context.Background())
	if err != nil {
		fmt.Fprintf(w, "--- geodrill: cannot follow the pod's output: %v\n", err)
		return
	}
	defer rc.Close()
	_, _ = io.Copy(w, rc)
}

// delete asks the API server to delete the pod with the given grace (seconds).
func (p *pod) delete(grace int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.cs.CoreV1().Pods(kind.Namespace).Delete(ctx, p.name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Signal: SIGKILL kills the pod's container through Chaos Mesh (container-kill: the
// process dies at once, and the pod reports its container terminated, which is when Done
// closes); SIGTERM and SIGINT delete the pod with a grace (the API object goes once the
// kubelet has seen the container end). A pod cannot be frozen or sent anything else.
func (p *pod) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	switch sig {
	case syscall.SIGKILL:
		if p.kill == nil {
			return fmt.Errorf("pod %s: no way to kill it", p.name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return p.kill(ctx)
	case syscall.SIGTERM, syscall.SIGINT:
		return p.delete(5)
	}
	return fmt.Errorf("pod %s: kind cannot send %v to a pod (only SIGKILL and SIGTERM, by deleting it): %s",
		p.name, sig, pauseWhy)
}

// Stop deletes the pod with grace and waits for its end (the object stays until the
// kubelet has seen the container end); past the grace (or at once when ctx is cancelled)
// it deletes it again with none.
func (p *pod) Stop(ctx context.Context, grace time.Duration) (bool, error) {
	if !p.Running() {
		return false, nil
	}
	secs := int64((grace + time.Second - 1) / time.Second)
	if err := p.delete(secs); err != nil {
		return false, fmt.Errorf("delete pod %s: %w", p.name, err)
	}
	t := time.NewTimer(grace + 5*time.Second) // the kubelet notices the deletion within seconds
	defer t.Stop()
	select {
	case <-p.done:
		return false, nil
	case <-t.C:
	case <-ctx.Done():
	}
	if err := p.delete(0); err != nil {
		return true, fmt.Errorf("delete pod %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return true, nil
	case <-time.After(30 * time.Second):
		return true, fmt.Errorf("pod %s still there 30s after its deletion", p.name)
	}
}
