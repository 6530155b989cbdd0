package router

import (
	"sync"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

// staleOwners is the state of the router-ignores-epochs switch: per agent, the owner requests
// are still routed to and when the router first saw that a newer owner (epoch) had replaced
// it. It exists only to prove that the checkers notice a router that ignores epochs.
type staleOwners struct {
	mu sync.Mutex
	m  map[string]staleOwner
}

type staleOwner struct {
	routed    api.Owner
	changedAt time.Time // zero while routed is the current owner
}

// unsafeStaleOwner returns the owner to route to. Normally that is (cur, ok). With
// router-ignores-epochs on the router ignores a newer epoch for that long after it first
// sees one and keeps forwarding to the previous owner, dead or deposed.
func (rt *Router) unsafeStaleOwner(agent string, cur api.Owner, ok bool) (api.Owner, bool) {
	hold := rt.cfg.Bugs.Param(bugs.RouterIgnoresEpochs)
	if hold <= 0 {
		return cur, ok
	}
	s := &rt.unsafe
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]staleOwner{}
	}
	e, seen := s.m[agent]
	switch {
	case !seen:
		if ok {
			s.m[agent] = staleOwner{routed: cur}
		}
		return cur, ok
	case ok && cur == e.routed:
		return cur, ok
	case e.changedAt.IsZero():
		e.changedAt = time.Now()
		s.m[agent] = e
		rt.log.Warn("UNSAFE: ignoring a newer owner epoch", "agent", agent, "routed_region", e.routed.Region,
			"routed_epoch", e.routed.Epoch, "current_region", cur.Region, "current_epoch", cur.Epoch, "for", hold.String())
	}
	if time.Since(e.changedAt) < hold {
		return e.routed, true
	}
	if ok {
		s.m[agent] = staleOwner{routed: cur}
	} else {
		delete(s.m, agent)
	}
	return cur, ok
}
