package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"text/tabwriter"
)

// On text whose characters each take one column, a table writes what
// text/tabwriter writes: the same column blocks, padding and trailing
// text, for random ragged lines with empty cells, with or without a last
// newline, over several flushes.
func TestTableAlignsAsTabwriterDoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "E1001", "Data Center Operations", "level 3", "2024-01-01 .. 2025-03-31", "-", "xyz"}
	for i := range 500 {
		var in strings.Builder
		for range rng.IntN(8) {
			for range rng.IntN(5) {
				in.WriteString(words[rng.IntN(len(words))] + "\t")
			}
			in.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(6) > 0 {
				in.WriteByte('\n')
			}
		}
		text := in.String()
		var want, got bytes.Buffer
		tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
		tb := newTable(&got, 2)
		for _, chunk := range strings.SplitAfter(text, "\n") { // a flush per line, then all at once
			if rng.IntN(3) == 0 {
				fmt.Fprint(tw, chunk)
				fmt.Fprint(tb, chunk)
				continue
			}
			fmt.Fprint(tw, chunk)
			fmt.Fprint(tb, chunk)
			if strings.HasSuffix(chunk, "\n") {
				if err := tw.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := tb.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := tb.Flush(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("case %d, %q:\n got %q\nwant %q", i, text, got.String(), want.String())
		}
	}
}

// Japanese names and departments take two columns a character on a
// terminal: the columns after them line up on screen.
func TestTableAlignsWideCharacters(t *testing.T) {
	var out bytes.Buffer
	tb := newTable(&out, 2)
	fmt.Fprint(tb, "ID\tNAME\tDEPARTMENT\tJOINED\n")
	fmt.Fprint(tb, "J1\t佐藤 花子\t運用管理部\t2025-04-01\n")
	fmt.Fprint(tb, "J2\tTanaka Ken\tＮＯＣ\t2024-04-01\n")
	fmt.Fprint(tb, "J3\tJose\u0301 Müller\tOps\t2023-04-01\n") // é as e and a combining accent
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var at []int
	for _, l := range lines {
		i := strings.LastIndex(l, "20")
		if strings.HasPrefix(l, "ID") {
			i = strings.Index(l, "JOINED")
		}
		at = append(at, displayWidth(l[:i]))
	}
	for i, c := range at {
		if c != at[0] {
			t.Errorf("line %d's last column starts at screen column %d, the header's at %d:\n%s", i, c, at[0], out.String())
		}
	}
	for s, want := range map[string]int{"佐藤 花子": 9, "運用管理部": 10, "ＮＯＣ": 6, "Jose\u0301": 4, "Josu\u200bé": 5, "Tanaka": 6, "": 0} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
