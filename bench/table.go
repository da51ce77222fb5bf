package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Verdicts of a row.
const (
	pass = "PASS"
	fail = "FAIL"
	info = "info"
	skip = "SKIP"
)

// row is one line of the results table.
type row struct {
	Scenario string
	Measured string
	Baseline string
	Ratio    string
	Goal     string
	Verdict  string
	Note     string // printed under the table
}

var header = []string{"#", "scenario", "measured", "baseline", "ratio", "goal", "result"}

func (r row) cells(i int) []string {
	return []string{fmt.Sprint(i + 1), r.Scenario, r.Measured, r.Baseline, r.Ratio, r.Goal, r.Verdict}
}

// writeText prints the rows as an aligned plain-text table.
func writeText(w io.Writer, rows []row) {
	width := make([]int, len(header))
	all := [][]string{header}
	for i, r := range rows {
		all = append(all, r.cells(i))
	}
	for _, cs := range all {
		for j, c := range cs {
			width[j] = max(width[j], len([]rune(c)))
		}
	}
	line := func(cs []string) {
		var b strings.Builder
		for j, c := range cs {
			if j > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if j < len(cs)-1 {
				b.WriteString(strings.Repeat(" ", width[j]-len([]rune(c))))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(header)
	sep := make([]string, len(header))
	for j := range sep {
		sep[j] = strings.Repeat("-", width[j])
	}
	line(sep)
	for i, r := range rows {
		line(r.cells(i))
	}
}

// writeMarkdown prints the rows as a Markdown table, then the notes.
func writeMarkdown(w io.Writer, rows []row) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(header)))
	for i, r := range rows {
		cs := r.cells(i)
		for j := range cs {
			cs[j] = esc(cs[j])
		}
		if r.Verdict == fail {
			cs[len(cs)-1] = "**FAIL**"
		}
		fmt.Fprintln(w, "| "+strings.Join(cs, " | ")+" |")
	}
	fmt.Fprintln(w)
	for i, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%d. %s: %s\n", i+1, r.Scenario, r.Note)
		}
	}
}

// Formatting helpers.

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func fmtRate(v float64, unit string) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fk %s/s", v/1000, unit)
	case v >= 1000:
		return fmt.Sprintf("%.2fk %s/s", v/1000, unit)
	default:
		return fmt.Sprintf("%.0f %s/s", v, unit)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= 10*time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	default:
		return fmt.Sprintf("%.2f µs", float64(d)/1e3)
	}
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func verdict(ok bool) string {
	if ok {
		return pass
	}
	return fail
}

// percentile returns the p-th percentile (0..100) of ds by nearest rank; ds
// is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	if !slices.IsSorted(ds) {
		slices.Sort(ds)
	}
	k := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(k, 0), len(ds)-1)]
}

// cpuTime returns the user + system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
