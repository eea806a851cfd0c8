package ui

import (
	"sync"
	"time"
)

// meter is what both live displays (terminal line, JSON status) share: the
// counts, the redraw loop and the lock guarding them. A display embeds it,
// sets tick (called on the loop; it takes mu itself) and adds its own
// output around Warn and Finish.
type meter struct {
	mu       sync.Mutex
	interval time.Duration
	tr       tracker
	loop     *loop
	finished bool
	tick     func()
}

func (m *meter) Start(op string, total Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tr.setStart(op, total)
	if m.loop == nil && !m.finished && m.interval > 0 {
		m.loop = startLoop(m.interval, m.tick)
	}
}

func (m *meter) Add(done Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tr.done.add(done)
}

func (m *meter) Item(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tr.item = path
}

// stop marks the meter finished and stops the loop (outside the lock: tick
// takes it). It reports false when the meter was finished already.
func (m *meter) stop() bool {
	m.mu.Lock()
	if m.finished {
		m.mu.Unlock()
		return false
	}
	m.finished = true
	l := m.loop
	m.mu.Unlock()
	l.stop()
	return true
}
