package drill

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload"
)

// progress prints a live line (phase, elapsed, ok/fail/unknown counts) and phase notes.
// On a terminal the line is redrawn in place; elsewhere it is printed every few seconds.
type progress struct {
	w     io.Writer
	clock *timeline.Clock
	tty   bool
	stats workload.Stats

	mu    sync.Mutex
	phase string
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newProgress(w io.Writer, clock *timeline.Clock) *progress {
	p := &progress{w: w, clock: clock, done: make(chan struct{})}
	if w == nil {
		return p
	}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer p.wg.Done()
	every := time.Second
	if !p.tty {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.line()
		}
	}
}

func (p *progress) status() string {
	p.mu.Lock()
	phase := p.phase
	p.mu.Unlock()
	st := p.stats.Load()
	return fmt.Sprintf("[%s] %6.1fs  ok=%d fail=%d unknown=%d", phase, p.clock.Now().Seconds(),
		st.OK, st.Fail, st.Unknown)
}

func (p *progress) line() {
	p.mu.Lock()
	started := p.phase != ""
	p.mu.Unlock()
	if !started {
		return
	}
	s := p.status()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
	} else {
		fmt.Fprintln(p.w, s)
	}
}

func (p *progress) setPhase(name string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	p.phase = name
	p.mu.Unlock()
	p.notef("phase %s", name)
}

// note prints a message on its own line without breaking the live line.
func (p *progress) note(msg string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "%7.1fs  %s\n", p.clock.Now().Seconds(), msg)
}

func (p *progress) notef(format string, args ...any) { p.note(fmt.Sprintf(format, args...)) }

func (p *progress) stop() {
	p.once.Do(func() {
		close(p.done)
		p.wg.Wait()
		if p.w != nil && p.tty {
			fmt.Fprint(p.w, "\r\033[K")
		}
	})
}
