// Command corpus generates the deterministic benchmark corpus used by
// bench/run.sh and bench/growth.sh.
//
//	go run ./bench/corpus -dir /tmp/corpus -size 1G -seed 1
//	go run ./bench/corpus -dir /tmp/corpus -size 1G -seed 1 -mutate 1   # step 1
//	go run ./bench/corpus -dir /tmp/corpus -size 1G -seed 1 -mutate 2   # step 2 ...
//
// The same -seed and -size always produce byte-identical file contents and
// the same tree (mtimes are whatever the filesystem assigns). The byte mix is
// roughly:
//
//   - 40% one PostgreSQL-style SQL dump (INSERT rows of a population
//     register: NIK, KK number, Indonesian names, addresses, dates),
//     compressible ~4-8x;
//   - 25% many small text files (txt, md, csv, json, html, log; 1-64 KiB,
//     ~24k files per GiB) spread over nested directories, compressible ~3x;
//   - 35% incompressible "media" (random bytes behind JPEG/PDF/ZIP/MP4
//     headers, 1-50 MiB each).
//
// -mutate N applies step N of the slowly changing corpus to an existing
// corpus generated with the same -seed and -size: ~1% of the small files are
// edited (append, in-place edit that shifts the rest of the file, or
// rewrite), rows are appended to the SQL dump (size/1000 bytes), and a few
// files are added (5 small text files and one size/512 JPEG). Steps must be
// applied in order 1, 2, 3, ... to a fresh corpus to be reproducible.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30

	sqlShare   = 0.40
	smallShare = 0.25 // media gets the remaining ~0.35

	sqlRelPath = "db/dukcapil_penduduk.sql"
)

type kind int

const (
	kSQL kind = iota
	kTxt
	kMd
	kCSV
	kJSON
	kHTML
	kLog
	kJPEG
	kPDF
	kZIP
	kMP4
)

var kindExt = map[kind]string{
	kSQL: ".sql", kTxt: ".txt", kMd: ".md", kCSV: ".csv", kJSON: ".json", kHTML: ".html", kLog: ".log",
	kJPEG: ".jpg", kPDF: ".pdf", kZIP: ".zip", kMP4: ".mp4",
}

func kindOfPath(p string) kind {
	ext := filepath.Ext(p)
	for k, e := range kindExt {
		if e == ext {
			return k
		}
	}
	return kTxt
}

type job struct {
	rel    string
	kind   kind
	size   int64
	s1, s2 uint64
}

func main() {
	var (
		dir     = flag.String("dir", "", "output directory (must be empty or absent; for -mutate: an existing corpus)")
		sizeStr = flag.String("size", "1G", "total corpus size: bytes or with K/M/G suffix (binary units: 1G = 1 GiB)")
		seed    = flag.Uint64("seed", 1, "PRNG seed")
		step    = flag.Int("mutate", 0, "apply mutation step N (>=1) to an existing corpus instead of generating")
		quiet   = flag.Bool("q", false, "print nothing on success")
	)
	flag.Parse()
	if *dir == "" {
		fatalf("-dir is required")
	}
	size, err := parseSize(*sizeStr)
	if err != nil {
		fatalf("-size: %v", err)
	}
	if size < 4*MiB {
		fatalf("-size must be at least 4M")
	}
	start := time.Now()
	if *step > 0 {
		st, err := mutate(*dir, *seed, size, *step)
		if err != nil {
			fatalf("mutate step %d: %v", *step, err)
		}
		if !*quiet {
			fmt.Printf("mutate step %d: %d small files modified, %d bytes appended to SQL dump, %d files added (%d bytes) in %.2fs\n",
				*step, st.modified, st.sqlAppended, st.added, st.addedBytes, time.Since(start).Seconds())
		}
		return
	}
	if *step < 0 {
		fatalf("-mutate must be >= 1")
	}
	st, err := generate(*dir, *seed, size)
	if err != nil {
		fatalf("generate: %v", err)
	}
	if !*quiet {
		el := time.Since(start).Seconds()
		fmt.Printf("corpus %s: seed=%d size=%s\n", *dir, *seed, *sizeStr)
		fmt.Printf("  sql dump : %6d files %10.1f MiB\n", st.n[0], float64(st.b[0])/MiB)
		fmt.Printf("  small    : %6d files %10.1f MiB in %d directories\n", st.n[1], float64(st.b[1])/MiB, st.dirs)
		fmt.Printf("  media    : %6d files %10.1f MiB\n", st.n[2], float64(st.b[2])/MiB)
		total := st.b[0] + st.b[1] + st.b[2]
		fmt.Printf("  total    : %6d files %10.1f MiB in %.2fs (%.0f MiB/s)\n", st.n[0]+st.n[1]+st.n[2], float64(total)/MiB, el, float64(total)/MiB/el)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "corpus: "+format+"\n", a...)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "IB"), "B")
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult, s = KiB, s[:n-1]
		case 'M':
			mult, s = MiB, s[:n-1]
		case 'G':
			mult, s = GiB, s[:n-1]
		case 'T':
			mult, s = GiB*1024, s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}

