package layers

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func snap(hoursAgo int) *SnapshotRef {
	return &SnapshotRef{ID: "s", Time: now.Add(-time.Duration(hoursAgo) * time.Hour)}
}

func verified(ok bool) *Verification {
	v := &Verification{Time: now.Add(-time.Hour), OK: ok}
	if !ok {
		v.Errors, v.Message = 2, "pack 1f2e3d4c is damaged"
	}
	return v
}

func until(days int) *time.Time {
	t := now.Add(time.Duration(days) * 24 * time.Hour)
	return &t
}

// healthy is a dataset that meets the rule: local disk, province server,
// S3 with Object Lock, all verified.
func healthy() []LayerStatus {
	return []LayerStatus{
		{Name: "lokal", Role: RoleLocal, Media: MediaDisk, Reachable: true, Newest: snap(1), LastVerification: verified(true)},
		{Name: "provinsi", Role: RoleRegional, Media: MediaServer, Reachable: true, Newest: snap(1), LastVerification: verified(true)},
		{Name: "s3", Role: RoleOffsite, Media: MediaObjectStorage, Reachable: true, Newest: snap(1), LastVerification: verified(true), ImmutableUntil: until(29)},
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name    string
		layers  func() []LayerStatus
		copies  int
		unmet   []string
		reasons []string // substrings of the English messages, in order
		counted []bool
	}{
		{"healthy", healthy, 3, nil, nil, []bool{true, true, true}},
		{"no snapshots at all", func() []LayerStatus {
			l := healthy()
			for i := range l {
				l[i].Newest = nil
			}
			return l
		}, 0, []string{RuleCopies, RuleMedia, RuleOffsite, RuleImmutable},
			[]string{"no layer holds a snapshot of this dataset yet", "only 0 kind of media (-)", "no current copy is off-site", "no current copy is immutable"},
			[]bool{false, false, false}},
		{"province unreachable", func() []LayerStatus {
			l := healthy()
			l[1].Reachable, l[1].Error = false, "dial tcp: connection refused"
			return l
		}, 2, []string{RuleCopies},
			[]string{"only 2 of the 3 required copies hold a recent snapshot (not counted: provinsi: unreachable (dial tcp: connection refused))"},
			[]bool{true, false, true}},
		{"s3 replication stalled", func() []LayerStatus {
			l := healthy()
			l[2].Newest = snap(24 * 5)
			return l
		}, 2, []string{RuleCopies, RuleImmutable},
			[]string{"(not counted: s3: its newest snapshot is 4 days older than the dataset's newest)", "no current copy is immutable or offline"},
			[]bool{true, true, false}},
		{"wrong password", func() []LayerStatus {
			l := healthy()
			l[0].Newest, l[0].Error = nil, "wrong password"
			return l
		}, 2, []string{RuleCopies},
			[]string{"(not counted: lokal: its snapshots cannot be read (wrong password))"},
			[]bool{false, true, true}},
		{"one day behind still counts", func() []LayerStatus {
			l := healthy()
			l[2].Newest = snap(25)
			return l
		}, 3, nil, nil, []bool{true, true, true}},
		{"retention expired", func() []LayerStatus {
			l := healthy()
			l[2].ImmutableUntil = until(-1)
			return l
		}, 3, []string{RuleImmutable}, []string{"no current copy is immutable or offline"}, []bool{true, true, true}},
		{"all on disks", func() []LayerStatus {
			l := healthy()
			l[1].Media, l[2].Media = MediaDisk, MediaDisk
			return l
		}, 3, []string{RuleMedia}, []string{"only 1 kind of media (disk)"}, []bool{true, true, true}},
		{"no offsite", func() []LayerStatus {
			l := healthy()
			l[1].Role, l[2].Role = RoleLocal, RoleLocal
			return l
		}, 3, []string{RuleOffsite}, []string{"no current copy is off-site"}, []bool{true, true, true}},
		{"verification found errors", func() []LayerStatus {
			l := healthy()
			l[1].LastVerification = verified(false)
			return l
		}, 2, []string{RuleCopies, RuleErrors},
			[]string{"(not counted: provinsi: its last verification found errors)", "layer provinsi: the last verification (2026-11-23T11:00:00Z) found 2 error(s): pack 1f2e3d4c is damaged"},
			[]bool{true, false, true}},
		{"never verified", func() []LayerStatus {
			l := healthy()
			l[0].LastVerification = nil
			return l
		}, 3, []string{RuleErrors}, []string{"layer lokal has never been verified"}, []bool{true, true, true}},
		{"offline export unplugged but verified", func() []LayerStatus {
			l := healthy()
			l[2] = LayerStatus{Name: "usb", Role: RoleOffline, Media: MediaRemovable, Reachable: false, Newest: snap(20), LastVerification: verified(true)}
			return l
		}, 3, nil, nil, []bool{true, true, true}},
		{"offline export never verified", func() []LayerStatus {
			l := healthy()
			l[2] = LayerStatus{Name: "usb", Role: RoleOffline, Media: MediaRemovable}
			return l
		}, 2, []string{RuleCopies, RuleImmutable}, []string{"usb: never exported / not connected (normal for offline)", "no current copy is immutable"}, []bool{true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			layers := tc.layers()
			v := ComputeVerdict(layers, now, VerdictOptions{})
			if v.Copies != tc.copies {
				t.Errorf("copies %d, want %d", v.Copies, tc.copies)
			}
			if got := v.UnmetRules(); !reflect.DeepEqual(got, tc.unmet) {
				t.Errorf("unmet %v, want %v", got, tc.unmet)
			}
			if v.OK != (len(tc.unmet) == 0) {
				t.Errorf("OK = %v with unmet %v", v.OK, v.UnmetRules())
			}
			if len(v.Unmet) != len(tc.reasons) {
				t.Fatalf("%d reasons, want %d: %+v", len(v.Unmet), len(tc.reasons), v.Unmet)
			}
			for i, u := range v.Unmet {
				if !strings.Contains(u.Message.In(LangEnglish), tc.reasons[i]) {
					t.Errorf("reason %d: %q does not contain %q", i, u.Message.In(LangEnglish), tc.reasons[i])
				}
				if id := u.Message.In(LangIndonesian); id == "" || id == u.Message.In(LangEnglish) {
					t.Errorf("reason %d has no Indonesian text: %q", i, id)
				}
			}
			for i, l := range layers {
				if l.Counted != tc.counted[i] {
					t.Errorf("layer %s counted %v, want %v (%v)", l.Name, l.Counted, tc.counted[i], l.NotCounted)
				}
			}
		})
	}
}

