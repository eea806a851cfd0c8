package parallel

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOrderedKeepsOrder(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100} {
		var got []int
		err := Ordered(context.Background(), n, 4, func(_ context.Context, i int) int {
			time.Sleep(time.Duration((n-i)%3) * time.Millisecond) // finish out of order
			return i * i
		}, func(i, v int) error {
			if v != i*i {
				t.Errorf("result %d for item %d", v, i)
			}
			got = append(got, i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("n=%d: consumed %d items", n, len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("n=%d: item %d consumed at position %d", n, v, i)
			}
		}
	}
}

func TestOrderedStopsOnConsumerError(t *testing.T) {
	stop := errors.New("stop")
	consumed := 0
	err := Ordered(context.Background(), 1000, 3, func(_ context.Context, i int) int { return i }, func(i, _ int) error {
		consumed++
		if i == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || consumed != 6 {
		t.Fatalf("err %v after %d items, want stop after 6", err, consumed)
	}
}

func TestEachReturnsFirstError(t *testing.T) {
	boom := errors.New("boom")
	items := make([]int, 50)
	for i := range items {
		items[i] = i
	}
	err := Each(context.Background(), items, 4, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	seen := make(chan int, len(items))
	if err := Each(context.Background(), items, 4, func(_ context.Context, i int) error { seen <- i; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(items) {
		t.Fatalf("Each called fn %d times for %d items", len(seen), len(items))
	}
}