// ---------------------------------------------------------------- planning

func plan(seed uint64, size int64) (jobs []job, dirs []string) {
	r := rand.New(rand.NewPCG(seed, 0x636f72707573))
	sqlBytes := int64(float64(size) * sqlShare)
	smallBudget := int64(float64(size) * smallShare)
	mediaBudget := size - sqlBytes - smallBudget

	jobs = append(jobs, job{rel: sqlRelPath, kind: kSQL, size: sqlBytes, s1: r.Uint64(), s2: r.Uint64()})

	// Incompressible media: log-uniform 1..50 MiB; the last file takes the rest.
	var used int64
	for i := 0; used < mediaBudget; i++ {
		sz := int64(math.Exp(r.Float64()*math.Log(50)) * MiB)
		if rem := mediaBudget - used; sz >= rem || rem-sz < MiB/2 {
			sz = rem
		}
		var k kind
		var rel string
		switch x := r.IntN(100); {
		case x < 35:
			k, rel = kJPEG, fmt.Sprintf("media/foto/%d/IMG_%05d.jpg", 2016+r.IntN(9), i)
		case x < 70:
			k, rel = kPDF, fmt.Sprintf("media/scan/%s/scan_%05d.pdf", departments[r.IntN(len(departments))], i)
		case x < 85:
			k, rel = kZIP, fmt.Sprintf("media/arsip/backup_%05d.zip", i)
		default:
			k, rel = kMP4, fmt.Sprintf("media/video/VID_%05d.mp4", i)
		}
		jobs = append(jobs, job{rel: rel, kind: k, size: sz, s1: r.Uint64(), s2: r.Uint64()})
		used += sz
	}

	// Small files: size = 1 KiB * 62^(u^1.6), mean ~11 KiB; generators overshoot
	// their target by at most ~1.5 KiB, so files land in 1..64 KiB.
	expected := int(smallBudget/(11*KiB)) + 1
	nLeaf := max(4, expected/24)
	seen := map[string]bool{}
	for len(dirs) < nLeaf {
		d := "docs/" + departments[r.IntN(len(departments))] + "/" + strconv.Itoa(2016+r.IntN(9))
		switch r.IntN(4) {
		case 1:
			d += "/" + months[r.IntN(12)]
		case 2:
			d += "/" + months[r.IntN(12)] + "/" + subDirs[r.IntN(len(subDirs))]
		case 3:
			d += "/" + slug(placeNames[r.IntN(len(placeNames))]) + "/" + subDirs[r.IntN(len(subDirs))]
		}
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	used = 0
	for i := 0; used < smallBudget; i++ {
		sz := int64(smallSize(r))
		k := pickSmallKind(r)
		name := smallPrefix(r, k) + "_" + pad5(i) + kindExt[k]
		jobs = append(jobs, job{rel: dirs[r.IntN(len(dirs))] + "/" + name, kind: k, size: sz, s1: r.Uint64(), s2: r.Uint64()})
		used += sz
	}
	for _, j := range jobs[1:] {
		if j.kind >= kJPEG {
			dirs = append(dirs, filepath.Dir(j.rel))
		}
	}
	dirs = append(dirs, filepath.Dir(sqlRelPath))
	return jobs, dirs
}

func smallSize(r *rand.Rand) float64 { return KiB * math.Pow(62, math.Pow(r.Float64(), 1.6)) }

func pickSmallKind(r *rand.Rand) kind {
	switch x := r.IntN(100); {
	case x < 25:
		return kTxt
	case x < 35:
		return kMd
	case x < 55:
		return kCSV
	case x < 70:
		return kJSON
	case x < 85:
		return kHTML
	default:
		return kLog
	}
}

var smallPrefixes = map[kind][]string{
	kTxt:  {"surat_keterangan", "nota_dinas", "notulen_rapat", "surat_edaran", "undangan"},
	kMd:   {"catatan", "panduan", "readme", "sop"},
	kCSV:  {"rekap_penduduk", "daftar_hadir", "realisasi_anggaran", "data_bansos"},
	kJSON: {"data_warga", "export_api", "config", "antrian"},
	kHTML: {"halaman", "berita", "pengumuman", "profil"},
	kLog:  {"siak", "gateway", "sync", "cetak"},
}

func smallPrefix(r *rand.Rand, k kind) string {
	p := smallPrefixes[k]
	return p[r.IntN(len(p))]
}

func slug(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "_") }

