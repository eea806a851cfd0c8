package layers

import "fmt"

// Languages of user-facing status messages.
const (
	LangEnglish    = "en"
	LangIndonesian = "id"
)

// Text is one message in every supported language, keyed by language code
// ("en", "id"). Status JSON carries both so a console can pick.
type Text map[string]string

// In returns the message in lang, falling back to English.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	return t[LangEnglish]
}

// messages is the table of status messages: English, then Bahasa Indonesia.
// Arguments are the same, in the same order, in both.
var messages = map[string][2]string{
	"copies.none": {
		"no layer holds a snapshot of this dataset yet: run a backup, then replicate",
		"belum ada lapisan yang menyimpan snapshot dataset ini: jalankan backup, lalu replikasi",
	},
	"copies.few": {
		"only %d of the 3 required copies hold a recent snapshot (not counted: %s); add a layer or fix its replication",
		"hanya %d dari 3 salinan yang disyaratkan menyimpan snapshot terkini (tidak dihitung: %s); tambahkan lapisan atau perbaiki replikasinya",
	},
	"media.few": {
		"the current copies are on only %d kind of media (%s); keep one on another kind, e.g. object storage, tape or a removable disk",
		"salinan terkini hanya ada di %d jenis media (%s); simpan satu di jenis lain, mis. object storage, tape atau disk lepas",
	},
	"offsite.none": {
		"no current copy is off-site: add a regional or offsite layer, or fix the replication to it",
		"tidak ada salinan terkini di luar lokasi: tambahkan lapisan regional atau offsite, atau perbaiki replikasinya",
	},
	"immutable.none": {
		"no current copy is immutable or offline: use object storage with Object Lock (immutable_days) or an offline export",
		"tidak ada salinan terkini yang immutable atau offline: gunakan object storage dengan Object Lock (immutable_days) atau ekspor offline",
	},
	"errors.failed": {
		"layer %s: the last verification (%s) found %d error(s): %s; run a check on it and repair or replace the copy",
		"lapisan %s: verifikasi terakhir (%s) menemukan %d kesalahan: %s; periksa lapisan ini lalu perbaiki atau ganti salinannya",
	},
	"errors.never": {
		"layer %s has never been verified: run a verification (check with read-data, or export --verify for an offline layer)",
		"lapisan %s belum pernah diverifikasi: jalankan verifikasi (check dengan read-data, atau export --verify untuk lapisan offline)",
	},
	"layer.unreachable": {
		"%s: unreachable (%s)",
		"%s: tidak terjangkau (%s)",
	},
	"layer.offline.never": {
		"%s: never exported / not connected (normal for offline); export to it and verify the export to count it",
		"%s: belum pernah diekspor / tidak terhubung (biasa untuk lapisan offline); ekspor ke lapisan ini lalu verifikasi ekspornya agar dihitung",
	},
	"layer.unreadable": {
		"%s: its snapshots cannot be read (%s)",
		"%s: snapshotnya tidak dapat dibaca (%s)",
	},
	"layer.nosnapshot": {
		"%s: holds no snapshot of this dataset",
		"%s: tidak menyimpan snapshot dataset ini",
	},
	"layer.behind": {
		"%s: its newest snapshot is %s older than the dataset's newest",
		"%s: snapshot terbarunya %s lebih lama dari snapshot terbaru dataset",
	},
	"layer.damaged": {
		"%s: its last verification found errors",
		"%s: verifikasi terakhirnya menemukan kesalahan",
	},
}

// msg formats message key in every language. Text arguments are put in
// the same language.
func msg(key string, args ...any) Text {
	m, ok := messages[key]
	if !ok {
		return Text{LangEnglish: key}
	}
	out := make(Text, 2)
	for i, lang := range []string{LangEnglish, LangIndonesian} {
		a := make([]any, len(args))
		for j, v := range args {
			if t, ok := v.(Text); ok {
				v = t.In(lang)
			}
			a[j] = v
		}
		out[lang] = fmt.Sprintf(m[i], a...)
	}
	return out
}

// joinTexts joins texts with sep in every language.
func joinTexts(ts []Text, sep string) Text {
	out := make(Text, 2)
	for _, lang := range []string{LangEnglish, LangIndonesian} {
		s := ""
		for i, t := range ts {
			if i > 0 {
				s += sep
			}
			s += t.In(lang)
		}
		out[lang] = s
	}
	return out
}
