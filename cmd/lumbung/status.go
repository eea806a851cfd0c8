package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lumbung-id/lumbung/internal/layers"
)

// errUnprotected: some dataset does not meet 3-2-1-1-0 (exitUnprotected),
// so that cron and monitoring can alert on status's exit code alone.
var errUnprotected = errors.New("not every dataset meets 3-2-1-1-0")

// statusJSON is the --json object of one dataset: layers.DatasetStatus
// (each layer with its last verification and last replication).
type statusJSON struct {
	MessageType string `json:"message_type"`
	layers.DatasetStatus
}

func runStatus(ctx context.Context, e *env, args []string) error {
	f := newFlags("status")
	var lf layerFlags
	lf.register(f, "")
	lang := f.String("lang", "", "language of the report: id (Bahasa Indonesia, the default) or en (or LUMBUNG_LANG)")
	timeout := f.Duration("timeout", 30*time.Second, "give up on a layer that does not answer within this `DURATION`")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usagef("status takes no arguments (got %q); use --dataset to choose one", f.args)
	}
	if *lang == "" {
		*lang = e.getenv("LUMBUNG_LANG")
	}
	switch *lang {
	case "":
		*lang = layers.LangIndonesian
	case layers.LangIndonesian, layers.LangEnglish:
	default:
		return usagef("--lang %q: use id or en", *lang)
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive, e.g. 30s")
	}
	cfg, err := lf.load(e)
	if err != nil {
		return err
	}
	names := cfg.Order
	if lf.dataset != "" {
		if _, err := lf.pick(cfg); err != nil {
			return err
		}
		names = []string{lf.dataset}
	}
	cfgPath := lf.path(e)
	state, err := layers.OpenState(statePath(e, cfgPath))
	if err != nil {
		return err
	}
	now := time.Now()
	opts := layers.StatusOptions{State: state, Timeout: *timeout, Now: func() time.Time { return now }}
	p := f.printer(e)
	var unprotected []string
	for _, name := range names {
		ds := layers.DatasetStatusOf(ctx, cfg.Datasets[name], opts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		out := statusJSON{MessageType: "dataset_status", DatasetStatus: ds}
		if err := p.Result(out, func(w io.Writer) { printStatus(w, out, *lang, now) }); err != nil {
			return err
		}
		if !ds.Verdict.OK {
			unprotected = append(unprotected, fmt.Sprintf("%s (%s)", name, strings.Join(ds.Verdict.UnmetRules(), ", ")))
		}
	}
	if len(unprotected) > 0 {
		where := "listed above"
		if f.json {
			where = "in verdict.unmet of each dataset_status"
		}
		return fmt.Errorf("%w: %s; the reasons are %s", errUnprotected, strings.Join(unprotected, "; "), where)
	}
	return nil
}

// statusWords are the words of the status table, by language.
var statusWords = map[string]map[string]string{
	layers.LangIndonesian: {
		"dataset": "Dataset", "layer": "LAPISAN", "role": "PERAN", "media": "MEDIA", "newest": "SNAPSHOT TERBARU",
		"age": "UMUR", "verified": "VERIFIKASI TERAKHIR", "immutable": "IMMUTABLE HINGGA", "reachable": "TERJANGKAU",
		"yes": "ya", "no": "tidak", "never": "belum pernah", "none": "tidak ada", "ok": "ok", "errors": "%d kesalahan",
		"met": "3-2-1-1-0: TERPENUHI", "unmet": "3-2-1-1-0: BELUM TERPENUHI",
		"counts":         "salinan %d/3, jenis media %d/2, di luar lokasi %d/1, immutable/offline %d/1, lapisan dengan kesalahan %d",
		"problem":        "masalah",
		"unplugged":      "tidak terhubung (biasa untuk lapisan offline; verifikasi terakhirnya yang dihitung)",
		"never-exported": "belum pernah diekspor / tidak terhubung (biasa untuk lapisan offline): jalankan export lalu export --verify",
		"replication":    "replikasi terakhir (%s): %s",
	},
	layers.LangEnglish: {
		"dataset": "Dataset", "layer": "LAYER", "role": "ROLE", "media": "MEDIA", "newest": "NEWEST SNAPSHOT",
		"age": "AGE", "verified": "LAST VERIFICATION", "immutable": "IMMUTABLE UNTIL", "reachable": "REACHABLE",
		"yes": "yes", "no": "no", "never": "never", "none": "none", "ok": "ok", "errors": "%d error(s)",
		"met": "3-2-1-1-0: MET", "unmet": "3-2-1-1-0: NOT MET",
		"counts":         "copies %d/3, media kinds %d/2, off-site %d/1, immutable/offline %d/1, layers with errors %d",
		"problem":        "problem",
		"unplugged":      "not connected (normal for an offline layer; its last verification counts)",
		"never-exported": "never exported / not connected (normal for offline): run export, then export --verify",
		"replication":    "last replication (%s): %s",
	},
}