func pad5(i int) string {
	s := strconv.Itoa(i)
	if len(s) < 5 {
		s = strings.Repeat("0", 5-len(s)) + s
	}
	return s
}

// ---------------------------------------------------------------- generation

type stats struct {
	n    [3]int
	b    [3]int64
	dirs int
}

func generate(dir string, seed uint64, size int64) (stats, error) {
	var st stats
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return st, fmt.Errorf("%s exists and is not empty", dir)
	}
	jobs, dirs := plan(seed, size)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return st, err
		}
	}
	st.dirs = len(dirs)

	ch := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	written := make([]int64, len(jobs))
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := &gen{}
			for i := range ch {
				n, err := writeJob(g, filepath.Join(dir, jobs[i].rel), jobs[i])
				written[i] = n
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range jobs { // SQL first, then media, then small files
		ch <- i
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return st, firstErr
	}
	for i, j := range jobs {
		c := 1
		switch {
		case j.kind == kSQL:
			c = 0
		case j.kind >= kJPEG:
			c = 2
		}
		st.n[c]++
		st.b[c] += written[i]
	}
	return st, nil
}

func writeJob(g *gen, path string, j job) (int64, error) {
	g.r = rand.New(rand.NewPCG(j.s1, j.s2))
	g.b = g.b[:0]
	switch {
	case j.kind == kSQL:
		return writeSQL(g, path, j.size)
	case j.kind >= kJPEG:
		return writeMedia(path, j.kind, j.size, j.s1, j.s2, 0)
	default:
		genSmall(g, j.kind, int(j.size))
		return int64(len(g.b)), os.WriteFile(path, g.b, 0o644)
	}
}

// gen accumulates generated text in b using r.
type gen struct {
	r *rand.Rand
	b []byte
}

func (g *gen) s(s string) { g.b = append(g.b, s...) }
func (g *gen) c(c byte)   { g.b = append(g.b, c) }
func (g *gen) pick(list []string) string {
	return list[g.r.IntN(len(list))]
}

// num appends v zero-padded to width digits.
func (g *gen) num(v, width int) {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for len(tmp)-i < width {
		i--
		tmp[i] = '0'
	}
	g.b = append(g.b, tmp[i:]...)
}

func (g *gen) int(v int) { g.b = strconv.AppendInt(g.b, int64(v), 10) }

// word appends a prose word, skewed towards the front of the table.
func (g *gen) word() {
	n := uint32(len(proseWords))
	g.s(proseWords[g.r.Uint32N(n)*g.r.Uint32N(n)/n])
}

func (g *gen) sentence() {
	start := len(g.b)
	n := 6 + g.r.IntN(15)
	for i := 0; i < n; i++ {
		if i > 0 {
			if g.r.IntN(12) == 0 {
				g.c(',')
			}
			g.c(' ')
		}
		switch g.r.IntN(40) {
		case 0:
			g.name(g.r.IntN(2) == 0)
		case 1:
			g.s("nomor ")
			g.int(100 + g.r.IntN(900))
			g.c('/')
			g.int(g.r.IntN(10000))
			g.c('/')
			g.int(2016 + g.r.IntN(9))
		case 2:
			g.s(g.pick(placeNames))
		default:
			g.word()
		}
	}
	if c := g.b[start]; c >= 'a' && c <= 'z' {
		g.b[start] = c - 32
	}
	g.s(". ")
}

func (g *gen) paragraph() {
	n := 2 + g.r.IntN(6)
	for i := 0; i < n; i++ {
		g.sentence()
	}
	g.b[len(g.b)-1] = '\n'
	g.c('\n')
}

func (g *gen) name(female bool) {
	if female {
		g.s(g.pick(femaleNames))
	} else {
		g.s(g.pick(maleNames))
	}
	switch g.r.IntN(6) {
	case 0: // mononym
	case 1:
		g.c(' ')
		g.s(g.pick(femaleNames))
		g.c(' ')
		g.s(g.pick(familyNames))
	default:
		g.c(' ')
		g.s(g.pick(familyNames))
	}
}

func (g *gen) date(y0, span int) {
	g.int(y0 + g.r.IntN(span))
	g.c('-')
	g.num(1+g.r.IntN(12), 2)
	g.c('-')
	g.num(1+g.r.IntN(28), 2)
}

func (g *gen) timestamp(y0, span int) {
	g.date(y0, span)
	g.c(' ')
	g.num(g.r.IntN(24), 2)
	g.c(':')
	g.num(g.r.IntN(60), 2)
	g.c(':')
	g.num(g.r.IntN(60), 2)
}

type region struct {
	provCode, kabCode, kecCode string
	prov, kab, kec, kel        string
}

