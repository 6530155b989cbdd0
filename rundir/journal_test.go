package rundir

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// What a journal is given is on disk within a flush, without Close (a harness killed with
// SIGKILL never closes it); Remove deletes it once the whole record is written.
func TestJournalReachesTheDiskWithoutClose(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, HistoryJournal)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		j.Add(map[string]int{"id": i})
	}
	path := filepath.Join(dir, HistoryJournal)
	deadline := time.Now().Add(3 * JournalFlush)
	var lines int
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if lines = bytes.Count(b, []byte("\n")); lines == 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lines != 3 {
		t.Fatalf("%d lines on disk after %s, want 3", lines, 3*JournalFlush)
	}
	if err := j.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("journal still there after Remove: %v", err)
	}
	var nilJournal *Journal
	nilJournal.Add(1) // a drill without journals records in memory only
	if err := nilJournal.Remove(); err != nil {
		t.Error(err)
	}
}
