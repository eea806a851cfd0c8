//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// The pg_dump tests are the main users' real use, end to end against a real
// PostgreSQL (internal/testservers): a population register is dumped by a
// dataset command or piped into --stdin, restored from the repository, loaded
// into a new database, and compared row by row.

// pendudukRows is the size of the register: a few thousand rows, some with
// a few KiB of incompressible bytes, so the dump spans several chunks.
const pendudukRows = 5000

// createPenduduk fills database db with the table penduduk: Unicode names,
// NULLs in every nullable column, and bytea with NUL and high bytes.
func createPenduduk(t *testing.T, pg *testservers.PostgresServer, db string) {
	t.Helper()
	pg.Psql(t, db,
		`CREATE TABLE penduduk (
			nik char(16) PRIMARY KEY,
			nama text NOT NULL,
			alamat text,
			tanggal_lahir date,
			foto bytea)`,
		`INSERT INTO penduduk
		SELECT '3201' || lpad(i::text, 12, '0'),
			(ARRAY['Ñoman Śuryani', 'Budi Santoso', 'Siti Nur''aini', 'I Gusti Ayu Ketut Ārya', 'Đặng Thị Hà'])[1 + i % 5] || ' ' || i,
			CASE WHEN i % 7 = 0 THEN NULL ELSE 'Jl. Merdeka No. ' || i || E', RT 01/RW 02\nKab. Bandung' END,
			CASE WHEN i % 11 = 0 THEN NULL ELSE date '1940-01-01' + (i * 37) % 30000 END,
			CASE WHEN i % 3 = 0 THEN NULL
				WHEN i % 10 = 1 THEN (SELECT string_agg(decode(md5(i || '-' || j), 'hex'), ''::bytea) FROM generate_series(1, 200) j)
				ELSE decode(md5(i::text), 'hex') || '\x00ff'::bytea END
		FROM generate_series(1, `+strconv.Itoa(pendudukRows)+`) i`)
}

// pendudukChecksum is the row count and an MD5 over every row of
// penduduk (its text form, in nik order): equal checksums mean equal data.
func pendudukChecksum(t *testing.T, pg *testservers.PostgresServer, db string) string {
	t.Helper()
	return pg.Psql(t, db, `SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY nik)) FROM penduduk t`)
}