func TestMessagesIndonesian(t *testing.T) {
	l := healthy()
	l[2].Newest = snap(24 * 5)
	v := ComputeVerdict(l, now, VerdictOptions{})
	got := v.Unmet[0].Message.In(LangIndonesian)
	want := "hanya 2 dari 3 salinan yang disyaratkan menyimpan snapshot terkini (tidak dihitung: s3: snapshot terbarunya 4 hari lebih lama dari snapshot terbaru dataset); tambahkan lapisan atau perbaiki replikasinya"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for key, m := range messages {
		if strings.Count(m[0], "%") != strings.Count(m[1], "%") {
			t.Errorf("message %s: English and Indonesian take different arguments", key)
		}
	}
}

// An offline layer nobody has exported to yet is not "unreachable": being
// unplugged is its normal state, in both languages.
func TestOfflineNeverExportedWording(t *testing.T) {
	l := healthy()
	l[2] = LayerStatus{Name: "usb", Role: RoleOffline, Media: MediaRemovable, Error: "layer usb: no repository at /media/usb/repository (no config file)"}
	ComputeVerdict(l, now, VerdictOptions{})
	for lang, want := range map[string]string{
		LangEnglish:    "usb: never exported / not connected (normal for offline)",
		LangIndonesian: "usb: belum pernah diekspor / tidak terhubung (biasa untuk lapisan offline)",
	} {
		got := l[2].NotCounted.In(lang)
		if !strings.Contains(got, want) || strings.Contains(got, "unreachable") || strings.Contains(got, "tidak terjangkau") {
			t.Errorf("%s: %q, want it to contain %q", lang, got, want)
		}
	}
}
