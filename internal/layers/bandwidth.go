package layers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// bandwidthUnits maps a unit to bytes per second. Network people speak in
// bits (a "30 Mbps" regional link), storage people in bytes; both are
// accepted, decimal (k = 1000) unless written KiB/MiB/GiB.
var bandwidthUnits = map[string]float64{
	"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
	"bit": 1.0 / 8, "kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8,
	"kbps": 1e3 / 8, "mbps": 1e6 / 8, "gbps": 1e9 / 8,
}

// ParseBandwidth parses "20Mbit", "20 Mbps", "2.5MB", "512KiB" (optionally
// followed by "/s") into bytes per second.
func ParseBandwidth(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "/s")
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	mult, ok := bandwidthUnits[unit]
	if err != nil || !ok || v <= 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("bandwidth %q: write a number and a unit, e.g. 20Mbit, 30Mbps, 2MB or 512KiB", s)
	}
	bps := v * mult
	if bps < 1024 {
		return 0, fmt.Errorf("bandwidth %q is below 1 KiB per second: too slow to copy anything", s)
	}
	if bps > 1e15 {
		return 0, fmt.Errorf("bandwidth %q is implausibly large", s)
	}
	return int64(bps), nil
}
