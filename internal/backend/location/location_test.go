package location

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		scheme  string
		path    string
		wantErr bool
	}{
		{in: "/srv/repo", scheme: "local", path: "/srv/repo"},
		{in: "local:/srv/repo", scheme: "local", path: "/srv/repo"},
		{in: `C:\backup\repo`, scheme: "local", path: `C:\backup\repo`},
		{in: "relative/repo", scheme: "local", path: "relative/repo"},
		{in: "odd:name", scheme: "local", path: "odd:name"},
		{in: "", wantErr: true},
		{in: "local:", wantErr: true},
		{in: "sftp:host:/repo", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.Scheme != tt.scheme || got.Path != tt.path {
			t.Errorf("Parse(%q) = %+v, want scheme %q path %q", tt.in, got, tt.scheme, tt.path)
		}
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LUMBUNG_TOKEN", "")
	t.Setenv("LUMBUNG_TOKEN_FILE", dir+"/missing")
	if _, err := CredentialsFromEnv(os.Getenv); err == nil {
		t.Fatal("a missing LUMBUNG_TOKEN_FILE must be an error")
	}
	t.Setenv("LUMBUNG_TOKEN", "tok")
	c, err := CredentialsFromEnv(os.Getenv)
	if err != nil || c.Token != "tok" {
		t.Fatalf("LUMBUNG_TOKEN wins over the file: got %+v, %v", c, err)
	}
}