var regions = func() []region {
	r := rand.New(rand.NewPCG(7, 7))
	var out []region
	for _, p := range provinces {
		for ki, kab := range p.kabs {
			code := 1 + ki
			if strings.HasPrefix(kab, "Kota") {
				code = 71 + ki
			}
			for c := 0; c < 6; c++ {
				kec := placeNames[r.IntN(len(placeNames))]
				for l := 0; l < 4; l++ {
					out = append(out, region{p.code, fmt.Sprintf("%02d", code), fmt.Sprintf("%02d", 1+c*3+r.IntN(3)),
						p.name, kab, kec, placeNames[r.IntN(len(placeNames))]})
				}
			}
		}
	}
	return out
}()

func (g *gen) regionCode(rg *region) {
	g.s(rg.provCode)
	g.s(rg.kabCode)
	g.s(rg.kecCode)
}

func (g *gen) address() {
	g.s("Jl. ")
	g.s(g.pick(streetNames))
	g.s(" No. ")
	g.int(1 + g.r.IntN(250))
	if g.r.IntN(5) == 0 {
		g.c(byte('A' + g.r.IntN(3)))
	}
}

// ------------------------------------------------------------ SQL dump

const sqlHeader = `--
-- PostgreSQL database dump
--

-- Dumped from database version 15.6 (Debian 15.6-0+deb12u1)
-- Dumped by pg_dump version 15.6 (Debian 15.6-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: penduduk; Type: TABLE; Schema: public; Owner: siak
--

CREATE TABLE public.penduduk (
    id bigint NOT NULL,
    nik character(16) NOT NULL,
    no_kk character(16) NOT NULL,
    nama character varying(100) NOT NULL,
    jenis_kelamin character(1) NOT NULL,
    tempat_lahir character varying(60),
    tanggal_lahir date,
    golongan_darah character varying(2),
    agama character varying(20),
    status_perkawinan character varying(20),
    pekerjaan character varying(60),
    pendidikan character varying(40),
    hubungan_keluarga character varying(30),
    alamat character varying(200),
    rt character(3),
    rw character(3),
    kelurahan character varying(60),
    kecamatan character varying(60),
    kabupaten character varying(60),
    provinsi character varying(60),
    kewarganegaraan character(3),
    created_at timestamp without time zone,
    updated_at timestamp without time zone
);


ALTER TABLE public.penduduk OWNER TO siak;

--
-- Data for Name: penduduk; Type: TABLE DATA; Schema: public; Owner: siak
--

`

const sqlKKHeader = `

--
-- Name: keluarga; Type: TABLE; Schema: public; Owner: siak
--

CREATE TABLE public.keluarga (
    no_kk character(16) NOT NULL,
    kepala_keluarga character varying(100) NOT NULL,
    alamat character varying(200),
    rt character(3),
    rw character(3),
    kode_pos character(5),
    kelurahan character varying(60),
    tanggal_terbit date
);


ALTER TABLE public.keluarga OWNER TO siak;

--
-- Data for Name: keluarga; Type: TABLE DATA; Schema: public; Owner: siak
--

`

const sqlFooter = `

--
-- Name: penduduk penduduk_pkey; Type: CONSTRAINT; Schema: public; Owner: siak
--

ALTER TABLE ONLY public.penduduk
    ADD CONSTRAINT penduduk_pkey PRIMARY KEY (id);

CREATE UNIQUE INDEX penduduk_nik_idx ON public.penduduk USING btree (nik);
CREATE INDEX penduduk_no_kk_idx ON public.penduduk USING btree (no_kk);

--
-- PostgreSQL database dump complete
--

`

