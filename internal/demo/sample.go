package demo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var (
	firstNames = []string{"Budi", "Siti", "Agus", "Dewi", "Eko", "Sri", "Ahmad", "Nur", "Wahyu", "Rina", "Made", "Ketut", "Putu", "Yohanes", "Maria", "Fajar", "Indah", "Rudi", "Lestari", "Hendra"}
	lastNames  = []string{"Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Siregar", "Nasution", "Pratama", "Kusuma", "Simanjuntak", "Wibowo", "Sulistyo", "Harahap", "Gultom", "Rahmawati"}
	villages   = []string{"Sukamaju", "Sukajadi", "Mekarsari", "Cibeureum", "Karangasem", "Tanjungsari", "Sidorejo", "Margamulya"}
	opds       = []string{"dukcapil", "bappeda", "dinkes", "disdik", "bpkad", "dinsos"}
)

// generate writes a sample resembling a kabupaten's file server: a
// population database dump, letters and reports per OPD, and scanned
// documents (incompressible).
func generate(dir string, sizeMiB int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2024))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	total := int64(sizeMiB) << 20
	// 40%: the SIAK dump.
	if err := writeDump(filepath.Join(dir, "dukcapil", "siak.sql"), total*4/10, r); err != nil {
		return err
	}
	// 25%: letters and reports.
	var written int64
	for i := 0; written < total/4; i++ {
		opd := opds[i%len(opds)]
		name := filepath.Join(dir, opd, fmt.Sprintf("surat/%d/surat-%04d.txt", 2020+i%5, i))
		var b bytes.Buffer
		fmt.Fprintf(&b, "PEMERINTAH KABUPATEN CONTOH\n%s\nNomor: %d/%s/%d\nPerihal: Laporan kegiatan\n\n", strings.ToUpper(opd), i, opd, 2020+i%5)
		for j := 0; j < 20+r.IntN(200); j++ {
			fmt.Fprintf(&b, "Bahwa warga %s %s dari Desa %s telah menerima layanan pada tanggal %d-%02d-%02d.\n",
				firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))], villages[r.IntN(len(villages))], 2020+r.IntN(5), 1+r.IntN(12), 1+r.IntN(28))
		}
		if err := writeFile(name, b.Bytes()); err != nil {
			return err
		}
		written += int64(b.Len())
	}
	// The rest: scanned documents.
	for i := 0; written < total*6/10; i++ {
		n := 256<<10 + r.IntN(2<<20)
		data := make([]byte, n)
		for k := range data {
			data[k] = byte(r.Uint32())
		}
		copy(data, "%PDF-1.7\n")
		if err := writeFile(filepath.Join(dir, "arsip", fmt.Sprintf("scan-%03d.pdf", i)), data); err != nil {
			return err
		}
		written += int64(n)
	}
	return os.MkdirAll(filepath.Join(dir, "kosong"), 0o755) // an empty directory is kept too
}

func writeDump(name string, size int64, r *rand.Rand) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("-- PostgreSQL database dump\nCOPY penduduk (nik, nama, desa, tgl_lahir) FROM stdin;\n")
	for int64(b.Len()) < size {
		fmt.Fprintf(&b, "32%014d\t%s %s\t%s\t%d-%02d-%02d\n", r.Int64N(1e14), firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))],
			villages[r.IntN(len(villages))], 1940+r.IntN(80), 1+r.IntN(12), 1+r.IntN(28))
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// mutate changes the sample like a working day would.
// deletedFile is the file mutate deletes, relative to the sample directory.
var deletedFile = filepath.Join("arsip", "scan-000.pdf")

func mutate(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "dukcapil", "siak.sql"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for i := range 5000 {
		fmt.Fprintf(f, "3299%012d\tWarga Baru %d\tSukamaju\t2024-06-20\n", i, i)
	}
	if err := f.Close(); err != nil {
		return err
	}
	for i := range 10 {
		if err := writeFile(filepath.Join(dir, "bappeda", "surat", "2025", fmt.Sprintf("baru-%d.txt", i)), []byte(fmt.Sprintf("Surat baru %d\n", i))); err != nil {
			return err
		}
	}
	return os.Remove(filepath.Join(dir, deletedFile))
}
