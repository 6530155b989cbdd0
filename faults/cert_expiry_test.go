package faults

import (
	"strings"
	"testing"
	"time"
)

// cert-expiry needs a region, and a provider that manages the stack's certificates; one
// that does but runs without TLS says how to turn it on.
func TestCertExpirySpec(t *testing.T) {
	k := certExpiryKind.Kind()
	if _, err := k.New(Spec{Kind: k.Name}); err == nil || !strings.Contains(err.Error(), "needs a region") {
		t.Errorf("no region: %v", err)
	}
	spec := Spec{Kind: k.Name, Region: "busiest", Duration: time.Second}
	if _, err := Plan([]Spec{spec}, struct{}{}, "bare"); err == nil || !strings.Contains(err.Error(), "certificates") {
		t.Errorf("a provider without certificates: %v", err)
	}
	if _, err := Plan([]Spec{spec}, plainStack{}, "local"); err == nil || !strings.Contains(err.Error(), "stack.tls: true") {
		t.Errorf("a stack without TLS: %v", err)
	}
}

type plainStack struct{ CertControl }

func (plainStack) CertRealisation() (Realisation, string) {
	return Unavailable, "the stack runs without TLS: set stack.tls: true"
}
