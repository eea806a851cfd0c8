package s3

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// handleT is a short way to write a handle in tables.
type handleT struct {
	t    backend.FileType
	name string
}

func (h handleT) handle() backend.Handle { return backend.Handle{Type: h.t, Name: h.name} }

func TestParseLocation(t *testing.T) {
	tests := []struct {
		in      string
		want    Config
		wantErr string // substring of the error; "" for success
	}{
		{in: "https://s3.example.go.id:9000/backup", want: Config{Endpoint: "s3.example.go.id:9000", Secure: true, Bucket: "backup"}},
		{in: "http://127.0.0.1:9000/backup/kab/siak/", want: Config{Endpoint: "127.0.0.1:9000", Bucket: "backup", Prefix: "kab/siak"}},
		{in: "https://h/b-1/p?retention=30d", want: Config{Endpoint: "h", Secure: true, Bucket: "b-1", Prefix: "p", Retention: 30 * 24 * time.Hour}},
		{in: "https://h/bkt?retention=36h&region=ap-southeast-3", want: Config{Endpoint: "h", Secure: true, Bucket: "bkt", Region: "ap-southeast-3", Retention: 36 * time.Hour}},
		{in: "https://h/bkt?retention=0", want: Config{Endpoint: "h", Secure: true, Bucket: "bkt"}},
		{in: "ftp://h/bkt", wantErr: "https://"},
		{in: "h/bkt", wantErr: "https://"},
		{in: "https://key:secret@h/bkt", wantErr: "credentials do not belong"},
		{in: "https:///bkt", wantErr: "no host"},
		{in: "https://h", wantErr: "no bucket"},
		{in: "https://h/", wantErr: "no bucket"},
		{in: "https://h/Bad_Bucket", wantErr: "bucket name"},
		{in: "https://h/bkt/a//b", wantErr: "prefix"},
		{in: "https://h/bkt/a/../b", wantErr: "prefix"},
		{in: "https://h/bkt?retention=30", wantErr: "retention"},
		{in: "https://h/bkt?retention=-1h", wantErr: "negative"},
		{in: "https://h/bkt?retention=xd", wantErr: "days"},
		{in: "https://h/bkt?retention=99999d", wantErr: "refused"},
		{in: "https://h/bkt?retention=1ns", wantErr: "less than a second"},
		{in: "https://h/bkt?retension=30d", wantErr: "unknown option"},
		{in: "https://h/bkt?retention=1d&retention=2d", wantErr: "2 times"},
		{in: "https://h/bkt?region=", wantErr: "region is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLocation(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLocation(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLocation(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLocation(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			// The canonical string parses back to the same config.
			again, err := ParseLocation(strings.TrimPrefix(got.String(), "s3:"))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("String() = %q parses to %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	name := strings.Repeat("ab", 32)
	for _, prefix := range []string{"", "kab/siak"} {
		b := &Backend{cfg: Config{Prefix: prefix}}
		p := ""
		if prefix != "" {
			p = prefix + "/"
		}
		for _, tt := range []struct {
			h    handleT
			want string
		}{
			{handleT{1, ""}, p + "config"},
			{handleT{2, name}, p + "keys/" + name},
			{handleT{3, name}, p + "data/ab/" + name},
			{handleT{4, name}, p + "index/" + name},
			{handleT{5, name}, p + "snapshots/" + name},
			{handleT{6, name}, p + "locks/" + name},
		} {
			h := tt.h.handle()
			got, err := b.key(h)
			if err != nil || got != tt.want {
				t.Errorf("prefix %q: key(%v) = %q, %v; want %q", prefix, h, got, err, tt.want)
			}
			back, ok := b.handleOf(h.Type, got)
			if !ok || back != h {
				t.Errorf("prefix %q: handleOf(%v, %q) = %v, %v; want %v", prefix, h.Type, got, back, ok, h)
			}
		}
		// Foreign keys under the prefix are not files.
		for _, tt := range []struct {
			h   handleT
			key string
		}{
			{handleT{3, ""}, p + "data/" + name},         // pack outside its fan-out directory
			{handleT{3, ""}, p + "data/cd/" + name},      // in the wrong one
			{handleT{4, ""}, p + "index/sub/" + name},    // nested
			{handleT{4, ""}, p + "index/" + "NOTHEX"},    // not hex
			{handleT{1, ""}, p + "configX"},              // not the config
			{handleT{5, ""}, p + "snapshots/" + "x.tmp"}, // stray file
		} {
			if h, ok := b.handleOf(tt.h.handle().Type, tt.key); ok {
				t.Errorf("prefix %q: handleOf(%q) = %v, want it skipped", prefix, tt.key, h)
			}
		}
	}
}

func TestOpTimeoutGrowsWithSize(t *testing.T) {
	if small, big := opTimeout(0), opTimeout(1<<30); small < time.Minute || big <= small {
		t.Errorf("opTimeout(0) = %v, opTimeout(1 GiB) = %v", small, big)
	}
}
