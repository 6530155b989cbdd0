package chaosmesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	chaos "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geodrill/geodrill/clusters/kind"
)

// Applier puts a fault's Chaos Mesh resources into the regions' clusters and takes them
// out again. The harness keeps its own clock: Apply and Delete return when the API server
// has the request, and the fault's timeline says when that was (Chaos Mesh's conditions
// tick in seconds); WaitInjected and WaitRecovered then confirm from the conditions that
// Chaos Mesh acted.
type Applier struct {
	// Clients is each region's cluster.
	Clients map[string]client.Client
	// Poll is how often the conditions are read (default 200ms).
	Poll time.Duration
}

// scheme knows Chaos Mesh's types.
func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := chaos.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewClient is a client for one cluster that knows Chaos Mesh's types.
func NewClient(cfg *rest.Config) (client.Client, error) {
	s, err := scheme()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: s})
}

func (a *Applier) client(region string) (client.Client, error) {
	c, ok := a.Clients[region]
	if !ok {
		return nil, fmt.Errorf("no cluster for region %q", region)
	}
	return c, nil
}

// Apply creates every resource in its region's cluster. If one fails, the ones already
// created are deleted again: a fault is in place whole or not at all.
func (a *Applier) Apply(ctx context.Context, cs []Chaos) error {
	for i, c := range cs {
		cl, err := a.client(c.Region)
		if err == nil {
			err = cl.Create(ctx, c.Object.DeepCopyObject().(client.Object))
		}
		if err != nil {
			undo := a.Delete(context.WithoutCancel(ctx), cs[:i])
			return errors.Join(fmt.Errorf("create %s %s in region %s: %w", kindOf(c), c.Object.GetName(), c.Region, err), undo)
		}
	}
	return nil
}

// Delete deletes every resource; one already gone is fine.
func (a *Applier) Delete(ctx context.Context, cs []Chaos) error {
	var errs []error
	for _, c := range cs {
		cl, err := a.client(c.Region)
		if err == nil {
			err = cl.Delete(ctx, c.Object.DeepCopyObject().(client.Object))
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s in region %s: %w", kindOf(c), c.Object.GetName(), c.Region, err))
		}
	}
	return errors.Join(errs...)
}

// WaitInjected returns when every resource's AllInjected condition is True, or says which
// are not when ctx ends.
func (a *Applier) WaitInjected(ctx context.Context, cs []Chaos) error {
	return a.wait(ctx, cs, chaos.ConditionAllInjected, false)
}

// WaitRecovered returns when every resource's AllRecovered condition is True or the
// resource is gone.
func (a *Applier) WaitRecovered(ctx context.Context, cs []Chaos) error {
	return a.wait(ctx, cs, chaos.ConditionAllRecovered, true)
}

func (a *Applier) wait(ctx context.Context, cs []Chaos, cond chaos.ChaosConditionType, goneIsDone bool) error {
	poll := a.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	for {
		var pending []string
		for _, c := range cs {
			ok, err := a.condition(ctx, c, cond)
			switch {
			case apierrors.IsNotFound(err) && goneIsDone:
			case err != nil:
				pending = append(pending, fmt.Sprintf("%s/%s (%v)", c.Region, c.Object.GetName(), err))
			case !ok:
				pending = append(pending, c.Region+"/"+c.Object.GetName())
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not True for %s: %w (is Chaos Mesh running in those clusters?)",
				cond, strings.Join(pending, ", "), ctx.Err())
		case <-time.After(poll):
		}
	}
}

// condition reads one resource's condition.
func (a *Applier) condition(ctx context.Context, c Chaos, cond chaos.ChaosConditionType) (bool, error) {
	cl, err := a.client(c.Region)
	if err != nil {
		return false, err
	}
	obj := c.Object.DeepCopyObject().(client.Object)
	if err := cl.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return false, err
	}
	st, ok := obj.(interface{ GetStatus() *chaos.ChaosStatus })
	if !ok {
		return false, fmt.Errorf("%T has no Chaos Mesh status", obj)
	}
	for _, cd := range st.GetStatus().Conditions {
		if cd.Type == cond {
			return cd.Status == corev1.ConditionTrue, nil
		}
	}
	return false, nil
}

// DeleteAll deletes every Chaos Mesh resource of geodrill's in every region's cluster (by
// label; one fault's with faultLabel set): what a run leaves behind when it dies between
// Apply and Delete, found and removed by the next cleanup.
func (a *Applier) DeleteAll(ctx context.Context, fault string) error {
	labels := client.MatchingLabels{kind.LabelPartOf: kind.PartOf}
	if fault != "" {
		labels[kind.LabelFault] = faultLabel(fault)
	}
	var errs []error
	for region, cl := range a.Clients {
		for _, obj := range []client.Object{&chaos.NetworkChaos{}, &chaos.PodChaos{}, &chaos.TimeChaos{}} {
			if err := cl.DeleteAllOf(ctx, obj, client.InNamespace(kind.Namespace), labels); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("region %s: delete %T: %w", region, obj, err))
			}
		}
	}
	return errors.Join(errs...)
}

func kindOf(c Chaos) string {
	if k := c.Object.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", c.Object)
}
