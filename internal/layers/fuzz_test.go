package layers

import (
	"strings"
	"testing"
)

// FuzzLoad: whatever the config file holds, Load returns a config or an
// error, never panics, and a config it returns has the invariants
// validation promises.
func FuzzLoad(f *testing.F) {
	f.Add(validConfig)
	f.Add("datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n")
	f.Add("datasets: {x: {layers: [~]}}")
	f.Add("datasets:\n  x: ~\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Load(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, name := range cfg.Order {
			d := cfg.Datasets[name]
			if d == nil || len(d.Layers) == 0 || (len(d.Paths) == 0) == (len(d.Command) == 0) {
				t.Fatalf("invalid dataset accepted: %+v", d)
			}
			for _, l := range d.Layers {
				if l == nil || l.Name == "" || l.Role == "" || l.Media == "" || l.Repository == "" {
					t.Fatalf("invalid layer accepted: %+v", l)
				}
			}
		}
	})
}

func FuzzParseBandwidth(f *testing.F) {
	for _, s := range []string{"20Mbit", "1.5MiB/s", "1e309GB", ".", "9999999999999999999gbit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseBandwidth(s); err == nil && (v < 1024 || v > 1e15) {
			t.Fatalf("%q = %d", s, v)
		}
	})
}
