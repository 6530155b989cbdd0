package reports

import "github.com/geodrill/geodrill/workload/history"

// Counts tallies operations by outcome.
type Counts struct {
	OK      int `json:"ok"`
	Fail    int `json:"fail"`
	Unknown int `json:"unknown"`
}

// Total is the number of operations counted.
func (c Counts) Total() int { return c.OK + c.Fail + c.Unknown }

func (c *Counts) add(o history.Outcome) {
	switch o {
	case history.OK:
		c.OK++
	case history.Fail:
		c.Fail++
	default:
		c.Unknown++
	}
}

// OpCounts are a history's outcomes, split by op kind for the load phase, with the post-heal
// final reads apart.
type OpCounts struct {
	Put   Counts `json:"put"`
	Get   Counts `json:"get"`
	CAS   Counts `json:"cas"`
	Final Counts `json:"final_reads"`
	All   Counts `json:"all"`
}

// CountOps tallies a history.
func CountOps(h history.History) OpCounts {
	var c OpCounts
	for _, op := range h {
		c.All.add(op.Outcome)
		switch {
		case op.Final:
			c.Final.add(op.Outcome)
		case op.Kind == history.Put:
			c.Put.add(op.Outcome)
		case op.Kind == history.Get:
			c.Get.add(op.Outcome)
		case op.Kind == history.CAS:
			c.CAS.add(op.Outcome)
		}
	}
	return c
}
