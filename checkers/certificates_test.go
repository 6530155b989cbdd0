package checkers

import (
	"context"
	"testing"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
)

func TestCertificates(t *testing.T) {
	inject := func(accepted, refused, unreached string) timeline.Event {
		return timeline.Event{Kind: timeline.Inject, Name: "f1:cert-expiry", Fault: "cert-expiry", Target: "certificate a",
			Detail: map[string]string{"region": "a", faults.DetailExpiredCertAccepted: accepted,
				faults.DetailExpiredCertRefused: refused, faults.DetailExpiredCertUnreached: unreached}}
	}
	for _, tc := range []struct {
		name string
		ev   timeline.Event
		want Status
	}{
		{"every service refused", inject("", "etcd b; etcd c; host b; host c; router", ""), Pass},
		{"a host served a request on it", inject("host b", "etcd b; etcd c; host c; router", ""), Fail},
		{"a service could not be asked", inject("", "etcd b; etcd c; host c; router", "host b (connection refused)"), Unknown},
		{"nobody asked", inject("", "", ""), Unknown},
	} {
		in := Input{Timeline: []timeline.Event{tc.ev}}
		if !certificatesApplies(in) {
			t.Fatalf("%s: the checker does not apply", tc.name)
		}
		r := Certificates(context.Background(), in)
		if got := r.Verdicts[0].Status; got != tc.want {
			t.Errorf("%s: %s (%s; %s), want %s", tc.name, got, r.Verdicts[0].Measured, r.Verdicts[0].Detail, tc.want)
		}
	}
	// A run with no cert-expiry probe (or saved before there were any) is not judged.
	if certificatesApplies(Input{Timeline: []timeline.Event{{Kind: timeline.Inject, Fault: "cert-expiry", Detail: map[string]string{"region": "a"}}}}) {
		t.Error("the checker applies to a cert-expiry without probes")
	}
}
