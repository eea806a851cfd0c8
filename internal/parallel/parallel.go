// Package parallel holds small concurrency helpers shared by the pipelines.
package parallel

import (
	"context"
	"sync"
)

// Ordered runs load(i) for i in [0, n) on up to workers goroutines and
// hands the results to consume in order of i, holding at most 2*workers
// results in memory (so a slow consumer bounds the work in flight). An
// error from consume stops it and is returned.
func Ordered[T any](ctx context.Context, n, workers int, load func(context.Context, int) T, consume func(int, T) error) error {
	if n == 0 {
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(ctx)
	workers = max(1, min(workers, n))
	window := make(chan struct{}, 2*workers)
	out := make([]chan T, n)
	for i := range out {
		out[i] = make(chan T, 1)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		for i := range n {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out[i] <- load(ctx, i)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i := range n {
		var r T
		select {
		case r = <-out[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := consume(i, r); err != nil {
			return err
		}
		<-window
	}
	return nil
}

// Each calls fn for every item on up to workers goroutines and returns
// the first error.
func Each[T any](ctx context.Context, items []T, workers int, fn func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan T)
	var wg sync.WaitGroup
	for range max(1, min(workers, len(items))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := fn(ctx, it); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}
