package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time          { return f.t }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }

func TestProgressOnATerminal(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	var w bytes.Buffer
	p := newProgress(&w, clock.now, "import", "lines", 40000, 0)
	p.tty = true

	clock.advance(2 * time.Second)
	p.Set(1000)
	want := "\rimport  1,000/40,000 lines    2%  [------------------------]  500 lines/s  1m18s left"
	if w.String() != want {
		t.Fatalf("first draw:\n%q\nwant\n%q", w.String(), want)
	}
	// Within 200 ms nothing is redrawn, however often it is updated.
	for range 10 {
		clock.advance(15 * time.Millisecond)
		p.Add(10)
	}
	if w.String() != want {
		t.Errorf("redrawn within 200 ms: %q", w.String())
	}
	clock.advance(50 * time.Millisecond)
	w.Reset()
	p.Set(20000)
	want = "\rimport  20,000/40,000 lines   50%  [############------------]  9,091 lines/s  2s left"
	if w.String() != want {
		t.Errorf("second draw:\n%q\nwant\n%q", w.String(), want)
	}
	// Finish ends the line.
	clock.advance(time.Second)
	w.Reset()
	p.Set(40000)
	p.Finish()
	got := w.String()
	if !strings.HasPrefix(got, "\rimport  40,000/40,000 lines  100%  [########################]  12,500 lines/s  done in 3s") ||
		!strings.HasSuffix(got, "\n") {
		t.Errorf("final draw: %q", got)
	}
	// A shorter line blanks out what is left of the longer one.
	w.Reset()
	p.width = 120
	p.draw()
	if got := w.String(); len(got) != 121 || strings.TrimRight(got, " ") != "\rimport  40,000/40,000 lines  100%  [########################]  12,500 lines/s  done in 3s" {
		t.Errorf("leftovers not blanked: %q", got)
	}
}

func TestProgressPlainLines(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	var w bytes.Buffer
	p := newProgress(&w, clock.now, "import", "lines", 300, 100) // 100 done by an earlier run
	if p.tty {
		t.Fatal("a buffer is not a terminal")
	}
	for range 30 { // 30 updates over 3 s: plain lines at most every 2 s
		clock.advance(100 * time.Millisecond)
		p.Add(5)
	}
	p.Finish()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	want := []string{
		"import  105/300 lines   35%  50 lines/s  4s left",
		"import  205/300 lines   68%  50 lines/s  2s left",
		"import  250/300 lines   83%  50 lines/s  1s left",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") || strings.Contains(w.String(), "\r") {
		t.Errorf("plain lines:\n%s\nwant\n%s", w.String(), strings.Join(want, "\n"))
	}
}

// TestProgressPlainFinalLineOnce: a small job done at its first update
// prints its final line once on a non-terminal, not again at Finish with
// a rate a moment older.
func TestProgressPlainFinalLineOnce(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	var w bytes.Buffer
	p := newProgress(&w, clock.now, "import", "lines", 12, 0)
	clock.advance(100 * time.Millisecond)
	p.Set(12)
	clock.advance(50 * time.Millisecond)
	p.Finish()
	if got := w.String(); got != "import  12/12 lines  100%  120 lines/s  done in 0s\n" {
		t.Errorf("final plain line:\n%s", got)
	}
	// A count the last line did not show is drawn at Finish.
	w.Reset()
	p = newProgress(&w, clock.now, "import", "lines", 12, 0)
	clock.advance(100 * time.Millisecond)
	p.Set(6)
	clock.advance(100 * time.Millisecond)
	p.Set(12) // within 2 s: not drawn
	p.Finish()
	if got := w.String(); got != "import  6/12 lines   50%  60 lines/s  0s left\nimport  12/12 lines  100%  60 lines/s  done in 0s\n" {
		t.Errorf("plain lines:\n%s", got)
	}
}

func TestProgressReportedRate(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	var w bytes.Buffer
	p := newProgress(&w, clock.now, "rebuild", "events", 0, 0)
	p.SetReported(1500, 1000000, 25000.4, 40*time.Second)
	if got := w.String(); got != "rebuild  1,500/1,000,000 events    0%  25,000 events/s  40s left\n" {
		t.Errorf("%q", got)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q", n, got)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 65 * time.Second: "1m05s", 3725 * time.Second: "1h02m"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q", d, got)
		}
	}
}
