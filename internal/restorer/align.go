package restorer

// directAlign is the block that direct I/O's offsets, lengths and memory
// are aligned to (every Linux file system accepts 4 KiB), and the unit a
// preallocated file's length is rounded up to.
const directAlign = 4096

func alignUp(off int64) int64   { return (off + directAlign - 1) &^ (directAlign - 1) }
func alignDown(off int64) int64 { return off &^ (directAlign - 1) }
