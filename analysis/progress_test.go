package analysis

import (
	"context"
	"strings"
	"testing"

	"enclave/api/spec"
	"enclave/kernel"
	"enclave/release"
)

func TestQuickCallShowsNoProgress(t *testing.T) {
	s := &Server{sess: &release.Session{Policy: release.Defaults()}}
	shown := 0
	stop := s.progress(kernel.WithDisplay(context.Background(), func(*kernel.Display) { shown++ }), "c1", "stats.Quick")
	stop()
	if shown != 0 {
		t.Fatalf("a quick call showed %d displays", shown)
	}
}

func TestProgressTextAndIDs(t *testing.T) {
	sess := &release.Session{Policy: release.Defaults()}
	s := &Server{sess: sess}
	got := make(chan *kernel.Display, 16)
	ctx := kernel.WithDisplay(context.Background(), func(d *kernel.Display) { got <- d })
	stop := s.progress(ctx, "c1", "stats.Slow")
	first := <-got // the updater shows the first line after progressAfter
	stop()
	last := <-got
	if first.Update || !last.Update || first.DisplayID == "" || last.DisplayID != first.DisplayID {
		t.Fatalf("first %+v last %+v", first, last)
	}
	for i, d := range []*kernel.Display{first, last} {
		ref, ok := d.Data[spec.MIMERef].(spec.Ref)
		if !ok {
			t.Fatalf("display %d is not a kernel rendering: %v", i, d.Data)
		}
		b, _ := sess.Rendered(ref.Ref)
		text := b["text/plain"].(string)
		want := []string{"running for", "finished in"}[i]
		if !strings.HasPrefix(text, "stats.Slow: ") || !strings.Contains(text, want) {
			t.Errorf("display %d says %q", i, text)
		}
	}
}