// family appends the INSERT rows of one family (1-7 members) to g.b and
// returns the number of rows; ids start at id.
func (g *gen) family(id int) int {
	rg := &regions[g.r.IntN(len(regions))]
	// KK number: region + issue date DDMMYY + serial
	kk := len(g.b)
	g.regionCode(rg)
	g.num(1+g.r.IntN(28), 2)
	g.num(1+g.r.IntN(12), 2)
	g.num(g.r.IntN(24), 2)
	g.num(1+g.r.IntN(9999), 4)
	var kkBuf [16]byte
	copy(kkBuf[:], g.b[kk:])
	g.b = g.b[:kk]

	addr := len(g.b)
	g.address()
	addrStr := string(g.b[addr:])
	g.b = g.b[:addr]
	rt, rw := 1+g.r.IntN(15), 1+g.r.IntN(12)
	place := g.pick(placeNames)
	family := g.pick(familyNames)
	created := 2012 + g.r.IntN(12)

	n := 1 + g.r.IntN(7)
	for m := 0; m < n; m++ {
		female := g.r.IntN(2) == 0
		if m == 0 {
			female = g.r.IntN(5) == 0
		} else if m == 1 {
			female = true
		}
		by := 1940 + g.r.IntN(70)
		if m >= 2 {
			by = 1985 + g.r.IntN(38)
		}
		bm, bd := 1+g.r.IntN(12), 1+g.r.IntN(28)

		g.s("INSERT INTO public.penduduk VALUES (")
		g.int(id + m)
		g.s(", '")
		g.regionCode(rg)
		if female {
			g.num(bd+40, 2)
		} else {
			g.num(bd, 2)
		}
		g.num(bm, 2)
		g.num(by%100, 2)
		g.num(1+g.r.IntN(9999), 4)
		g.s("', '")
		g.b = append(g.b, kkBuf[:]...)
		g.s("', '")
		if female {
			g.s(g.pick(femaleNames))
		} else {
			g.s(g.pick(maleNames))
		}
		if g.r.IntN(4) != 0 {
			g.c(' ')
			g.s(family)
		}
		if female {
			g.s("', 'P', '")
		} else {
			g.s("', 'L', '")
		}
		if g.r.IntN(3) == 0 {
			g.s(place)
		} else {
			g.s(g.pick(placeNames))
		}
		g.s("', '")
		g.int(by)
		g.c('-')
		g.num(bm, 2)
		g.c('-')
		g.num(bd, 2)
		g.s("', '")
		g.s(g.pick(bloodTypes))
		g.s("', '")
		g.s(g.pick(religions))
		g.s("', '")
		switch {
		case m < 2:
			g.s("Kawin")
		default:
			g.s(g.pick(maritalStatus))
		}
		g.s("', '")
		g.s(g.pick(occupations))
		g.s("', '")
		g.s(g.pick(educations))
		g.s("', '")
		switch m {
		case 0:
			g.s("Kepala Keluarga")
		case 1:
			g.s("Istri")
		default:
			g.s(g.pick(familyRelations[2:]))
		}
		g.s("', '")
		g.s(addrStr)
		g.s("', '")
		g.num(rt, 3)
		g.s("', '")
		g.num(rw, 3)
		g.s("', '")
		g.s(rg.kel)
		g.s("', '")
		g.s(rg.kec)
		g.s("', '")
		g.s(rg.kab)
		g.s("', '")
		g.s(rg.prov)
		g.s("', 'WNI', '")
		g.timestamp(created, 1)
		if g.r.IntN(3) == 0 {
			g.s("', NULL);\n")
		} else {
			g.s("', '")
			g.timestamp(created+1, 2)
			g.s("');\n")
		}
	}
	return n
}

func (g *gen) kkRow() {
	rg := &regions[g.r.IntN(len(regions))]
	g.s("INSERT INTO public.keluarga VALUES ('")
	g.regionCode(rg)
	g.num(1+g.r.IntN(28), 2)
	g.num(1+g.r.IntN(12), 2)
	g.num(g.r.IntN(24), 2)
	g.num(1+g.r.IntN(9999), 4)
	g.s("', '")
	g.name(false)
	g.s("', '")
	g.address()
	g.s("', '")
	g.num(1+g.r.IntN(15), 3)
	g.s("', '")
	g.num(1+g.r.IntN(12), 3)
	g.s("', '")
	g.int(10000 + g.r.IntN(89999))
	g.s("', '")
	g.s(rg.kel)
	g.s("', '")
	g.date(2000, 24)
	g.s("');\n")
}

func writeSQL(g *gen, path string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	var total int64
	flush := func(force bool) error {
		if len(g.b) < 4*MiB && !force {
			return nil
		}
		n, err := f.Write(g.b)
		total += int64(n)
		g.b = g.b[:0]
		return err
	}
	g.s(sqlHeader)
	id := 1
	pendudukEnd := size * 88 / 100
	for total+int64(len(g.b)) < pendudukEnd {
		id += g.family(id)
		if err := flush(false); err != nil {
			f.Close()
			return total, err
		}
	}
	g.s(sqlKKHeader)
	end := size - int64(len(sqlFooter))
	for total+int64(len(g.b)) < end {
		g.kkRow()
		if err := flush(false); err != nil {
			f.Close()
			return total, err
		}
	}
	g.s(sqlFooter)
	if err := flush(true); err != nil {
		f.Close()
		return total, err
	}
	return total, f.Close()
}

// ------------------------------------------------------------ small files

func genSmall(g *gen, k kind, target int) {
	switch k {
	case kTxt:
		genLetter(g, target)
	case kMd:
		genMarkdown(g, target)
	case kCSV:
		g.s("no,nik,nama,jenis_kelamin,kelurahan,kecamatan,tanggal,jumlah,nilai,status\n")
		for i := 1; len(g.b) < target; i++ {
			g.csvRow(i)
		}
	case kJSON:
		genJSON(g, target)
	case kHTML:
		genHTML(g, target)
	case kLog:
		t := time.Date(2016+g.r.IntN(9), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), 0, 0, 0, 0, time.UTC)
		for len(g.b) < target {
			t = g.logLine(t)
		}
	}
}