// printStatus prints one dataset: a table of its layers, what is wrong with
// each, then the verdict and every unmet rule with its reason.
func printStatus(w io.Writer, s statusJSON, lang string, now time.Time) {
	t := statusWords[lang]
	fmt.Fprintf(w, "%s %s\n", t["dataset"], s.Dataset)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t["layer"], t["role"], t["media"], t["newest"], t["age"], t["verified"], t["immutable"], t["reachable"])
	for _, l := range s.Layers {
		newest, age := t["none"], "-"
		if l.Newest != nil {
			newest = shortID(l.Newest.ID) + " " + l.Newest.Time.Local().Format("2006-01-02 15:04")
			age = formatAge(now.Sub(l.Newest.Time))
		}
		verified := t["never"]
		if v := l.LastVerification; v != nil {
			result := t["ok"]
			if !v.OK {
				result = fmt.Sprintf(t["errors"], max(v.Errors, 1))
			}
			verified = v.Time.Local().Format("2006-01-02 15:04") + " " + result
		}
		immutable := "-"
		if l.ImmutableUntil != nil {
			immutable = l.ImmutableUntil.Local().Format("2006-01-02")
		}
		reachable := t["no"]
		if l.Reachable {
			reachable = t["yes"]
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Role, l.Media, newest, age, verified, immutable, reachable)
	}
	tw.Flush()
	for _, l := range s.Layers {
		switch {
		case l.Role == layers.RoleOffline && !l.Reachable && l.LastVerification == nil:
			fmt.Fprintf(w, "  %s: %s\n", l.Name, t["never-exported"])
		case l.Role == layers.RoleOffline && !l.Reachable:
			fmt.Fprintf(w, "  %s: %s\n", l.Name, t["unplugged"])
		case l.Error != "":
			fmt.Fprintf(w, "  %s: %s: %s\n", l.Name, t["problem"], l.Error)
		}
		if r := l.LastReplication; r != nil && r.Outcome != layers.OutcomeOK && r.Outcome != layers.OutcomeSkipped {
			what := r.Outcome
			if r.Error != "" {
				what += ": " + r.Error
			}
			fmt.Fprintf(w, "  %s: %s\n", l.Name, fmt.Sprintf(t["replication"], r.Time.Local().Format("2006-01-02 15:04"), what))
		}
	}
	v := s.Verdict
	verdict := t["met"]
	if !v.OK {
		verdict = t["unmet"]
	}
	fmt.Fprintf(w, "%s (%s)\n", verdict, fmt.Sprintf(t["counts"], v.Copies, v.MediaKinds, v.Offsite, v.ImmutableOrOffline, v.ErrorLayers))
	for _, u := range v.Unmet {
		fmt.Fprintf(w, "  - %s: %s\n", u.Rule, u.Message.In(lang))
	}
	fmt.Fprintln(w)
}
