package layers

import (
	"errors"
	"strings"
	"testing"
)

const validConfig = `
datasets:
  siak:
    paths: [/srv/siak]
    excludes: ["*.tmp"]
    layers:
      - name: lokal
        repository: /srv/lumbung/siak
        role: local
        media: disk
        password: {file: /etc/lumbung/siak.pass}
      - name: provinsi
        repository: rest:https://prov.example:8443/siak?fingerprint=sha256:ab
        role: regional
        media: server
        token: {file: /etc/lumbung/prov.token}
        bandwidth: 20Mbit
        window: "19:00-06:00"
      - name: s3
        repository: s3:https://s3.example/bucket/siak?retention=30d
        role: offsite
        media: object-storage
        immutable_days: 30
        access_key: {env: S3_KEY}
        secret_key: {file: /etc/lumbung/s3.secret}
      - name: usb
        repository: /media/usb/siak
        role: offline
        media: removable
  db:
    command: ["pg_dump", "-Fc", "siak"]
    layers:
      - name: lokal
        repository: /srv/lumbung/db
        role: local
        media: disk
        password: {env: DB_PASS}
`

func TestLoadValid(t *testing.T) {
	cfg, err := Load(strings.NewReader(validConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Order, ","); got != "siak,db" {
		t.Errorf("order %q, want file order siak,db", got)
	}
	siak, err := cfg.Dataset("siak")
	if err != nil {
		t.Fatal(err)
	}
	if len(siak.Layers) != 4 || siak.Name != "siak" {
		t.Fatalf("siak: %+v", siak)
	}
	prov, err := siak.Layer("provinsi")
	if err != nil {
		t.Fatal(err)
	}
	if prov.BytesPerSecond != 2_500_000 {
		t.Errorf("20Mbit = %d B/s, want 2500000", prov.BytesPerSecond)
	}
	if prov.ReplicationWindow == nil || prov.ReplicationWindow.String() != "19:00-06:00" {
		t.Errorf("window %v", prov.ReplicationWindow)
	}
	if o := prov.ReplicateOptions(); o.BytesPerSecond != 2_500_000 || o.Window == nil {
		t.Errorf("replicate options %+v", o)
	}
	if siak.Layers[2].ImmutableDays != 30 || siak.Layers[2].SecretKey.File != "/etc/lumbung/s3.secret" {
		t.Errorf("s3 layer %+v", siak.Layers[2])
	}
	db := cfg.Datasets["db"]
	if db.StdinFilename != "db" || len(db.Command) != 3 {
		t.Errorf("db: stdin_filename %q command %v", db.StdinFilename, db.Command)
	}
	if _, err := cfg.Dataset("simpeg"); err == nil || !strings.Contains(err.Error(), "siak, db") {
		t.Errorf("unknown dataset: %v", err)
	}
}

// layer1 is a valid first layer to build invalid configs around.
const layer1 = `
      - name: lokal
        repository: /srv/lumbung/x
        role: local
        media: disk
        password: {env: P}`

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"empty", ``, "the config is empty: it needs a datasets: section (see docs/lumbung.example.yaml)"},
		{"syntax", "datasets:\n  x: [\n", "line 2: YAML syntax: did not find expected node content"},
		{"unknown top key", "dataset:\n  x: {}\n", `line 1: unknown key "dataset" (check its spelling; docs/lumbung.example.yaml lists every key)`},
		{"unknown layer key", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n        imutable_days: 3\n",
			`line 10: unknown key "imutable_days" (check its spelling; docs/lumbung.example.yaml lists every key)`},
		{"wrong type", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n        immutable_days: lama\n",
			"line 10: wrong kind of value: cannot unmarshal !!str `lama` into int"},
		{"no datasets", "datasets: {}\n", "line 1: no datasets: add a datasets: section with at least one dataset (see docs/lumbung.example.yaml)"},
		{"bad dataset name", "datasets:\n  SIAK:\n    paths: [/a]\n    layers:" + layer1 + "\n",
			`line 2: dataset "SIAK": use only lowercase letters, digits, '-', '_' and '.' in dataset names (at most 64)`},
		{"paths and command", "datasets:\n  x:\n    paths: [/a]\n    command: [pg_dump]\n    layers:" + layer1 + "\n",
			`line 4: dataset "x": give either paths or command, not both`},
		{"neither paths nor command", "datasets:\n  x:\n    layers:" + layer1 + "\n",
			`line 3: dataset "x": give paths (what to back up) or command (whose output is backed up, e.g. pg_dump)`},
		{"relative path", "datasets:\n  x:\n    paths:\n      - srv/x\n    layers:" + layer1 + "\n",
			`line 4: dataset "x": path "srv/x" is not absolute: write it in full, e.g. /srv/x`},
		{"stdin_filename without command", "datasets:\n  x:\n    paths: [/a]\n    stdin_filename: x.sql\n    layers:" + layer1 + "\n",
			`line 4: dataset "x": stdin_filename only applies to a command`},
		{"no layers", "datasets:\n  x:\n    paths: [/a]\n", `line 3: dataset "x": no layers: a dataset needs at least one (the first is where backups are written)`},
		{"bad role", "datasets:\n  x:\n    paths: [/a]\n    layers:\n      - name: l\n        repository: /r\n        role: regonal\n        media: disk\n        password: {env: P}\n",
			`line 7: dataset "x", layer 1 ("l"): role "regonal" is not one of local, regional, offsite, offline`},
		{"missing media", "datasets:\n  x:\n    paths: [/a]\n    layers:\n      - name: l\n        repository: /r\n        role: local\n        password: {env: P}\n",
			`line 5: dataset "x", layer 1 ("l"): media is missing: one of disk, server, object-storage, tape, removable`},
		{"first layer without password", "datasets:\n  x:\n    paths: [/a]\n    layers:\n      - name: l\n        repository: /r\n        role: local\n        media: disk\n",
			`line 5: dataset "x", layer 1 ("l"): password is missing: backups are written to the first layer, so Lumbung needs its password (password: {file: ...} or {env: ...})`},
		{"secret with both", "datasets:\n  x:\n    paths: [/a]\n    layers:\n      - name: l\n        repository: /r\n        role: local\n        media: disk\n        password: {env: P, file: /p}\n",
			`line 9: dataset "x", layer 1 ("l"): password: give exactly one of file: (a file holding it) or env: (an environment variable)`},
		{"duplicate layer", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + layer1 + "\n",
			`line 10: dataset "x", layer 2 ("lokal"): the name "lokal" is used by an earlier layer of this dataset`},
		{"offline over network", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n      - name: usb\n        repository: s3:https://s/b\n        role: offline\n        media: removable\n",
			`line 11: dataset "x", layer 2 ("usb"): an offline layer is a directory (a removable disk or tape mount), not a s3: location`},
		{"token on s3", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n      - name: s3\n        repository: s3:https://s/b\n        role: offsite\n        media: object-storage\n        token: {env: T}\n",
			`line 14: dataset "x", layer 2 ("s3"): token is only used by rest: repositories`},
		{"bad bandwidth", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n      - name: p\n        repository: rest:https://p/x\n        role: regional\n        media: server\n        bandwidth: cepat\n",
			`line 14: dataset "x", layer 2 ("p"): bandwidth "cepat": write a number and a unit, e.g. 20Mbit, 30Mbps, 2MB or 512KiB`},
		{"bad window", "datasets:\n  x:\n    paths: [/a]\n    layers:" + layer1 + "\n      - name: p\n        repository: rest:https://p/x\n        role: regional\n        media: server\n        window: malam\n",
			`line 14: dataset "x", layer 2 ("p"): window "malam": want HH:MM-HH:MM, e.g. 19:00-06:00`},
		{"two problems at once", "datasets:\n  x:\n    paths: [a]\n    layers:\n      - name: l\n        repository: /r\n        role: local\n        media: hdd\n        password: {env: P}\n",
			"line 3: dataset \"x\": path \"a\" is not absolute: write it in full, e.g. /srv/x\n" +
				`line 8: dataset "x", layer 1 ("l"): media "hdd" is not one of disk, server, object-storage, tape, removable`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error is %T, want *ConfigError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func TestParseBandwidth(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"20Mbit", 2_500_000, false},
		{"30 Mbps", 3_750_000, false},
		{"1Gbit/s", 125_000_000, false},
		{"2MB", 2_000_000, false},
		{"512KiB", 512 << 10, false},
		{"1.5MiB", 3 << 19, false},
		{"100", 0, true},
		{"fast", 0, true},
		{"-5MB", 0, true},
		{"1kbit", 0, true}, // below 1 KiB/s
	}
	for _, tc := range tests {
		got, err := ParseBandwidth(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/pass"
	if err := writeFileAtomic(path, []byte("  rahasia\n")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LUMBUNG_TEST_SECRET", "dari-env")
	for _, tc := range []struct {
		s    *Secret
		want string
		err  string
	}{
		{&Secret{File: path}, "rahasia", ""},
		{&Secret{Env: "LUMBUNG_TEST_SECRET"}, "dari-env", ""},
		{&Secret{Env: "LUMBUNG_TEST_UNSET"}, "", "environment variable LUMBUNG_TEST_UNSET is empty or not set"},
		{&Secret{File: dir + "/none"}, "", "read secret from " + dir + "/none"},
	} {
		got, err := tc.s.ResolveOS()
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: got %q, %v", tc.s, got, err)
		}
		if strings.Contains(tc.s.String(), "rahasia") {
			t.Errorf("String() shows the secret")
		}
	}
}

// {env: NAME} secrets come from the getenv the caller gives, not from the
// process environment, so the in-process CLI can use its own environment.
func TestSecretResolveGetenv(t *testing.T) {
	t.Setenv("LUMBUNG_TEST_SECRET", "dari-proses")
	own := func(k string) string {
		if k == "LUMBUNG_TEST_SECRET" {
			return "dari-getenv"
		}
		return ""
	}
	s := &Secret{Env: "LUMBUNG_TEST_SECRET"}
	if got, err := s.Resolve(own); err != nil || got != "dari-getenv" {
		t.Errorf("Resolve(own) = %q, %v; want dari-getenv", got, err)
	}
	if got, err := s.Resolve(nil); err != nil || got != "dari-proses" {
		t.Errorf("Resolve(nil) = %q, %v; want dari-proses", got, err)
	}
	cfg, err := Load(strings.NewReader(`datasets:
  d:
    paths: ["/srv"]
    layers:
      - name: a
        repository: /tmp/a
        role: local
        media: disk
        password: {env: LUMBUNG_TEST_SECRET}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetGetenv(own)
	pw, err := cfg.Datasets["d"].Layers[0].PasswordBytes()
	if err != nil || string(pw) != "dari-getenv" {
		t.Errorf("layer password after SetGetenv = %q, %v; want dari-getenv", pw, err)
	}
}

// The documented example must stay valid.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadFile("../../docs/lumbung.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Order) != 2 || len(cfg.Datasets["siak"].Layers) != 4 || cfg.Datasets["siak-db"].StdinFilename != "siak.dump" {
		t.Errorf("example: %v", cfg.Order)
	}
}
