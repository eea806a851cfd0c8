package layers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// The dataset commands of these tests are this test binary itself, run as
// a helper process (portable: no shell needed).
const helperEnv = "LUMBUNG_LAYERS_TEST_COMMAND"

func TestHelperCommand(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return // an ordinary run of the test binary: nothing to do
	}
	switch mode {
	case "ok":
		// More than a pipe holds, so a reader that stops early leaves the
		// command blocked in a write.
		fmt.Print(strings.Repeat("baris dump\n", 100000))
		os.Exit(0)
	case "fail":
		fmt.Print(strings.Repeat("baris dump\n", 100))
		// Much more than the kept tail, so the test can see it bounded.
		fmt.Fprint(os.Stderr, strings.Repeat("x", 3*CommandTailBytes))
		fmt.Fprint(os.Stderr, "\npg_dump: error: connection to server failed\n")
		os.Exit(3)
	}
	os.Exit(99)
}

func helperDataset(t *testing.T, mode string) *Dataset {
	t.Helper()
	t.Setenv(helperEnv, mode)
	return &Dataset{Name: "siak-db", StdinFilename: "siak.dump", Command: []string{os.Args[0], "-test.run=^TestHelperCommand$"}}
}

func TestBackupCommand(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		wantErr   bool
		snapshots int
	}{
		{"ok", false, 1},
		{"fail", true, 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx := context.Background()
			be, err := local.Create(ctx, filepath.Join(t.TempDir(), "repo"))
			if err != nil {
				t.Fatal(err)
			}
			repo, err := repository.Init(ctx, be, testPassword, testRepoOpts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := BackupCommand(ctx, repo, helperDataset(t, tc.mode), archiver.Options{Dataset: "siak-db"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				var ce *CommandError
				if res != nil || !errors.Is(err, ErrCommandFailed) || !errors.As(err, &ce) {
					t.Fatalf("res %v, err %v: want no result and a *CommandError", res, err)
				}
				if !strings.HasSuffix(ce.StderrTail, "pg_dump: error: connection to server failed") || len(ce.StderrTail) > CommandTailBytes {
					t.Errorf("stderr tail (%d bytes) %q", len(ce.StderrTail), ce.StderrTail)
				}
				if !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "no snapshot was saved") {
					t.Errorf("error %q", err)
				}
			} else if res == nil {
				t.Fatal("no result")
			}
			n := 0
			if err := be.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != tc.snapshots {
				t.Errorf("%d snapshots saved, want %d", n, tc.snapshots)
			}
		})
	}
}

// A source closed before the end stops the command and reports it failed,
// so a half-read dump is never taken for a whole one.
func TestCommandSourceClosedEarly(t *testing.T) {
	src, err := StartCommand(context.Background(), helperDataset(t, "ok"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(src, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); !errors.Is(err, ErrCommandFailed) || !errors.Is(src.Err(), ErrCommandFailed) {
		t.Errorf("Close of a half-read command = %v, want ErrCommandFailed", err)
	}
	if _, err := StartCommand(context.Background(), &Dataset{Name: "x", Command: []string{filepath.Join(t.TempDir(), "no-such-program")}}); !errors.Is(err, ErrCommandFailed) {
		t.Errorf("missing program: %v, want ErrCommandFailed", err)
	}
}
