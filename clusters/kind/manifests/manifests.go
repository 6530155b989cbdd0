// Package manifests renders a region's part of the reference stack as Kubernetes objects
// for the kind provider: the stack's services with hostNetwork on the region's node (see
// package kind on why), the configuration and the secrets.
package manifests

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/refstack/api"
)

// Stack is what a region's manifests are rendered from: the regions' node addresses, the
// image (built by the docker provider's image builder and loaded into every cluster), the
// stack configuration file's content, the MinIO secret, and the TLS files when the stack
// runs with mutual TLS (file name → content, the run directory's tls/ flattened: minio-<r>
// directories become "minio-<r>.<file>" keys, mounted back as directories).
type Stack struct {
	Nodes         kind.Nodes
	Image         string
	Config        string
	MinIOPassword string
	TLS           map[string][]byte
}

// Paths inside the containers.
const (
	binRefstack = "/geodrill/refstack"
	binMinIO    = "/geodrill/minio"
	configDir   = "/geodrill/config"
	configFile  = configDir + "/stack.yaml"
	tlsDir      = "/geodrill/tls"
	dataDir     = "/data"
	// hostData is where a region's data lives on its node: it outlives pod failures and
	// restarts, as a region's disks outlive its processes.
	hostData = "/var/lib/geodrill"
)

