package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/layers"
)

// status prints the dataset's 3-2-1-1-0 status as `lumbung status` computes
// it, with a line per point saying why it holds. In the demo every point
// should hold; one that does not is a failure of the demo.
func (r *run) status(ctx context.Context, d *layers.Dataset, state *layers.State) error {
	now := time.Now()
	ds := layers.DatasetStatusOf(ctx, d, layers.StatusOptions{State: state, Now: func() time.Time { return now }})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("status: %w", err) // an interrupted status is not a verdict
	}
	v := ds.Verdict
	head := "TERPENUHI / MET"
	if !v.OK {
		head = "TIDAK TERPENUHI / NOT MET"
	}
	var lines []string
	for _, l := range ds.Layers {
		lines = append(lines, layerLine(l))
	}
	why := explain(ds, now)
	for _, rule := range []string{layers.RuleCopies, layers.RuleMedia, layers.RuleOffsite, layers.RuleImmutable, layers.RuleErrors} {
		lines = append(lines, why[rule]...)
	}
	r.sayMore("status", fmt.Sprintf("Status 3-2-1-1-0 dataset %s: %s", ds.Dataset, head),
		map[string]any{"dataset": ds.Dataset, "layers": ds.Layers, "verdict": v, "why": why}, lines)
	if !v.OK {
		return fmt.Errorf("the demo's dataset does not meet 3-2-1-1-0 (unmet: %s): %s", strings.Join(v.UnmetRules(), ", "), v.Unmet[0].Message.In(layers.LangEnglish))
	}
	return nil
}

// layerLine is one layer of the status: what it is, what it holds, and
// whether it counts as a copy.
func layerLine(l layers.LayerStatus) string {
	what := "tidak ada snapshot / no snapshot"
	if l.Newest != nil {
		what = fmt.Sprintf("snapshot %s", l.Newest.ID[:min(8, len(l.Newest.ID))])
	}
	ver := "belum diverifikasi / never verified"
	if lv := l.LastVerification; lv != nil && lv.OK {
		ver = "terverifikasi / verified"
	} else if lv != nil {
		ver = fmt.Sprintf("verifikasi gagal / verification failed: %s", lv.Message)
	}
	counted := "dihitung / counted"
	if !l.Counted {
		counted = "tidak dihitung / not counted: " + both(l.NotCounted)
	}
	return fmt.Sprintf("%-9s %-19s %s, %s; %s", l.Name, string(l.Role)+"/"+string(l.Media), what, ver, counted)
}

// explain says, for each point of the rule, whether it holds and why: the
// verdict's own reasons for a point not met, and for one met the layers
// that meet it. Offsite and immutable get a sentence about what the demo's
// layers stand for, since all of them run on this one machine.
func explain(ds layers.DatasetStatus, now time.Time) map[string][]string {
	v := ds.Verdict
	out := map[string][]string{}
	for _, u := range v.Unmet {
		out[u.Rule] = append(out[u.Rule], "✗ "+both(u.Message))
	}
	var media, offsite, immutable []string
	for _, l := range ds.Layers {
		if !l.Counted {
			continue
		}
		if !slices.Contains(media, string(l.Media)) {
			media = append(media, string(l.Media))
		}
		if l.Role == layers.RoleRegional || l.Role == layers.RoleOffsite {
			offsite = append(offsite, l.Name)
		}
		if l.Role == layers.RoleOffline || (l.ImmutableUntil != nil && l.ImmutableUntil.After(now)) {
			immutable = append(immutable, l.Name)
		}
	}
	met := func(rule, line string) {
		if out[rule] == nil {
			out[rule] = []string{"✓ " + line}
		}
	}
	met(layers.RuleCopies, fmt.Sprintf("%d salinan terkini / current copies (3 needed)", v.Copies))
	met(layers.RuleMedia, fmt.Sprintf("%d jenis media / kinds of media (2 needed): %s", v.MediaKinds, strings.Join(media, ", ")))
	met(layers.RuleOffsite, fmt.Sprintf("%d di luar lokasi / off-site (%s): server di loopback mewakili server provinsi / the server on loopback stands for the province's server, which in real use runs at another site", v.Offsite, strings.Join(offsite, ", ")))
	met(layers.RuleImmutable, fmt.Sprintf("%d immutable atau offline / immutable or offline (%s): ekspor offline / the offline export, a removable disk unplugged after export; the server is append-only but not immutable storage (no Object Lock, immutable_days 0)", v.ImmutableOrOffline, strings.Join(immutable, ", ")))
	met(layers.RuleErrors, "0 kesalahan / errors: every layer was verified (check with read-data, export --verify) and nothing was found")
	return out
}

// both says a status message in Bahasa Indonesia, then English.
func both(t layers.Text) string {
	id, en := t.In(layers.LangIndonesian), t.In(layers.LangEnglish)
	if id == en {
		return en
	}
	return id + " / " + en
}
