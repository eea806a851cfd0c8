package layers

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// SnapshotRef names a snapshot and when it was taken.
type SnapshotRef struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// Verification is the result of the last full verification of a layer
// (check with read-data, or export --verify).
type Verification struct {
	Time   time.Time `json:"time"`
	OK     bool      `json:"ok"`
	Errors int       `json:"errors"`
	// Message summarises what was found (first error), for status.
	Message string `json:"message,omitempty"`
	// Snapshot is the newest snapshot the verification covered; for an
	// offline layer it stands in for the unplugged disk.
	Snapshot *SnapshotRef `json:"snapshot,omitempty"`
}

// LayerStatus is what status knows about one layer of a dataset.
type LayerStatus struct {
	Name       string `json:"name"`
	Repository string `json:"repository"`
	Role       Role   `json:"role"`
	Media      Media  `json:"media"`
	Reachable  bool   `json:"reachable"`
	// Error says why the layer could not be (fully) inspected.
	Error string `json:"error,omitempty"`
	// Newest is the layer's newest snapshot of the dataset; nil if none or
	// unknown. For an offline layer that is not connected it comes from its
	// last verification.
	Newest     *SnapshotRef `json:"newest,omitempty"`
	AgeSeconds int64        `json:"age_seconds,omitempty"`
	Snapshots  int          `json:"snapshots"`
	// LastVerification is nil when the layer was never verified.
	LastVerification *Verification `json:"last_verification,omitempty"`
	// LastReplication is the last replication (or export) to the layer;
	// nil when none was recorded.
	LastReplication *Replication `json:"last_replication,omitempty"`
	// ImmutableUntil is when the storage stops refusing to delete the
	// newest snapshot (Object Lock retention); nil when not immutable.
	ImmutableUntil *time.Time `json:"immutable_until,omitempty"`
	// ImmutableSource says where ImmutableUntil comes from:
	// ImmutableFromObject or ImmutableFromConfig; empty when neither.
	ImmutableSource string `json:"immutable_source,omitempty"`
	// Counted is set by the verdict when the layer counts as a copy;
	// NotCounted says why not otherwise.
	Counted    bool `json:"counted"`
	NotCounted Text `json:"not_counted,omitempty"`
}

// Rule names of the 3-2-1-1-0 verdict.
const (
	RuleCopies    = "copies"    // ≥ 3 current copies
	RuleMedia     = "media"     // on ≥ 2 kinds of media
	RuleOffsite   = "offsite"   // ≥ 1 off-site
	RuleImmutable = "immutable" // ≥ 1 immutable or offline
	RuleErrors    = "errors"    // 0 errors at the last verification
)

// Unmet is one point of the rule that is not met, with the reason.
type Unmet struct {
	Rule    string `json:"rule"`
	Message Text   `json:"message"`
}

// Verdict is the 3-2-1-1-0 result for one dataset.
type Verdict struct {
	OK                 bool    `json:"ok"`
	Copies             int     `json:"copies"`
	MediaKinds         int     `json:"media_kinds"`
	Offsite            int     `json:"offsite"`
	ImmutableOrOffline int     `json:"immutable_or_offline"`
	ErrorLayers        int     `json:"error_layers"`
	Unmet              []Unmet `json:"unmet,omitempty"`
}

// VerdictOptions tune what counts as a current copy.
type VerdictOptions struct {
	// MaxLag is how much older than the dataset's newest snapshot a layer's
	// newest may be and still count as a copy. Replication follows each
	// backup, so a layer one daily cycle behind is still a copy; one that
	// stopped receiving is not. Zero means 26 hours (a day plus slack).
	MaxLag time.Duration
}

// DefaultMaxLag is VerdictOptions.MaxLag's default.
const DefaultMaxLag = 26 * time.Hour

