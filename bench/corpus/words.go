package main

// Word tables used to synthesise realistic-looking (and realistically
// compressible) Indonesian administrative text. Everything here is static so
// the corpus depends only on -seed and -size.

var maleNames = []string{
	"Budi", "Agus", "Ahmad", "Eko", "Joko", "Bambang", "Hendra", "Dedi", "Rudi", "Andi",
	"Bayu", "Dimas", "Fajar", "Gilang", "Hadi", "Irfan", "Iwan", "Made", "Putu", "Ketut",
	"Wayan", "Nyoman", "Muhammad", "Rizky", "Arif", "Yusuf", "Slamet", "Sutrisno", "Suparman", "Teguh",
	"Wahyu", "Yoga", "Aditya", "Reza", "Fikri", "Ilham", "Taufik", "Hasan", "Umar", "Darmawan",
	"Sugeng", "Heru", "Rahmat", "Doni", "Ferry", "Galih", "Hari", "Imam", "Kurnia", "Lukman",
}

var femaleNames = []string{
	"Siti", "Sri", "Dewi", "Rina", "Ayu", "Putri", "Nur", "Wulan", "Fitri", "Indah",
	"Lestari", "Ratna", "Yuni", "Ani", "Dian", "Eka", "Fransiska", "Gita", "Hana", "Intan",
	"Kartika", "Lina", "Maya", "Novi", "Nurul", "Rahmawati", "Sari", "Tri", "Umi", "Wati",
	"Yanti", "Anisa", "Aulia", "Citra", "Desi", "Elisabeth", "Fatimah", "Ida", "Juwita", "Kadek",
	"Larasati", "Mega", "Nia", "Oktaviani", "Puspita", "Rini", "Suryani", "Tuti", "Vina", "Zahra",
}

var familyNames = []string{
	"Santoso", "Wijaya", "Saputra", "Hidayat", "Nugroho", "Pratama", "Kurniawan", "Setiawan", "Siregar", "Nasution",
	"Simanjuntak", "Harahap", "Lubis", "Sinaga", "Panjaitan", "Hutapea", "Sitompul", "Manurung", "Tanjung", "Ginting",
	"Susanto", "Gunawan", "Halim", "Rahman", "Hakim", "Firmansyah", "Ramadhan", "Permana", "Suryadi", "Wibowo",
	"Purnomo", "Prasetyo", "Utomo", "Hartono", "Sulistyo", "Kusuma", "Yulianto", "Mahendra", "Sembiring", "Tarigan",
	"Pangaribuan", "Damanik", "Pasaribu", "Situmorang", "Rangkuti", "Matondang", "Mokoginta", "Lumbantobing", "Tambunan", "Effendi",
	"Syahputra", "Anggraini", "Maharani", "Handayani", "Wulandari", "Puspitasari", "Kusumawati", "Rahayu", "Safitri", "Novitasari",
}

var streetNames = []string{
	"Merdeka", "Sudirman", "Thamrin", "Diponegoro", "Gatot Subroto", "Ahmad Yani", "Pahlawan", "Veteran", "Gajah Mada", "Hayam Wuruk",
	"Pemuda", "Kartini", "Cendrawasih", "Melati", "Mawar", "Anggrek", "Kenanga", "Flamboyan", "Cempaka", "Dahlia",
	"Imam Bonjol", "Teuku Umar", "Pattimura", "Hasanuddin", "Sisingamangaraja", "Raya Bogor", "Kaliurang", "Malioboro", "Siliwangi", "Pajajaran",
	"Pasir Kaliki", "Cihampelas", "Dago", "Braga", "Asia Afrika", "Otista", "Kebon Jeruk", "Kemang Raya", "Pramuka", "Salemba Raya",
}

var placeNames = []string{
	"Sukajadi", "Sukamaju", "Sukasari", "Cibeunying", "Coblong", "Lengkong", "Regol", "Batununggal", "Kiaracondong", "Antapani",
	"Mekarwangi", "Mekarjaya", "Sindangsari", "Margahayu", "Cimahi", "Cibiru", "Ujungberung", "Panyileukan", "Rancasari", "Gedebage",
	"Tegalrejo", "Gondomanan", "Kraton", "Mergangsan", "Umbulharjo", "Kotagede", "Wirobrajan", "Jetis", "Gondokusuman", "Danurejan",
	"Tanjung Priok", "Koja", "Cilincing", "Pademangan", "Penjaringan", "Menteng", "Tanah Abang", "Senen", "Cempaka Putih", "Kemayoran",
	"Medan Baru", "Medan Johor", "Medan Helvetia", "Medan Tuntungan", "Denpasar Barat", "Denpasar Selatan", "Kuta", "Ubud", "Gianyar", "Tabanan",
	"Tamalate", "Rappocini", "Panakkukang", "Mariso", "Samarinda Ulu", "Sungai Kunjang", "Palaran", "Serpong", "Ciputat", "Pamulang",
	"Karangpilang", "Wonokromo", "Tegalsari", "Genteng", "Gubeng", "Rungkut", "Sukolilo", "Mulyorejo", "Tambaksari", "Kenjeran",
}

