package timeline

// The phases of one agent's recovery from a region fault, in the order a failover goes
// through them. Each is measured from the fault's start (the rto checker); a scenario may set
// a target per phase (sla.rto_phases_p95); reports explain each with its Means.
const (
	RecoveryDetected  = "detected"   // the controller's first failed probe of the region
	RecoveryDeclared  = "declared"   // the controller declared the region dead
	RecoveryOwnerGone = "owner-gone" // the agent's owner key deleted (lease revoked or expired)
	RecoveryTakenOver = "taken-over" // the agent's new owner key created in another region
	RecoveryRouted    = "routed"     // the router showed the new owner
	RecoveryServed    = "served"     // the first ok op from the new owner: the agent's RTO
)

// RecoveryPhase is one phase and what its moment is, as a reader of a report needs it.
type RecoveryPhase struct {
	Name  string
	Means string
}

// RecoveryPhases lists the phases in order.
func RecoveryPhases() []RecoveryPhase {
	return []RecoveryPhase{
		{RecoveryDetected, "the controller's first failed probe of the region"},
		{RecoveryDeclared, "the region declared dead (its host lease about to be revoked)"},
		{RecoveryOwnerGone, "the agent's owner key gone"},
		{RecoveryTakenOver, "the agent taken over in another region"},
		{RecoveryRouted, "the router showing the new owner (polled every 250ms)"},
		{RecoveryServed, "the first ok operation from the new owner: the RTO"},
	}
}

// IsRecoveryPhase says whether name is one of RecoveryPhases.
func IsRecoveryPhase(name string) bool {
	for _, p := range RecoveryPhases() {
		if p.Name == name {
			return true
		}
	}
	return false
}
