package replicate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a daily local-time interval during which replication may run,
// so that copies over a shared regional link happen outside office hours.
// Start == End means the whole day. A window that wraps midnight
// ("19:00-06:00") runs from Start to midnight and from midnight to End.
type Window struct {
	Start, End int // minutes after midnight, 0..1439
}

// ParseWindow parses "HH:MM-HH:MM" (24-hour local time).
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("window %q: want HH:MM-HH:MM, e.g. 19:00-06:00", s)
	}
	start, err := parseClock(a)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	end, err := parseClock(b)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	return Window{Start: start, End: end}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 23:59", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether t (in its own location) is inside the window.
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	switch {
	case w.Start == w.End:
		return true
	case w.Start < w.End:
		return m >= w.Start && m < w.End
	default:
		return m >= w.Start || m < w.End
	}
}

func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}