// Manifests renders the objects of region's part of the stack, in the order they are
// applied: namespace, configuration, secret, then etcd, MinIO and the agent host.
func Manifests(region string, s Stack) ([]runtime.Object, error) {
	ip, ok := s.Nodes[region]
	if !ok {
		return nil, fmt.Errorf("no node address for region %q", region)
	}
	if net.ParseIP(ip) == nil {
		return nil, fmt.Errorf("region %s: node address %q is not an IP address", region, ip)
	}
	if s.Image == "" {
		return nil, fmt.Errorf("no image for the stack")
	}
	regions := make([]string, 0, len(s.Nodes))
	for r := range s.Nodes {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	scheme := "http"
	if len(s.TLS) > 0 {
		scheme = "https"
	}
	at := func(r string, port int) string { return net.JoinHostPort(s.Nodes[r], strconv.Itoa(port)) }
	var peers, minios []string
	for _, r := range regions {
		peers = append(peers, r+"="+scheme+"://"+at(r, kind.PortEtcdPeer))
		minios = append(minios, r+"="+at(r, kind.PortMinIO))
	}
	var tlsArgs []string
	if len(s.TLS) > 0 {
		tlsArgs = []string{"--tls-dir", tlsDir}
	}
	labels := func(service string) map[string]string {
		return map[string]string{kind.LabelPartOf: kind.PartOf, kind.LabelRegion: region, kind.LabelService: service}
	}
	objMeta := func(name string, l map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: kind.Namespace, Labels: l}
	}

	out := []runtime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: kind.Namespace, Labels: map[string]string{kind.LabelPartOf: kind.PartOf}}},
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: objMeta("geodrill-stack", map[string]string{kind.LabelPartOf: kind.PartOf}),
			Data:       map[string]string{"stack.yaml": s.Config}},
	}
	secret := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objMeta("geodrill-secrets", map[string]string{kind.LabelPartOf: kind.PartOf}),
		Data:       map[string][]byte{"minio-password": []byte(s.MinIOPassword)}}
	out = append(out, secret)
	var tlsItems []corev1.KeyToPath
	if len(s.TLS) > 0 {
		tls := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: objMeta("geodrill-tls", map[string]string{kind.LabelPartOf: kind.PartOf}), Data: map[string][]byte{}}
		names := make([]string, 0, len(s.TLS))
		for name := range s.TLS {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			key := strings.ReplaceAll(name, "/", ".")
			tls.Data[key] = s.TLS[name]
			tlsItems = append(tlsItems, corev1.KeyToPath{Key: key, Path: name})
		}
		out = append(out, tls)
	}

	deployment := func(service string, c corev1.Container) *appsv1.Deployment {
		one := int32(1)
		c.Name = service
		c.Image = s.Image
		c.ImagePullPolicy = corev1.PullNever
		c.VolumeMounts = append(c.VolumeMounts,
			corev1.VolumeMount{Name: "config", MountPath: configDir, ReadOnly: true},
			corev1.VolumeMount{Name: "data", MountPath: dataDir})
		vols := []corev1.Volume{
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "geodrill-stack"}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: hostData + "/" + service, Type: ptr(corev1.HostPathDirectoryOrCreate)}}},
		}
		if len(tlsItems) > 0 {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "tls", MountPath: tlsDir, ReadOnly: true})
			vols = append(vols, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "geodrill-tls", Items: tlsItems}}})
		}
		l := labels(service)
		return &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: objMeta("geodrill-"+region+"-"+service, l),
			Spec: appsv1.DeploymentSpec{
				Replicas: &one,
				Selector: &metav1.LabelSelector{MatchLabels: l},
				// One member per region, on its node's address: a second copy could never
				// bind it, so the old pod goes before the new one starts.
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: l},
					Spec: corev1.PodSpec{
						HostNetwork:                   true,
						DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
						TerminationGracePeriodSeconds: ptr(int64(5)),
						Containers:                    []corev1.Container{c},
						Volumes:                       vols,
					},
				},
			},
		}
	}
	probe := func(path string, port int) *corev1.Probe {
		sch := corev1.URISchemeHTTP
		if scheme == "https" {
			sch = corev1.URISchemeHTTPS
		}
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromInt32(int32(port)), Host: ip, Scheme: sch}}, PeriodSeconds: 1, FailureThreshold: 3}
	}

	out = append(out, deployment(api.ServiceEtcd, corev1.Container{
		Command: []string{binRefstack},
		Args: append([]string{"etcd", "--name", region, "--data-dir", dataDir + "/etcd",
			"--listen-client", at(region, kind.PortEtcdClient), "--listen-peer", at(region, kind.PortEtcdPeer),
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new",
			"--config", configFile}, tlsArgs...),
	}))
	minioArgs := []string{"server", "--address", at(region, kind.PortMinIO), "--console-address", at(region, kind.PortConsole), "--quiet"}
	if len(s.TLS) > 0 {
		minioArgs = append(minioArgs, "--certs-dir", tlsDir+"/minio-"+region)
	}
	out = append(out, deployment(api.ServiceMinIO, corev1.Container{
		Command: []string{binMinIO},
		Args:    append(minioArgs, dataDir+"/minio"),
		Env: []corev1.EnvVar{
			{Name: "MINIO_ROOT_USER", Value: clusters.MinIOUser},
			{Name: "MINIO_ROOT_PASSWORD", ValueFrom: secretKey("minio-password")},
			{Name: "MINIO_UPDATE", Value: "off"},
			{Name: "MINIO_PROMETHEUS_AUTH_TYPE", Value: "public"},
		},
		ReadinessProbe: probe("/minio/health/live", kind.PortMinIO),
	}))
	out = append(out, deployment(api.ServiceHost, corev1.Container{
		Command: []string{binRefstack},
		Args: append([]string{"host", "--region", region, "--listen", at(region, kind.PortHost),
			"--etcd", at(region, kind.PortEtcdClient), "--minio", strings.Join(minios, ","),
			"--minio-user", clusters.MinIOUser, "--bucket", clusters.Bucket, "--config", configFile}, tlsArgs...),
		Env:            []corev1.EnvVar{{Name: api.EnvMinIOPassword, ValueFrom: secretKey("minio-password")}},
		ReadinessProbe: probe("/healthz", kind.PortHost),
	}))
	return out, nil
}

func secretKey(key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "geodrill-secrets"}, Key: key}}
}

func ptr[T any](v T) *T { return &v }
