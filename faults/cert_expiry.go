package faults

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// CertExpiry lets one region's certificate expire while it is held: the region's etcd
// member, object store and agent host present it, so every new TLS connection to them is
// refused ("certificate has expired") while connections already open live on, as they do
// when a real certificate lapses. Recovery issues a fresh one. It needs the stack to run
// with mutual TLS (stack.tls).
type CertExpiry struct {
	Region   string
	resolved string
}

// CertControl expires and renews a region's certificate of a stack that runs with TLS.
type CertControl interface {
	// CertRealisation says whether the cluster can do it (it runs with TLS), and how.
	CertRealisation() (Realisation, string)
	ExpireCert(ctx context.Context, region string) error
	RenewCert(ctx context.Context, region string) error
	// CertAccepted opens a fresh TLS connection to region's agent host: nil when its
	// certificate is accepted.
	CertAccepted(ctx context.Context, region string) error
	// PresentCert opens a fresh connection to every other service that checks client
	// certificates (the other regions' etcd members and hosts, the router), presenting
	// region's certificate as region's own services do, and makes one request on it: per
	// service ("etcd a", "host a", "router"), nil when the request was served.
	PresentCert(ctx context.Context, region string) map[string]error
}

// Inject event details of cert-expiry: which services, presented the expired
// certificate, served a request on it (a security failure), refused it, or could not be
// reached to tell ("; "-separated; "" for none).
const (
	DetailExpiredCertAccepted  = "expired_cert_accepted_by"
	DetailExpiredCertRefused   = "expired_cert_refused_by"
	DetailExpiredCertUnreached = "expired_cert_unreached"
)

// refusal says whether err is a TLS refusal of the presented certificate, rather than a
// service that could not be reached at all.
func refusal(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "certificate") || strings.Contains(msg, "tls:") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
}

var certExpiryKind = KindOf[NoParams]{
	Name: "cert-expiry",
	Check: func(s Spec, _ *NoParams, c ParamCheck) {
		c.Region("region", s.Region, true)
	},
	Realise: func(cluster any) (Realisation, string) {
		cc, ok := cluster.(CertControl)
		if !ok {
			return Unavailable, "the provider does not manage the stack's certificates"
		}
		return cc.CertRealisation()
	},
	New: func(s Spec, _ *NoParams) (Fault, error) {
		if s.Region == "" {
			return nil, fmt.Errorf("cert-expiry needs a region (a name or a selector such as \"busiest\")")
		}
		return &CertExpiry{Region: s.Region}, nil
	},
}

// Inject resolves the region and re-issues its certificate as already expired.
func (f *CertExpiry) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: "certificate " + r, Detail: map[string]string{"region": r}}
	cc := env.Cluster.(CertControl)
	if err := cc.ExpireCert(ctx, r); err != nil {
		return rec, fmt.Errorf("expire the certificate of region %s: %w", r, err)
	}
	// Every other service must now refuse the region's certificate, as a client's.
	var accepted, refused, unreached []string
	for svc, err := range cc.PresentCert(ctx, r) {
		switch {
		case err == nil:
			accepted = append(accepted, svc)
		case refusal(err):
			refused = append(refused, svc)
		default:
			unreached = append(unreached, svc+" ("+err.Error()+")")
		}
	}
	for k, v := range map[string][]string{DetailExpiredCertAccepted: accepted, DetailExpiredCertRefused: refused, DetailExpiredCertUnreached: unreached} {
		sort.Strings(v)
		rec.Detail[k] = strings.Join(v, "; ")
	}
	return rec, nil
}

// Verify checks that a fresh connection to the region's host is refused.
func (f *CertExpiry) Verify(ctx context.Context, env Env) error {
	if env.Cluster.(CertControl).CertAccepted(ctx, f.resolved) == nil {
		return fmt.Errorf("region %s's host still presents a certificate that is accepted", f.resolved)
	}
	return nil
}

// Recover issues the region a valid certificate again.
func (f *CertExpiry) Recover(ctx context.Context, env Env) error {
	return env.Cluster.(CertControl).RenewCert(ctx, f.resolved)
}

// VerifyHealed checks that a fresh connection to the region's host is accepted again.
func (f *CertExpiry) VerifyHealed(ctx context.Context, env Env) error {
	return env.Cluster.(CertControl).CertAccepted(ctx, f.resolved)
}
