package api

import "sort"

// Placement assigns agents 0..n-1 a home region and a failover order. counts gives how many
// agents start in a region (in region order); agents beyond the counts are spread
// round-robin. The failover order is the region list rotated to start at the home region.
// It is deterministic: the same inputs give the same registrations.
func Placement(regions []string, n int, counts map[string]int) []Registration {
	homes := make([]string, 0, n)
	for _, r := range regions {
		for i := 0; i < counts[r] && len(homes) < n; i++ {
			homes = append(homes, r)
		}
	}
	for i := 0; len(homes) < n; i++ {
		homes = append(homes, regions[i%len(regions)])
	}
	out := make([]Registration, n)
	for i, home := range homes {
		out[i] = Registration{Agent: AgentID(i), Home: home, Order: rotate(regions, home)}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out
}

func rotate(regions []string, first string) []string {
	at := 0
	for i, r := range regions {
		if r == first {
			at = i
		}
	}
	out := make([]string, 0, len(regions))
	out = append(out, regions[at:]...)
	return append(out, regions[:at]...)
}
