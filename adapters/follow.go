package adapters

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Target is who serves, as one poll found it, and the connection to it.
type Target[C any] struct {
	Serving Serving
	Conn    C
}

// Follow is what a Backend polls into: who serves now (nil while nobody does) with the
// connection to it, and whether the system has been seen ready to survive a fault, a latch
// (Readier). Both adapters hold one; their polls differ, this does not.
type Follow[C any] struct {
	close    func(C) // closes a connection no longer followed
	notReady string  // why Ready fails until the latch is set

	mu    sync.Mutex
	cur   *Target[C]
	ready bool
}

// NewFollow follows nobody yet; close is how a connection is closed once replaced, and
// notReady what Ready says until MarkReady.
func NewFollow[C any](close func(C), notReady string) *Follow[C] {
	return &Follow[C]{close: close, notReady: notReady}
}

// Now is who serves, as of the last Set.
func (f *Follow[C]) Now() *Target[C] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// Set follows t (nil: nobody serves); the connection it replaces is closed two seconds
// later, so requests on it finish.
func (f *Follow[C]) Set(t *Target[C]) {
	f.mu.Lock()
	old := f.cur
	f.cur = t
	f.mu.Unlock()
	if old != nil && t != old {
		go func() { time.Sleep(2 * time.Second); f.close(old.Conn) }()
	}
}

// Serving is who serves now (Backend.Serving).
func (f *Follow[C]) Serving() (Serving, bool) {
	if t := f.Now(); t != nil {
		return t.Serving, true
	}
	return Serving{}, false
}

// MarkReady sets the latch: the system has been seen able to survive a fault.
func (f *Follow[C]) MarkReady() {
	f.mu.Lock()
	f.ready = true
	f.mu.Unlock()
}

// Ready is nil once MarkReady was called (Readier).
func (f *Follow[C]) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return errors.New(f.notReady)
	}
	return nil
}

// Poll calls poll at once and then every interval until ctx ends.
func Poll(ctx context.Context, every time.Duration, poll func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