type province struct {
	code string
	name string
	kabs []string
}

var provinces = []province{
	{"11", "Aceh", []string{"Kota Banda Aceh", "Kabupaten Aceh Besar", "Kota Lhokseumawe"}},
	{"12", "Sumatera Utara", []string{"Kota Medan", "Kabupaten Deli Serdang", "Kabupaten Toba", "Kota Pematangsiantar"}},
	{"13", "Sumatera Barat", []string{"Kota Padang", "Kota Bukittinggi", "Kabupaten Agam"}},
	{"31", "DKI Jakarta", []string{"Kota Jakarta Pusat", "Kota Jakarta Utara", "Kota Jakarta Barat", "Kota Jakarta Selatan", "Kota Jakarta Timur"}},
	{"32", "Jawa Barat", []string{"Kota Bandung", "Kabupaten Bandung", "Kota Bogor", "Kabupaten Bekasi", "Kota Depok", "Kota Cimahi"}},
	{"33", "Jawa Tengah", []string{"Kota Semarang", "Kota Surakarta", "Kabupaten Banyumas", "Kabupaten Kudus"}},
	{"34", "DI Yogyakarta", []string{"Kota Yogyakarta", "Kabupaten Sleman", "Kabupaten Bantul"}},
	{"35", "Jawa Timur", []string{"Kota Surabaya", "Kota Malang", "Kabupaten Sidoarjo", "Kabupaten Jember", "Kabupaten Banyuwangi"}},
	{"36", "Banten", []string{"Kota Tangerang", "Kota Tangerang Selatan", "Kabupaten Serang"}},
	{"51", "Bali", []string{"Kota Denpasar", "Kabupaten Badung", "Kabupaten Gianyar", "Kabupaten Tabanan"}},
	{"64", "Kalimantan Timur", []string{"Kota Samarinda", "Kota Balikpapan", "Kabupaten Kutai Kartanegara"}},
	{"73", "Sulawesi Selatan", []string{"Kota Makassar", "Kabupaten Gowa", "Kabupaten Bone"}},
}

var religions = []string{"Islam", "Islam", "Islam", "Islam", "Islam", "Islam", "Kristen", "Katolik", "Hindu", "Buddha", "Konghucu"}
var maritalStatus = []string{"Belum Kawin", "Kawin", "Kawin", "Cerai Hidup", "Cerai Mati"}
var bloodTypes = []string{"A", "B", "AB", "O", "-"}
var occupations = []string{
	"Belum/Tidak Bekerja", "Mengurus Rumah Tangga", "Pelajar/Mahasiswa", "Pensiunan", "Pegawai Negeri Sipil",
	"Tentara Nasional Indonesia", "Kepolisian RI", "Perdagangan", "Petani/Pekebun", "Nelayan/Perikanan",
	"Karyawan Swasta", "Karyawan BUMN", "Buruh Harian Lepas", "Wiraswasta", "Guru", "Dosen", "Dokter", "Bidan",
	"Perawat", "Sopir", "Pedagang", "Tukang Kayu", "Tukang Jahit", "Penata Rambut", "Wartawan", "Ustadz/Mubaligh",
}
var familyRelations = []string{"Kepala Keluarga", "Istri", "Anak", "Anak", "Anak", "Menantu", "Cucu", "Orang Tua", "Famili Lain"}
var educations = []string{"Tidak/Belum Sekolah", "Belum Tamat SD", "Tamat SD", "SLTP", "SLTA", "Diploma I/II", "Diploma III", "Diploma IV/Strata I", "Strata II", "Strata III"}

