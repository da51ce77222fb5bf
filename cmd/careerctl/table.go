package main

import (
	"bytes"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// table aligns tab-terminated cells in columns, as text/tabwriter does
// (same column blocks: a column spans the consecutive lines that have a
// cell in it; the text after a line's last tab is not in a column; only
// '\t' ends a cell and '\n' a line), but by
// the columns a terminal gives each character rather than by characters:
// East Asian wide and fullwidth characters (佐藤, 運用管理部) take two,
// combining marks none. tabwriter counted 佐藤 花子 as 5 columns where a
// terminal draws 9, so a Japanese name pushed the rest of its row out of
// line.
type table struct {
	out     io.Writer
	padding int
	buf     bytes.Buffer
}

// newTable returns a table writing to out, padding cells by padding
// spaces: text/tabwriter.NewWriter(out, 0, _, padding, ' ', 0).
func newTable(out io.Writer, padding int) *table { return &table{out: out, padding: padding} }

// Write buffers p until Flush.
func (t *table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes what was written since the last Flush, aligned.
func (t *table) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	if text == "" {
		return nil
	}
	ended := strings.HasSuffix(text, "\n")
	raw := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	lines := make([][]string, len(raw))
	for i, l := range raw {
		lines[i] = strings.Split(l, "\t") // the last element is no column's
	}
	if last := lines[len(lines)-1]; !ended && len(last) > 1 && last[len(last)-1] == "" {
		// An unfinished line's last cell is the one its last tab ended,
		// as text/tabwriter's Flush has it.
		lines[len(lines)-1] = last[:len(last)-1]
	}
	var b strings.Builder
	var widths []int
	var format func(line0, line1 int)
	writeLines := func(line0, line1 int) {
		for _, cells := range lines[line0:line1] {
			for j, c := range cells {
				b.WriteString(c)
				if j < len(cells)-1 && j < len(widths) {
					b.WriteString(strings.Repeat(" ", max(widths[j]-displayWidth(c), 0)))
				}
			}
			b.WriteByte('\n')
		}
	}
	// format is text/tabwriter's: the lines from line0 that have a cell in
	// the next column form a block whose width is its widest cell's.
	format = func(line0, line1 int) {
		column := len(widths)
		for this := line0; this < line1; this++ {
			if column >= len(lines[this])-1 {
				continue
			}
			writeLines(line0, this)
			line0 = this
			w := 0
			for ; this < line1 && column < len(lines[this])-1; this++ {
				w = max(w, displayWidth(lines[this][column])+t.padding)
			}
			widths = append(widths, w)
			format(line0, this)
			widths = widths[:len(widths)-1]
			line0 = this
		}
		writeLines(line0, line1)
	}
	format(0, len(lines))
	s := b.String()
	if !ended {
		s = strings.TrimSuffix(s, "\n")
	}
	_, err := io.WriteString(t.out, s)
	return err
}

// displayWidth is the number of terminal columns s takes: two for an East
// Asian wide or fullwidth character, none for a combining mark or a
// zero-width format character, one for any other. It measures code points,
// not grapheme clusters: an emoji sequence (joined by U+200D, or made
// wide by a variation selector) and East Asian ambiguous characters on a
// CJK terminal may be drawn wider or narrower than counted.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
