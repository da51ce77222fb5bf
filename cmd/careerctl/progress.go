package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// progress draws a progress line on a terminal (redrawn in place with \r,
// at most five times a second) or, when the writer is not a terminal,
// prints plain lines now and then (every 2 s at most).
type progress struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	label string // what is being done: "import", "demo", "rebuild"
	unit  string // what is counted: "lines", "events"

	total, done int64
	base        int64 // done when the run started (resumed work), not in the rate
	start, last time.Time
	drawn       bool
	width       int    // of the last terminal line, to blank out leftovers
	lastLine    string // the last plain line, not printed twice
	lastDone    int64  // done when the last plain line was printed

	// rate and eta as the server reports them (rebuild); negative = compute.
	rate float64
	eta  time.Duration
	// stopped: the work stopped at done (Stopped); no rate, no time left.
	stopped bool
}

// Redraw intervals.
const (
	ttyInterval   = 200 * time.Millisecond
	plainInterval = 2 * time.Second
)

// newProgress returns a progress display on w for total units of which done
// are already done. now is the clock (nil = time.Now).
func newProgress(w io.Writer, now func() time.Time, label, unit string, total, done int64) *progress {
	if now == nil {
		now = time.Now
	}
	p := &progress{w: w, tty: isTerminal(w), now: now, label: label, unit: unit, total: total, done: done, base: done, rate: -1}
	p.start = now()
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Set records that done units are done and redraws if it is time.
func (p *progress) Set(done int64) {
	p.done = done
	p.maybeDraw()
}

// Add records n more units done.
func (p *progress) Add(n int64) { p.Set(p.done + n) }

// SetReported records progress with the rate and time left that the
// server computed.
func (p *progress) SetReported(done, total int64, rate float64, eta time.Duration) {
	p.done, p.total, p.rate, p.eta = done, total, rate, eta
	p.maybeDraw()
}

// Stopped draws done as where the work stopped (a failure the caller
// reports next), without a rate or a time left, and ends the line.
func (p *progress) Stopped(done int64) {
	p.done, p.stopped = done, true
	p.Finish()
}

// Finish draws the final state and ends the terminal line. Plain lines
// say it once: a last update already printed at this count is not printed
// again with a rate a moment older.
func (p *progress) Finish() {
	if !p.tty && !p.stopped && p.lastLine != "" && p.lastDone == p.done {
		return
	}
	p.draw()
	if p.tty {
		io.WriteString(p.w, "\n") //nolint:errcheck // progress is best effort
	}
}

func (p *progress) maybeDraw() {
	interval := plainInterval
	if p.tty {
		interval = ttyInterval
	}
	if p.drawn && p.now().Sub(p.last) < interval {
		return
	}
	p.draw()
}

func (p *progress) draw() {
	now := p.now()
	p.last, p.drawn = now, true
	line := p.line(now)
	if !p.tty {
		if line != p.lastLine {
			io.WriteString(p.w, line+"\n") //nolint:errcheck // progress is best effort
		}
		p.lastLine, p.lastDone = line, p.done
		return
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	io.WriteString(p.w, "\r"+line+pad) //nolint:errcheck // progress is best effort
}

// line renders the progress: "import  1,200/40,000 lines  3%  [#---]  600 lines/s  1m04s left".
func (p *progress) line(now time.Time) string {
	var b strings.Builder
	b.WriteString(p.label + "  " + groupDigits(p.done))
	if p.total > 0 {
		b.WriteString("/" + groupDigits(p.total))
	}
	b.WriteString(" " + p.unit)
	frac := -1.0
	if p.total > 0 {
		frac = math.Min(1, float64(p.done)/float64(p.total))
		fmt.Fprintf(&b, "  %3.0f%%", 100*frac)
	}
	if p.tty && frac >= 0 {
		const width = 24
		n := int(frac * width)
		b.WriteString("  [" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]")
	}
	if p.stopped {
		b.WriteString("  stopped")
		return b.String()
	}
	rate, eta := p.rate, p.eta
	if rate < 0 {
		rate, eta = -1, -1
		if elapsed := now.Sub(p.start).Seconds(); elapsed > 0 && p.done > p.base {
			rate = float64(p.done-p.base) / elapsed
			if p.total > 0 {
				eta = time.Duration(float64(max(p.total-p.done, 0)) / rate * float64(time.Second))
			}
		}
	}
	if rate >= 0 {
		b.WriteString("  " + groupDigits(int64(math.Round(rate))) + " " + p.unit + "/s")
	}
	switch {
	case p.total > 0 && p.done >= p.total:
		b.WriteString("  done in " + formatDuration(now.Sub(p.start)))
	case eta >= 0:
		b.WriteString("  " + formatDuration(eta) + " left")
	}
	return b.String()
}

// groupDigits writes n with thousands separators: 40,000.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatDuration is a short duration: 12s, 3m05s, 1h02m.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
