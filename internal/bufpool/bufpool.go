// Package bufpool keeps a bounded number of large byte buffers for reuse.
//
// sync.Pool drops its contents at every garbage collection, so pools of
// multi-megabyte chunk and pack buffers churn: each GC cycle reallocates
// them and the heap (and peak RSS) grows to twice what is live. A Pool here
// retains up to a fixed number of buffers and never blocks.
package bufpool

// Pool is a free list of byte slices of one capacity.
type Pool struct {
	free    chan []byte
	size    int
	prepare func([]byte)
}

// New returns a pool that hands out buffers of capacity size and keeps at
// most keep of them when they are returned.
func New(size, keep int) *Pool {
	return &Pool{free: make(chan []byte, keep), size: size}
}

// NewPrepared is New with prepare called on every buffer the pool
// allocates, before its first use: to advise the kernel how to back memory
// not touched yet (internal/hugepage).
func NewPrepared(size, keep int, prepare func([]byte)) *Pool {
	p := New(size, keep)
	p.prepare = prepare
	return p
}

// Get returns an empty buffer with at least the pool's capacity.
func (p *Pool) Get() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		b := make([]byte, 0, p.size)
		if p.prepare != nil {
			p.prepare(b)
		}
		return b
	}
}

// Put returns b for reuse; buffers smaller than the pool's size (or beyond
// what the pool keeps) are left to the garbage collector.
func (p *Pool) Put(b []byte) {
	if cap(b) < p.size {
		return
	}
	select {
	case p.free <- b[:0]:
	default:
	}
}
