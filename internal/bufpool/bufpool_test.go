package bufpool

import "testing"

func TestPoolReusesAndBounds(t *testing.T) {
	p := New(1024, 2)
	a, b, c := p.Get(), p.Get(), p.Get()
	if cap(a) < 1024 || len(a) != 0 {
		t.Fatalf("Get: len %d cap %d", len(a), cap(a))
	}
	a = append(a, 1, 2, 3)
	p.Put(a)
	p.Put(b)
	p.Put(c)                // beyond keep: dropped
	p.Put(make([]byte, 10)) // too small: dropped
	if got := p.Get(); len(got) != 0 || &got[:1][0] != &a[:1][0] {
		t.Fatal("first returned buffer not reused or not emptied")
	}
	if got := p.Get(); &got[:1][0] != &b[:1][0] {
		t.Fatal("second buffer not reused")
	}
	if got := p.Get(); &got[:1][0] == &c[:1][0] {
		t.Fatal("pool kept more than its bound")
	}
}

// A prepared pool prepares each buffer it allocates once, before handing
// it out, and never a buffer it reuses.
func TestPreparedPoolPreparesNewBuffersOnly(t *testing.T) {
	var prepared [][]byte
	p := NewPrepared(1024, 2, func(b []byte) {
		if len(b) != 0 || cap(b) < 1024 {
			t.Errorf("prepare got len %d cap %d", len(b), cap(b))
		}
		prepared = append(prepared, b)
	})
	a, b := p.Get(), p.Get()
	if len(prepared) != 2 || &prepared[0][:1][0] != &a[:1][0] || &prepared[1][:1][0] != &b[:1][0] {
		t.Fatalf("%d buffers prepared, want the 2 handed out", len(prepared))
	}
	p.Put(a)
	if got := p.Get(); &got[:1][0] != &a[:1][0] || len(prepared) != 2 {
		t.Fatalf("reused buffer prepared again (%d preparations)", len(prepared))
	}
}
