package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var byteUnits = [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// FormatBytes formats n in binary units with one decimal:
// FormatBytes(512) == "512 B", FormatBytes(1536) == "1.5 KiB".
func FormatBytes(n int64) string {
	if n < 0 {
		// uint64 conversion keeps math.MinInt64 from overflowing.
		return "-" + formatBytes(uint64(-(n+1))+1)
	}
	return formatBytes(uint64(n))
}

func formatBytes(u uint64) string {
	if u < 1024 {
		return strconv.FormatUint(u, 10) + " B"
	}
	v := float64(u) / 1024
	i := 0
	for i < len(byteUnits)-1 && math.Round(v*10)/10 >= 1024 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, byteUnits[i])
}

// FormatDuration formats d rounded to whole seconds, as used for elapsed
// time and ETA: "5s", "1m05s", "2h03m04s". Negative durations give "0s".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	h, m, sec := s/3600, s/60%60, s%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

// formatRate formats a throughput in bytes per second, e.g. "45.6 MiB/s".
func formatRate(bytesPerSec float64) string {
	if bytesPerSec >= math.MaxInt64 {
		bytesPerSec = math.MaxInt64
	}
	return FormatBytes(int64(bytesPerSec)) + "/s"
}

// sanitize replaces control characters (including ESC and the C1 range)
// with '?' so that hostile file names cannot move the cursor or send
// escape sequences to the terminal.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return '?'
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0)
}
