package lab

import (
	"context"
	"fmt"
	"sync"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// scaleWorkers is how many requests ScaleIngresses keeps in flight; with
// the lab's client limits (ClientQPS) it creates about a thousand objects
// in a few seconds without starving a two-core machine.
const scaleWorkers = 16

// ScaleIngressName is the name ScaleIngresses gives the i-th Ingress.
func ScaleIngressName(i int) string { return fmt.Sprintf("scale-%05d", i) }

// ScaleIngresses creates (or updates) n Ingresses named ScaleIngressName(i)
// in ns, labelled app=gslb, class avi-lb, host fmt.Sprintf(hostFmt, i),
// backed by the onlineshop Service name; if vip is not nil, the i-th
// Ingress's status gets the IP vip(i). Use a clientset from
// Cluster.Clientset (QPS 200): client-go's default 5 QPS would take minutes.
func ScaleIngresses(ctx context.Context, cs kubernetes.Interface, ns string, n int, hostFmt string, vip func(i int) string) error {
	if err := EnsureNamespace(ctx, cs, ns); err != nil {
		return err
	}
	if err := EnsureIngressClass(ctx, cs, OnlineshopIngressClass, AKOController); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for w := 0; w < scaleWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := scaleOne(ctx, cs, ns, i, hostFmt, vip); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func scaleOne(ctx context.Context, cs kubernetes.Interface, ns string, i int, hostFmt string, vip func(int) string) error {
	name := ScaleIngressName(i)
	ing, err := CreateIngress(ctx, cs, IngressSpec{
		Namespace: ns,
		Name:      name,
		Labels:    GSLBLabels(),
		ClassName: OnlineshopIngressClass,
		Hosts:     []string{fmt.Sprintf(hostFmt, i)},
		Service:   OnlineshopService,
		Port:      80,
	})
	if err != nil {
		return err
	}
	if vip == nil {
		return nil
	}
	// Update the object Create returned instead of reading it again: at
	// the client's QPS limit that saves a third of the requests. Someone
	// else changing it in between (a conflict) takes the slow path.
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: vip(i)}}
	_, err = cs.NetworkingV1().Ingresses(ns).UpdateStatus(ctx, ing, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return SetIngressStatus(ctx, cs, ns, name, []string{vip(i)}, nil)
	}
	if err != nil {
		return fmt.Errorf("updating status of ingress %s/%s: %w", ns, name, err)
	}
	return nil
}