// Prose vocabulary, very roughly ordered from frequent to rare; the generator
// skews its picks towards the front of the table (Zipf-like).
var proseWords = []string{
	"yang", "dan", "di", "ini", "dengan", "untuk", "tidak", "dari", "dalam", "akan",
	"pada", "juga", "itu", "ke", "bahwa", "oleh", "sebagai", "adalah", "telah", "dapat",
	"atau", "kami", "secara", "tersebut", "warga", "data", "kependudukan", "pelayanan", "masyarakat", "pemerintah",
	"desa", "kelurahan", "kecamatan", "kabupaten", "kota", "provinsi", "nomor", "tahun", "bulan", "tanggal",
	"surat", "keterangan", "permohonan", "pengajuan", "persyaratan", "dokumen", "berkas", "arsip", "laporan", "rekapitulasi",
	"kartu", "keluarga", "identitas", "penduduk", "elektronik", "akta", "kelahiran", "kematian", "perkawinan", "perceraian",
	"pindah", "datang", "domisili", "alamat", "rukun", "tetangga", "petugas", "operator", "verifikasi", "validasi",
	"sistem", "informasi", "administrasi", "aplikasi", "jaringan", "server", "cadangan", "pemulihan", "keamanan", "akses",
	"kegiatan", "program", "anggaran", "realisasi", "belanja", "pendapatan", "daerah", "dinas", "kantor", "bidang",
	"seksi", "kepala", "sekretaris", "staf", "pegawai", "rapat", "koordinasi", "evaluasi", "monitoring", "pelaksanaan",
	"berdasarkan", "sesuai", "ketentuan", "peraturan", "undang", "keputusan", "menteri", "bupati", "wali", "camat",
	"lurah", "diberikan", "dilakukan", "diterbitkan", "ditetapkan", "disampaikan", "diproses", "diperbarui", "dicetak", "ditandatangani",
	"setiap", "semua", "beberapa", "banyak", "sedikit", "baru", "lama", "benar", "lengkap", "sah",
	"hari", "kerja", "jam", "minggu", "pagi", "siang", "sore", "malam", "sejak", "hingga",
	"jumlah", "total", "persen", "target", "capaian", "meningkat", "menurun", "stabil", "signifikan", "kondisi",
	"kesehatan", "pendidikan", "sosial", "ekonomi", "bantuan", "penerima", "manfaat", "program", "keluarga", "harapan",
	"sekolah", "siswa", "guru", "puskesmas", "rumah", "sakit", "pasien", "imunisasi", "balita", "lansia",
	"jalan", "jembatan", "saluran", "air", "bersih", "listrik", "sampah", "lingkungan", "banjir", "kebersihan",
	"pasar", "pedagang", "usaha", "mikro", "kecil", "menengah", "izin", "retribusi", "pajak", "bumi",
	"bangunan", "tanah", "sertifikat", "lahan", "pertanian", "perikanan", "peternakan", "hasil", "panen", "produksi",
	"mohon", "agar", "segera", "ditindaklanjuti", "sebagaimana", "mestinya", "demikian", "atas", "perhatian", "terima",
	"kasih", "hormat", "bapak", "ibu", "saudara", "yth", "perihal", "lampiran", "tembusan", "arsip",
	"pembangunan", "perencanaan", "penganggaran", "pengawasan", "pembinaan", "pemberdayaan", "partisipasi", "musyawarah", "mufakat", "gotong",
	"royong", "transparansi", "akuntabilitas", "integritas", "inovasi", "digital", "daring", "luring", "formulir", "isian",
	"tanda", "tangan", "stempel", "materai", "fotokopi", "legalisir", "salinan", "asli", "tercatat", "terdaftar",
}

var logMessages = []string{
	"request completed", "connection accepted", "connection closed", "cache miss", "cache hit",
	"user login", "user logout", "session expired", "record updated", "record inserted",
	"sync started", "sync finished", "retrying request", "slow query", "document printed",
	"queue drained", "job scheduled", "job finished", "validation failed", "token refreshed",
}
var logServices = []string{"siak-web", "siak-api", "dukcapil-sync", "cetak-ktp", "antrian", "gateway", "auth", "arsip-digital"}
var logLevels = []string{"INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR"}
var httpPaths = []string{"/api/v1/penduduk", "/api/v1/keluarga", "/api/v1/mutasi", "/login", "/dashboard", "/cetak/ktp", "/cetak/kk", "/laporan/bulanan", "/static/app.js", "/static/style.css"}

var departments = []string{"kependudukan", "keuangan", "kesehatan", "pendidikan", "perizinan", "kepegawaian", "arsip_surat", "web_portal", "laporan", "logs"}
var subDirs = []string{"masuk", "keluar", "draft", "final", "rekap", "lampiran", "internal", "publik", "triwulan1", "triwulan2", "triwulan3", "triwulan4"}
var months = []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}
