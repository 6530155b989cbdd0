package rundir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Journals: the history and the timeline as they grow during a drill, one JSON value per
// line, flushed every JournalFlush. A harness killed with SIGKILL loses at most the last
// flush; a drill that ends writes the whole files (HistoryFile, TimelineFile) and removes
// its journals.
const (
	HistoryJournal  = "history.journal.jsonl"
	TimelineJournal = "timeline.journal.jsonl"
	JournalFlush    = time.Second
)

// Journal appends values to a file in a run directory, buffered and flushed every
// JournalFlush. It is safe for concurrent use; a write error stops the journal (the drill
// still keeps everything in memory) and is returned by Close.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	err  error
	stop chan struct{}
	done chan struct{}
}

// OpenJournal creates (or truncates) name in dir and starts its flusher.
func OpenJournal(dir, name string) (*Journal, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{f: f, w: bufio.NewWriterSize(f, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go j.flushLoop()
	return j, nil
}

// Add appends v as one line.
func (j *Journal) Add(v any) {
	if j == nil {
		return
	}
	b, err := json.Marshal(v)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return
	}
	if err == nil {
		_, err = j.w.Write(append(b, '\n'))
	}
	j.err = err
}

func (j *Journal) flushLoop() {
	defer close(j.done)
	t := time.NewTicker(JournalFlush)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.mu.Lock()
			if j.err == nil {
				j.err = j.w.Flush()
			}
			j.mu.Unlock()
		}
	}
}

// Close flushes and closes the journal; Remove closes it and deletes the file.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	close(j.stop)
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = j.w.Flush()
	}
	return errors.Join(j.err, j.f.Close())
}

// Remove closes the journal and deletes its file: the whole record was written.
func (j *Journal) Remove() error {
	if j == nil {
		return nil
	}
	cerr := j.Close()
	return errors.Join(cerr, os.Remove(j.f.Name()))
}
