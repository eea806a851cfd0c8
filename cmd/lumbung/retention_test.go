package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The extension itself runs against MinIO in internal/layers
// (TestExtendRetentionS3); here: the command's arguments and the layers
// that have no retention, which need no server.
func TestRetentionCommandArguments(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.withRepo(filepath.Join(dir, "lokal")).ok("init")
	cfg := filepath.Join(dir, "lumbung.yaml")
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte(testPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	// The s3 layer has no retention configured and its server does not
	// exist: without --days the command must stop before connecting.
	text := `datasets:
  siak:
    paths: [/srv/siak]
    layers:
      - name: lokal
        repository: ` + filepath.Join(dir, "lokal") + `
        role: local
        media: disk
        password: {file: ` + pass + `}
      - name: awan
        repository: s3:http://127.0.0.1:1/bucket/siak
        role: offsite
        media: object-storage
  simpeg:
    paths: [/srv/simpeg]
    layers:
      - name: lokal
        repository: ` + filepath.Join(dir, "lokal") + `
        role: local
        media: disk
        password: {file: ` + pass + `}
`
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no subcommand", []string{"retention"}, exitUsage, []string{"subcommand", "extend"}},
		{"unknown subcommand", []string{"retention", "shorten"}, exitUsage, []string{`"shorten"`, "known: extend"}},
		{"extra argument", []string{"retention", "extend", "x"}, exitUsage, []string{"no arguments"}},
		{"negative days", []string{"retention", "extend", "--days", "-1", "--repo", "s3:http://127.0.0.1:1/b"}, exitUsage, []string{"--days -1"}},
		{"too many days", []string{"retention", "extend", "--days", "4000", "--repo", "s3:http://127.0.0.1:1/b"}, exitUsage, []string{"--days 4000", "never be shortened"}},
		{"repo and config", []string{"retention", "extend", "--repo", "s3:http://127.0.0.1:1/b", "--config", cfg}, exitUsage, []string{"either --repo or --config"}},
		{"local repo", []string{"retention", "extend", "--repo", filepath.Join(dir, "lokal"), "--days", "3"}, exitFailed, []string{"not on object storage", "no retention to extend"}},
		{"local layer named", []string{"retention", "extend", "--config", cfg, "--dataset", "siak", "--layer", "lokal"}, exitFailed, []string{"layer lokal", "not on object storage"}},
		{"unknown layer", []string{"retention", "extend", "--config", cfg, "--dataset", "siak", "--layer", "usb"}, exitUsage, []string{"usb"}},
		{"no retention configured", []string{"retention", "extend", "--config", cfg, "--dataset", "siak"}, exitUsage, []string{"layer awan", "give --days N"}},
		{"dataset without s3 layer", []string{"retention", "extend", "--config", cfg, "--dataset", "simpeg"}, exitFailed, []string{"simpeg", "no s3: layer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.on(t).fails(tt.code, tt.args, tt.want...)
		})
	}

	// Layers without retention are reported as skipped, not silently left.
	o := c.run("retention", "extend", "--config", cfg, "--dataset", "simpeg", "--json")
	skip := message[retentionSkipJSON](t, o, "retention_skipped")
	if skip.Layer != "lokal" || !strings.Contains(skip.Reason, "no retention") {
		t.Errorf("skipped layer: %+v", skip)
	}

	if o := c.ok("help"); !strings.Contains(o.stdout, "retention") {
		t.Errorf("help does not list retention:\n%s", o.stdout)
	}
}