func genLetter(g *gen, target int) {
	rg := &regions[g.r.IntN(len(regions))]
	g.s("PEMERINTAH ")
	g.s(strings.ToUpper(rg.kab))
	g.s("\nDINAS KEPENDUDUKAN DAN PENCATATAN SIPIL\n")
	g.address()
	g.s(", ")
	g.s(rg.kec)
	g.s("\n\nNomor   : 470/")
	g.int(g.r.IntN(5000))
	g.s("/Disdukcapil/")
	g.int(2016 + g.r.IntN(9))
	g.s("\nPerihal : ")
	g.sentence()
	g.b = g.b[:len(g.b)-1]
	g.s("\n\nYth. ")
	g.name(g.r.IntN(2) == 0)
	g.s("\ndi tempat\n\n")
	for len(g.b) < target-120 {
		g.paragraph()
	}
	g.s("Demikian surat ini disampaikan, atas perhatiannya diucapkan terima kasih.\n\nKepala Dinas,\n\n\n")
	g.name(g.r.IntN(2) == 0)
	g.s("\nNIP. ")
	g.date(1965, 30)
	g.int(100000 + g.r.IntN(900000))
	g.c('\n')
}

func genMarkdown(g *gen, target int) {
	g.s("# ")
	g.sentence()
	g.b = g.b[:len(g.b)-1]
	g.s("\n\n")
	for len(g.b) < target {
		switch g.r.IntN(5) {
		case 0:
			g.s("## ")
			g.word()
			g.c(' ')
			g.word()
			g.s("\n\n")
		case 1:
			for i := 2 + g.r.IntN(5); i > 0; i-- {
				g.s("- ")
				g.sentence()
				g.b = g.b[:len(g.b)-1]
				g.c('\n')
			}
			g.c('\n')
		default:
			g.paragraph()
		}
	}
}

func (g *gen) csvRow(i int) {
	rg := &regions[g.r.IntN(len(regions))]
	female := g.r.IntN(2) == 0
	g.int(i)
	g.c(',')
	g.regionCode(rg)
	day := 1 + g.r.IntN(28)
	if female {
		day += 40
	}
	g.num(day, 2)
	g.num(1+g.r.IntN(12), 2)
	g.num(g.r.IntN(100), 2)
	g.num(1+g.r.IntN(9999), 4)
	g.c(',')
	g.name(female)
	if female {
		g.s(",P,")
	} else {
		g.s(",L,")
	}
	g.s(rg.kel)
	g.c(',')
	g.s(rg.kec)
	g.c(',')
	g.date(2016, 9)
	g.c(',')
	g.int(g.r.IntN(500))
	g.c(',')
	g.int(g.r.IntN(100))
	g.c('.')
	g.num(g.r.IntN(100), 2)
	g.c(',')
	g.s([]string{"aktif", "aktif", "aktif", "pindah", "meninggal", "verifikasi"}[g.r.IntN(6)])
	g.c('\n')
}

func genJSON(g *gen, target int) {
	g.s("[\n")
	for i := 1; ; i++ {
		rg := &regions[g.r.IntN(len(regions))]
		female := g.r.IntN(2) == 0
		g.s("  {\n    \"id\": ")
		g.int(i)
		g.s(",\n    \"nik\": \"")
		g.regionCode(rg)
		g.num(1+g.r.IntN(28), 2)
		g.num(1+g.r.IntN(12), 2)
		g.num(g.r.IntN(100), 2)
		g.num(1+g.r.IntN(9999), 4)
		g.s("\",\n    \"nama\": \"")
		g.name(female)
		g.s("\",\n    \"alamat\": {\n      \"jalan\": \"")
		g.address()
		g.s("\",\n      \"rt\": \"")
		g.num(1+g.r.IntN(15), 3)
		g.s("\",\n      \"rw\": \"")
		g.num(1+g.r.IntN(12), 3)
		g.s("\",\n      \"kelurahan\": \"")
		g.s(rg.kel)
		g.s("\",\n      \"kecamatan\": \"")
		g.s(rg.kec)
		g.s("\",\n      \"kabupaten\": \"")
		g.s(rg.kab)
		g.s("\"\n    },\n    \"aktif\": ")
		if g.r.IntN(8) == 0 {
			g.s("false")
		} else {
			g.s("true")
		}
		g.s(",\n    \"skor\": ")
		g.int(g.r.IntN(100))
		g.c('.')
		g.int(g.r.IntN(10))
		g.s(",\n    \"diperbarui\": \"")
		g.date(2018, 7)
		g.s("T")
		g.num(g.r.IntN(24), 2)
		g.c(':')
		g.num(g.r.IntN(60), 2)
		g.s(":00Z\",\n    \"catatan\": \"")
		g.sentence()
		g.b = g.b[:len(g.b)-1]
		g.s("\"\n  }")
		if len(g.b) >= target-2 {
			break
		}
		g.s(",\n")
	}
	g.s("\n]\n")
}

