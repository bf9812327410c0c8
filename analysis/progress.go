package analysis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"enclave/api/spec"
	"enclave/kernel"
)

// progressAfter is how long a call runs before the cell shows progress.
const progressAfter = time.Second

// progress shows, while a call runs longer than progressAfter, a line in
// the cell that says what is running and for how long, updated every
// second (update_display_data), and says when it finished. The display is
// a kernel rendering (a reference). None is shown for a call made while
// the worker holds rows: which calls it makes, how many and how long each
// runs may have been chosen from the rows (review 42 read a BMI from the
// names of the calls that showed progress). The returned function ends
// it; it waits for the updater.
func (s *Server) progress(ctx context.Context, cell, method string) (stop func()) {
	show := kernel.DisplayFrom(ctx)
	if show == nil || s.held {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	id := fmt.Sprintf("progress-%d", start.UnixNano())
	shown := false
	put := func(text string, update bool) {
		ref := s.sess.Register(cell, map[string]any{"text/plain": text, "text/html": "<i>" + text + "</i>"})
		show(&kernel.Display{Data: map[string]any{spec.MIMERef: spec.Ref{Ref: ref}}, DisplayID: id, Update: update})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(progressAfter)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				put(fmt.Sprintf("%s: running for %.0f s (interrupt the kernel to stop it)", method, time.Since(start).Seconds()), shown)
				shown = true
				t.Reset(time.Second)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if shown {
			put(fmt.Sprintf("%s: finished in %.1f s", method, time.Since(start).Seconds()), true)
		}
	}
}