// ComputeVerdict applies the 3-2-1-1-0 rule to the layers of one dataset
// and marks each layer Counted (or says why not). What counts:
//
//   - a copy is a layer that holds a snapshot of the dataset no older than
//     MaxLag before the newest one any layer holds, is reachable (or is an
//     offline layer whose last verification passed: unplugged is its
//     normal state), and whose last verification did not find errors;
//   - media kinds are the distinct media of the copies;
//   - off-site copies are copies with role regional or offsite;
//   - immutable-or-offline copies are copies with role offline or with an
//     ImmutableUntil after now;
//   - 0 errors: no layer's last verification found errors, and every copy
//     has been verified at least once (an unverified copy is a hope, not a
//     copy that restores).
func ComputeVerdict(layers []LayerStatus, now time.Time, opts VerdictOptions) Verdict {
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultMaxLag
	}
	var newest time.Time
	for _, l := range layers {
		if l.Newest != nil && l.Newest.Time.After(newest) {
			newest = l.Newest.Time
		}
	}
	var v Verdict
	var notCounted []Text
	media := map[Media]bool{}
	for i := range layers {
		l := &layers[i]
		l.Counted, l.NotCounted = false, nil
		damaged := l.LastVerification != nil && !l.LastVerification.OK
		switch {
		case !l.Reachable && l.Role == RoleOffline && l.LastVerification == nil:
			// Unplugged is an offline layer's normal state; what is missing
			// is an export (or its verification), not a connection.
			l.NotCounted = msg("layer.offline.never", l.Name)
		case !l.Reachable && l.Role == RoleOffline && !l.LastVerification.OK:
			l.NotCounted = msg("layer.damaged", l.Name)
		case !l.Reachable && l.Role != RoleOffline:
			why := l.Error
			if why == "" {
				why = "not connected"
			}
			l.NotCounted = msg("layer.unreachable", l.Name, why)
		case l.Newest == nil && l.Error != "":
			l.NotCounted = msg("layer.unreadable", l.Name, l.Error)
		case l.Newest == nil:
			l.NotCounted = msg("layer.nosnapshot", l.Name)
		case newest.Sub(l.Newest.Time) > opts.MaxLag:
			l.NotCounted = msg("layer.behind", l.Name, humanDuration(newest.Sub(l.Newest.Time)))
		case damaged:
			l.NotCounted = msg("layer.damaged", l.Name)
		default:
			l.Counted = true
		}
		if !l.Counted {
			notCounted = append(notCounted, l.NotCounted)
			continue
		}
		v.Copies++
		media[l.Media] = true
		if l.Role == RoleRegional || l.Role == RoleOffsite {
			v.Offsite++
		}
		if l.Role == RoleOffline || (l.ImmutableUntil != nil && l.ImmutableUntil.After(now)) {
			v.ImmutableOrOffline++
		}
	}
	v.MediaKinds = len(media)

	switch {
	case newest.IsZero():
		v.Unmet = append(v.Unmet, Unmet{RuleCopies, msg("copies.none")})
	case v.Copies < 3:
		v.Unmet = append(v.Unmet, Unmet{RuleCopies, msg("copies.few", v.Copies, joinTexts(notCounted, "; "))})
	}
	if v.MediaKinds < 2 {
		kinds := make([]string, 0, len(media))
		for m := range media {
			kinds = append(kinds, string(m))
		}
		sort.Strings(kinds)
		list := strings.Join(kinds, ", ")
		if list == "" {
			list = "-"
		}
		v.Unmet = append(v.Unmet, Unmet{RuleMedia, msg("media.few", v.MediaKinds, list)})
	}
	if v.Offsite < 1 {
		v.Unmet = append(v.Unmet, Unmet{RuleOffsite, msg("offsite.none")})
	}
	if v.ImmutableOrOffline < 1 {
		v.Unmet = append(v.Unmet, Unmet{RuleImmutable, msg("immutable.none")})
	}
	for _, l := range layers {
		lv := l.LastVerification
		switch {
		case lv != nil && !lv.OK:
			v.ErrorLayers++
			what := lv.Message
			if what == "" {
				what = "see the verification report"
			}
			v.Unmet = append(v.Unmet, Unmet{RuleErrors, msg("errors.failed", l.Name, lv.Time.UTC().Format(time.RFC3339), max(lv.Errors, 1), what)})
		case lv == nil && l.Counted:
			v.Unmet = append(v.Unmet, Unmet{RuleErrors, msg("errors.never", l.Name)})
		}
	}
	v.OK = len(v.Unmet) == 0
	return v
}

// UnmetRules lists the rules not met, in order, without repeats.
func (v Verdict) UnmetRules() []string {
	var out []string
	for _, u := range v.Unmet {
		if !slices.Contains(out, u.Rule) {
			out = append(out, u.Rule)
		}
	}
	return out
}

// humanDuration says d in days, hours or minutes, as an admin would.
func humanDuration(d time.Duration) Text {
	n, en, id := int(d.Minutes()), "minutes", "menit"
	switch {
	case d >= 48*time.Hour:
		n, en, id = int(d.Hours()/24), "days", "hari"
	case d >= 2*time.Hour:
		n, en, id = int(d.Hours()), "hours", "jam"
	}
	return Text{LangEnglish: fmt.Sprintf("%d %s", n, en), LangIndonesian: fmt.Sprintf("%d %s", n, id)}
}
