package checkers

import (
	"context"
	"fmt"
	"strings"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
)

// NameCertificates is the certificates checker: an expired certificate is refused.
const NameCertificates = "certificates"

// certificatesApplies: only runs whose cert-expiry faults presented the expired certificate
// to the other services (runs saved before that get no result, and replay unchanged).
func certificatesApplies(in Input) bool {
	for _, e := range in.Timeline {
		if _, ok := e.Detail[faults.DetailExpiredCertRefused]; ok && e.Kind == timeline.Inject {
			return true
		}
	}
	return false
}

// CertificatesData is the certificates checker's measurement, per cert-expiry fault.
type CertificatesData struct {
	Faults []ExpiredCert `json:"faults"`
}

// ExpiredCert is what the services did with one region's expired certificate.
type ExpiredCert struct {
	Name      string   `json:"name"`
	Region    string   `json:"region"`
	Accepted  []string `json:"accepted,omitempty"`  // served a request on it: a security failure
	Refused   []string `json:"refused,omitempty"`   // refused it
	Unreached []string `json:"unreached,omitempty"` // could not be asked (with why)
}

// Certificates checks that, while a region's certificate had expired (cert-expiry), every
// other service that checks client certificates refused it: the fault presents it, as the
// region's own services would, to the other regions' etcd members and hosts and to the
// router, and records who served a request on it. One acceptance fails the run; a service
// that could not be asked leaves it unknown.
func Certificates(_ context.Context, in Input) Result {
	var d CertificatesData
	for _, e := range timeline.Sorted(in.Timeline) {
		if _, ok := e.Detail[faults.DetailExpiredCertRefused]; !ok || e.Kind != timeline.Inject {
			continue
		}
		d.Faults = append(d.Faults, ExpiredCert{
			Name: e.Name, Region: e.Detail["region"],
			Accepted:  splitList(e.Detail[faults.DetailExpiredCertAccepted]),
			Refused:   splitList(e.Detail[faults.DetailExpiredCertRefused]),
			Unreached: splitList(e.Detail[faults.DetailExpiredCertUnreached]),
		})
	}
	v := Verdict{Checker: NameCertificates, Target: "services accepting an expired certificate == 0", Status: Pass}
	var accepted, refused, unreached []string
	for _, f := range d.Faults {
		for _, s := range f.Accepted {
			accepted = append(accepted, fmt.Sprintf("%s (region %s's, %s)", s, f.Region, f.Name))
		}
		refused = append(refused, f.Refused...)
		for _, s := range f.Unreached {
			unreached = append(unreached, fmt.Sprintf("%s (%s)", s, f.Name))
		}
	}
	asked := len(accepted) + len(refused)
	v.Measured = fmt.Sprintf("%d of %d services accepted an expired certificate", len(accepted), asked)
	switch {
	case len(accepted) > 0:
		v.Status = Fail
		v.Detail = "served a request on an expired certificate: " + listFew(accepted, 5)
	case len(unreached) > 0:
		v.Status = Unknown
		v.Detail = "could not ask: " + listFew(unreached, 5)
	case asked == 0:
		v.Status = Unknown
		v.Detail = "no service was asked"
	}
	return Result{Checker: NameCertificates, Verdicts: []Verdict{v}, Data: d}
}

// splitList reads a "; "-separated detail value; "" is none.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "; ")
}
