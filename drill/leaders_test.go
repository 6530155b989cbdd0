package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
)

func TestLeaderNotes(t *testing.T) {
	events := []timeline.Event{
		{At: 2 * time.Second, Kind: timeline.Inject, Name: "f0:early"}, // listed first, but it happened after the 1s observation
		{At: 1 * time.Second, Kind: timeline.Observe, Name: timeline.LeadersName, Detail: map[string]string{faults.FactEtcdLeader: "a", faults.FactControllerLeader: "b"}},
		{At: 3 * time.Second, Kind: timeline.Observe, Name: timeline.LeadersName, Detail: map[string]string{faults.FactEtcdLeader: "c", faults.FactControllerLeader: "b"}},
		{At: 4 * time.Second, Kind: timeline.Inject, Name: "f1:region-outage"},
	}
	notes := leaderNotes(events)
	if len(notes) != 2 {
		t.Fatalf("notes = %q, want one per inject seen after an observation", notes)
	}
	if !strings.Contains(notes[0], "f0:early") || !strings.Contains(notes[0], "etcd leader in a") {
		t.Errorf("note 0 = %q: want f0 with the leader seen at 1s (events are sorted first)", notes[0])
	}
	if !strings.Contains(notes[1], "f1:region-outage") || !strings.Contains(notes[1], "etcd leader in c") || !strings.Contains(notes[1], "controller leader in b") {
		t.Errorf("note 1 = %q", notes[1])
	}
}