// yamlList writes args as a YAML flow sequence of double-quoted strings.
func yamlList(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TestPgDumpRoundTrip backs up a real database the three ways users meet:
// a dataset whose command is pg_dump (custom format, restored with
// pg_restore), pg_dump piped into `backup --stdin` (plain SQL, loaded with
// psql), and a pg_dump that fails, which must leave no snapshot.
func TestPgDumpRoundTrip(t *testing.T) {
	pg := testservers.PostgreSQL(t)
	pg.CreateDatabase(t, "siak")
	createPenduduk(t, pg, "siak")
	want := pendudukChecksum(t, pg, "siak")
	if !strings.HasPrefix(want, strconv.Itoa(pendudukRows)+" ") {
		t.Fatalf("the source database holds %q, want %d rows", want, pendudukRows)
	}

	c := newCLI(t)
	dir := t.TempDir()
	repo, pass := filepath.Join(dir, "repo"), filepath.Join(dir, "pass")
	c = c.withRepo(repo)
	if err := os.WriteFile(pass, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("init")
	// writeConfig writes a config whose dataset siak dumps database db.
	writeConfig := func(name, db string) string {
		command := append([]string{pg.Tool("pg_dump"), "--format=custom"}, pg.ConnArgs()...)
		cfg := filepath.Join(dir, name)
		body := fmt.Sprintf(`datasets:
  siak:
    command: %s
    stdin_filename: siak.dump
    layers:
      - name: lokal
        repository: %q
        role: local
        media: disk
        password: {file: %q}
`, yamlList(append(command, db)), repo, pass)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	snapshots := func(t *testing.T) int {
		t.Helper()
		return len(decodeAll[[]snapshotJSONOut](t, c.on(t).ok("snapshots", "--json")))
	}

	t.Run("dataset command", func(t *testing.T) {
		c := c.on(t)
		cfg := writeConfig("lumbung.yaml", "siak")
		o := c.ok("backup", "--config", cfg, "--dataset", "siak", "--json")
		snap := message[backupSummaryOut](t, o, "summary")
		if snap.SnapshotID == "" || snap.FilesNew != 1 {
			t.Errorf("backup summary %+v, want one new file", snap)
		}
		target := t.TempDir()
		c.ok("restore", "--config", cfg, "--dataset", "siak", "latest", "--target", target)
		dump := filepath.Join(target, "siak.dump")
		if archive := readFile(t, dump); !strings.HasPrefix(archive, "PGDMP") {
			t.Fatalf("the restored siak.dump is not a pg_dump custom archive: %q", clip(archive, 40))
		}
		pg.CreateDatabase(t, "siak_pulih")
		runPgTool(t, pg, "pg_restore", "--exit-on-error", "-d", "siak_pulih", dump)
		if got := pendudukChecksum(t, pg, "siak_pulih"); got != want {
			t.Errorf("siak_pulih (pg_restore of the restored dump) = %q, want %q as in siak", got, want)
		}
		if n := pg.Psql(t, "siak_pulih", `SELECT count(*) FROM penduduk WHERE nama LIKE 'Ñoman Śuryani %' AND alamat IS NULL`); n == "0" {
			t.Error("no Ñoman Śuryani without address after the restore")
		}
	})

	t.Run("stdin", func(t *testing.T) {
		c := c.on(t)
		// pg_dump's output is streamed into the backup, as in
		// `pg_dump siak | lumbung backup --stdin`, and hashed on the way.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		dump := pg.Command(ctx, "pg_dump", "siak")
		var stderr bytes.Buffer
		dump.Stdout, dump.Stderr = w, &stderr
		if err := dump.Start(); err != nil {
			w.Close()
			t.Fatal(err)
		}
		w.Close() // pg_dump holds the write end; EOF comes when it exits
		piped := sha256.New()
		o := c.runStdin(io.TeeReader(r, piped), "backup", "--stdin", "--stdin-filename", "siak.sql", "--json")
		r.Close() // a backup that stopped early must not leave pg_dump blocked
		if err := dump.Wait(); err != nil {
			t.Fatalf("pg_dump siak: %v: %s", err, stderr.String())
		}
		if o.code != exitOK {
			t.Fatalf("backup --stdin: %v", o)
		}
		snap := message[backupSummaryOut](t, o, "summary").SnapshotID
		target := t.TempDir()
		c.ok("restore", snap, "--target", target)
		sql := filepath.Join(target, "siak.sql")
		if got := sha256.Sum256([]byte(readFile(t, sql))); !bytes.Equal(got[:], piped.Sum(nil)) {
			t.Fatal("the restored siak.sql differs from what pg_dump wrote")
		}
		pg.CreateDatabase(t, "siak_pulih2")
		runPgTool(t, pg, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "siak_pulih2", "-f", sql)
		if got := pendudukChecksum(t, pg, "siak_pulih2"); got != want {
			t.Errorf("siak_pulih2 (psql of the restored dump) = %q, want %q as in siak", got, want)
		}

		// Without a restore target: `lumbung dump SNAP /siak.sql | psql`.
		dumped := c.ok("dump", snap, "/siak.sql")
		if got := sha256.Sum256([]byte(dumped.stdout)); !bytes.Equal(got[:], piped.Sum(nil)) {
			t.Fatal("lumbung dump wrote something else than what pg_dump wrote")
		}
		pg.CreateDatabase(t, "siak_pulih3")
		psql := pg.Command(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "siak_pulih3")
		psql.Stdin = strings.NewReader(dumped.stdout)
		if out, err := psql.CombinedOutput(); err != nil {
			t.Fatalf("lumbung dump | psql: %v\n%s", err, clip(string(out), 3000))
		}
		if got := pendudukChecksum(t, pg, "siak_pulih3"); got != want {
			t.Errorf("siak_pulih3 (lumbung dump | psql) = %q, want %q as in siak", got, want)
		}
	})

	t.Run("failing pg_dump", func(t *testing.T) {
		c := c.on(t)
		before := snapshots(t)
		cfg := writeConfig("salah.yaml", "siak_tidak_ada")
		c.fails(exitFailed, []string{"backup", "--config", cfg, "--dataset", "siak"},
			"pg_dump", `database "siak_tidak_ada" does not exist`, "no snapshot was saved")
		if after := snapshots(t); after != before {
			t.Errorf("%d snapshots after the failing pg_dump, want %d as before", after, before)
		}
	})
}

// runPgTool runs a PostgreSQL client program against pg and fails t with
// its output when it fails.
func runPgTool(t *testing.T, pg *testservers.PostgresServer, tool string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := pg.Command(ctx, tool, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, clip(string(out), 3000))
	}
}