func genHTML(g *gen, target int) {
	g.s("<!DOCTYPE html>\n<html lang=\"id\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
	g.sentence()
	g.b = g.b[:len(g.b)-1]
	g.s("</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n</head>\n<body>\n<div class=\"container\">\n<h1>")
	g.sentence()
	g.b = g.b[:len(g.b)-1]
	g.s("</h1>\n")
	tail := "</div>\n<footer>&copy; Dinas Kependudukan dan Pencatatan Sipil</footer>\n</body>\n</html>\n"
	for len(g.b) < target-len(tail) {
		if g.r.IntN(4) == 0 {
			g.s("<table class=\"data\">\n<tr><th>No</th><th>Nama</th><th>Kelurahan</th><th>Tanggal</th></tr>\n")
			for i := 1 + g.r.IntN(12); i > 0; i-- {
				g.s("<tr><td>")
				g.int(i)
				g.s("</td><td>")
				g.name(g.r.IntN(2) == 0)
				g.s("</td><td>")
				g.s(g.pick(placeNames))
				g.s("</td><td>")
				g.date(2016, 9)
				g.s("</td></tr>\n")
			}
			g.s("</table>\n")
		} else {
			g.s("<p>")
			g.paragraph()
			g.b = g.b[:len(g.b)-2]
			g.s("</p>\n")
		}
	}
	g.s(tail)
}

func (g *gen) logLine(t time.Time) time.Time {
	t = t.Add(time.Duration(g.r.IntN(5000)) * time.Millisecond)
	g.b = t.AppendFormat(g.b, "2006-01-02T15:04:05.000Z07:00")
	g.c(' ')
	g.s(g.pick(logLevels))
	g.s(" [")
	g.s(g.pick(logServices))
	g.s("] ")
	g.s(g.pick(logMessages))
	g.s(" method=")
	g.s([]string{"GET", "GET", "GET", "POST", "PUT"}[g.r.IntN(5)])
	g.s(" path=")
	g.s(g.pick(httpPaths))
	g.s(" status=")
	g.s([]string{"200", "200", "200", "200", "201", "304", "404", "500"}[g.r.IntN(8)])
	g.s(" dur_ms=")
	g.int(g.r.IntN(2000))
	g.s(" user=op")
	g.num(g.r.IntN(200), 3)
	g.s(" ip=10.")
	g.int(g.r.IntN(4))
	g.c('.')
	g.int(g.r.IntN(256))
	g.c('.')
	g.int(1 + g.r.IntN(254))
	g.c('\n')
	return t
}

// ------------------------------------------------------------ media

var mediaHeaders = map[kind][]byte{
	kJPEG: append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x01, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00,
		0xFF, 0xE1, 0x00, 0x16}, []byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00")...),
	kPDF: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n" +
		"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>\nendobj\n" +
		"4 0 obj\n<< /Type /XObject /Subtype /Image /Width 2480 /Height 3508 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode >>\nstream\n"),
	kZIP: append([]byte{'P', 'K', 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x21, 0x5a, 0x6e, 0x57}, []byte("\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x0a\x00\x00\x00arsip.dump")...),
	kMP4: {0x00, 0x00, 0x00, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0x00, 0x00, 0x02, 0x00, 'i', 's', 'o', 'm', 'i', 's', 'o', '2',
		'a', 'v', 'c', '1', 'm', 'p', '4', '1', 0x00, 0x00, 0x00, 0x08, 'f', 'r', 'e', 'e', 0xff, 0xff, 0xff, 0xff, 'm', 'd', 'a', 't'},
}

var mediaTrailers = map[kind][]byte{
	kJPEG: {0xFF, 0xD9},
	kPDF:  []byte("\nendstream\nendobj\n5 0 obj\n<< /Length 24 >>\nstream\nq 595 0 0 842 0 0 cm /Im0 Do Q\nendstream\nendobj\ntrailer\n<< /Root 1 0 R /Size 6 >>\n%%EOF\n"),
	kZIP:  append([]byte{'P', 'K', 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0, 0x38, 0, 0, 0}, make([]byte, 6)...),
	kMP4:  {},
}

// writeMedia writes size bytes of random data framed by a file-type header
// and trailer. tweak perturbs the key (used by -mutate for new files).
func writeMedia(path string, k kind, size int64, s1, s2, tweak uint64) (int64, error) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], s1)
	binary.LittleEndian.PutUint64(key[8:], s2)
	binary.LittleEndian.PutUint64(key[16:], tweak)
	binary.LittleEndian.PutUint64(key[24:], uint64(k)^0x6d65646961)
	c := rand.NewChaCha8(key)

	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1*MiB)
	hdr, trl := mediaHeaders[k], mediaTrailers[k]
	body := size - int64(len(hdr)) - int64(len(trl))
	if body < 0 {
		body = 0
	}
	w.Write(hdr)
	buf := make([]byte, 1*MiB)
	for body > 0 {
		n := int64(len(buf))
		if n > body {
			n = body
		}
		c.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			f.Close()
			return 0, err
		}
		body -= n
	}
	w.Write(trl)
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return st.Size(), f.Close()
}

// ------------------------------------------------------------ mutation

type mutStats struct {
	modified    int
	sqlAppended int64
	added       int
	addedBytes  int64
}

func mutate(dir string, seed uint64, size int64, step int) (mutStats, error) {
	var st mutStats
	sqlPath := filepath.Join(dir, sqlRelPath)
	if _, err := os.Stat(sqlPath); err != nil {
		return st, fmt.Errorf("not a corpus directory (missing %s): %w", sqlRelPath, err)
	}
	r := rand.New(rand.NewPCG(seed^0x6d7574617465, uint64(step)))
	g := &gen{r: r}

	var files []string
	docs := filepath.Join(dir, "docs")
	err := filepath.WalkDir(docs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if len(files) == 0 {
		return st, errors.New("no small files under docs/")
	}
	sort.Strings(files) // WalkDir is lexical already; be explicit

	k := max(1, len(files)/100)
	perm := r.Perm(len(files))[:k]
	for _, i := range perm {
		p := files[i]
		old, err := os.ReadFile(p)
		if err != nil {
			return st, err
		}
		g.b = g.b[:0]
		fk := kindOfPath(p)
		appendable := fk == kTxt || fk == kMd || fk == kCSV || fk == kLog
		switch op := r.IntN(10); {
		case op < 4 && appendable: // append a bit of content
			g.b = append(g.b, old...)
			target := len(old) + 200 + r.IntN(1800)
			switch fk {
			case kCSV:
				for n := 1; len(g.b) < target; n++ {
					g.csvRow(100000*step + n)
				}
			case kLog:
				t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(step) * 24 * time.Hour)
				for len(g.b) < target {
					t = g.logLine(t)
				}
			default:
				for len(g.b) < target {
					g.paragraph()
				}
			}
		case op < 8 || len(old) < 256: // in-place edit that shifts the rest of the file
			off := r.IntN(len(old))
			cut := min(64+r.IntN(960), len(old)-off)
			g.b = append(g.b, old[:off]...)
			ins := 64 + r.IntN(960)
			for start := len(g.b); len(g.b)-start < ins; {
				g.sentence()
			}
			g.b = append(g.b, old[off+cut:]...)
		default: // rewritten from scratch, similar size
			target := len(old)*9/10 + r.IntN(len(old)/5+1)
			genSmall(g, fk, target)
		}
		if err := os.WriteFile(p, g.b, 0o644); err != nil {
			return st, err
		}
		st.modified++
	}

	// Append rows to the SQL dump.
	f, err := os.OpenFile(sqlPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return st, err
	}
	g.b = g.b[:0]
	g.s("\n-- incremental export, step ")
	g.int(step)
	g.s("\n")
	appendTarget := int(size / 1000)
	for id := 1_000_000_000 + step*1_000_000; len(g.b) < appendTarget; {
		id += g.family(id)
	}
	n, err := f.Write(g.b)
	st.sqlAppended = int64(n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, err
	}

	// A few new files: 5 small ones next to existing ones, and one photo.
	for i := 0; i < 5; i++ {
		fk := pickSmallKind(r)
		d := filepath.Dir(files[r.IntN(len(files))])
		p := filepath.Join(d, fmt.Sprintf("baru_s%03d_%d%s", step, i, kindExt[fk]))
		g.b = g.b[:0]
		genSmall(g, fk, int(smallSize(r)))
		if err := os.WriteFile(p, g.b, 0o644); err != nil {
			return st, err
		}
		st.added++
		st.addedBytes += int64(len(g.b))
	}
	photoDir := filepath.Join(dir, "media", "foto", "mutasi")
	if err := os.MkdirAll(photoDir, 0o755); err != nil {
		return st, err
	}
	n64, err := writeMedia(filepath.Join(photoDir, fmt.Sprintf("IMG_s%03d.jpg", step)), kJPEG, max(size/512, 64*KiB), seed, uint64(step), 0x6d7574)
	if err != nil {
		return st, err
	}
	st.added++
	st.addedBytes += n64
	return st, nil
}
