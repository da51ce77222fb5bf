package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careerledger/careerledger/graph"
)

// importLine is one command of an import file.
type importLine struct {
	no   int    // the line number in the file, 1-based (a CSV record's first line)
	body []byte // the request line for POST /v1/import
	err  *lineError
}

// lineError is why a line cannot be sent; it is reported like a refusal.
type lineError struct {
	field, message string
	exported       bool // the line is an event as careerctl export writes it
	// wrongFormat: the file's first command is of the other format (a
	// CSV header read as NDJSON): one refusal for the file, not one a line.
	wrongFormat bool
}

func (e *lineError) String() string {
	s := "BAD_LINE"
	if e.field != "" {
		s += " " + e.field
	}
	return s + ": " + e.message
}

func badLine(field, format string, args ...any) *lineError {
	return &lineError{field: field, message: fmt.Sprintf(format, args...)}
}

// lineReader yields an import file's commands; io.EOF ends them.
type lineReader interface {
	next() (importLine, error)
}

// newLineReader reads format ("ndjson" or "csv") from r. base is the
// file's base name, part of every derived idempotency key.
func newLineReader(r io.Reader, format, base string) (lineReader, error) {
	switch format {
	case "ndjson":
		return &ndjsonReader{r: bufio.NewReaderSize(r, 1<<20), base: base}, nil
	case "csv":
		return newCSVReader(r, base)
	default:
		return nil, fmt.Errorf("unknown format %q (ndjson or csv)", format)
	}
}

// requestLine validates a command and returns its request line, with a
// derived idempotency key unless the input has one: "import-" and the first
// 24 hex digits of sha256(base name, line number, canonical text), so the
// same line of the same file is recorded once however often it is sent.
func requestLine(base string, no int, op string, input map[string]any) ([]byte, *lineError) {
	m, ok := mutationByOp(op)
	if !ok && op == "" {
		// Left out (or an empty CSV cell): not an op of that name.
		return nil, badLine("op", "is required: the mutation's name (one of %s)", strings.Join(opNames(), ", "))
	}
	if !ok {
		return nil, badLine("op", "unknown op %q (one of %s)", op, strings.Join(opNames(), ", "))
	}
	for name := range input {
		if name != "idempotencyKey" && !slices.Contains(m.fields, name) {
			return nil, badLine(name, "is not an input field of %s", op)
		}
	}
	if k, _ := input["idempotencyKey"].(string); k == "" {
		delete(input, "idempotencyKey")
		canonical, err := json.Marshal(map[string]any{"op": op, "input": input})
		if err != nil {
			return nil, badLine("", "%v", err)
		}
		input["idempotencyKey"] = importKey(base, no, canonical)
	}
	body, err := json.Marshal(map[string]any{"op": op, "input": input})
	if err != nil {
		return nil, badLine("", "%v", err)
	}
	if len(body) >= maxBulkBytes {
		return nil, badLine("", "the line is longer than %d bytes", maxBulkBytes)
	}
	return body, nil
}

// importKey derives a line's idempotency key.
func importKey(base string, no int, canonical []byte) string {
	h := sha256.New()
	h.Write([]byte(base + "\x00" + strconv.Itoa(no) + "\x00"))
	h.Write(canonical)
	return "import-" + hex.EncodeToString(h.Sum(nil))[:24]
}

func opNames() []string {
	names := make([]string, len(mutations))
	for i, m := range mutations {
		names[i] = m.mutation
	}
	return names
}

// ndjsonReader reads {"op": ..., "input": {...}} lines; blank lines and
// comments, lines whose first character other than white space is #, are
// skipped.
type ndjsonReader struct {
	r    *bufio.Reader
	base string
	no   int
	read int // the commands read so far
}

func (n *ndjsonReader) next() (importLine, error) {
	for {
		raw, err := n.r.ReadBytes('\n')
		if len(raw) == 0 && err != nil {
			return importLine{}, err
		}
		n.no++
		if n.no == 1 {
			// A byte order mark, as editors on Windows save UTF-8 (the CSV
			// reader drops it from the header too).
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
		}
		text := bytes.TrimSpace(raw)
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		l := importLine{no: n.no}
		n.read++
		if !utf8.Valid(text) {
			l.err = badLine("", "%s", notUTF8)
			return l, nil
		}
		if exportedEvent(text) {
			l.err = badLine("", "%s", exportedLine)
			l.err.exported = true
			return l, nil
		}
		var cmd struct {
			Op    string         `json:"op"`
			Input map[string]any `json:"input"`
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cmd); err != nil {
			var syntax *json.SyntaxError
			if (errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)) && n.read == 1 && csvHeader(text) {
				l.err = badLine("", "%s", csvHeaderLine)
				l.err.wrongFormat = true
			} else if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
				l.err = badLine("", `not JSON: each line is one {"op": "<mutation>", "input": {...}} object`)
			} else {
				l.err = commandObjectError(err)
			}
		} else if err := casedKey(text); err != nil {
			l.err = err
		} else if k, ok := graph.RepeatedKey(text); ok {
			// encoding/json would keep the last value without a word.
			l.err = badLine(k, "%s", graph.RepeatedKeyRule)
		} else if dec.More() {
			l.err = badLine("", "more than one JSON value on the line")
		} else if cmd.Input == nil {
			l.err = badLine("input", "missing (an object of the mutation's input fields)")
		} else {
			l.body, l.err = requestLine(n.base, n.no, cmd.Op, cmd.Input)
		}
		return l, nil
	}
}

// commandObjectError words why a line that is JSON is no command object:
// as the line's reader would, not as encoding/json does ("cannot unmarshal
// array into Go value of type struct { Op string ... }").
func commandObjectError(err error) *lineError {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		switch typ.Field {
		case "":
			return badLine("", `not a command object: each line is one {"op": "<mutation>", "input": {...}} object, not a JSON %s`, typ.Value)
		case "op":
			return badLine("op", "must be a string, the mutation's name (one of %s), not a JSON %s", strings.Join(opNames(), ", "), typ.Value)
		case "input":
			return badLine("input", "must be an object of the mutation's input fields, not a JSON %s", typ.Value)
		}
	}
	return badLine("", "not a command object: %v", err)
}

// csvHeaderLine is why an import read as NDJSON refuses a file whose first
// line is a CSV header (a CSV file not named .csv): before, each of its
// lines was refused as "not JSON".
const csvHeaderLine = `a CSV header (its cells name op and input fields), but the file is read as NDJSON: ` +
	`a file is read as CSV when its name ends in .csv or with --format csv`

// csvHeader reports whether text, a line that is not JSON, reads as a CSV
// header row of an import: two cells or more, one of them op.
func csvHeader(text []byte) bool {
	cells, err := csv.NewReader(bytes.NewReader(text)).Read()
	return err == nil && len(cells) > 1 && slices.ContainsFunc(cells, func(c string) bool { return strings.TrimSpace(c) == "op" })
}

// ndjsonStart is why an import read as CSV refuses a file whose first line
// is an NDJSON command: before, the CSV reader's words for the first
// quote of {"op": ...} were all it said.
const ndjsonStart = `its first line is an NDJSON command ({"op": "<mutation>", "input": {...}}), but the file is read as CSV, ` +
	`as its name ends in .csv or --format csv says: give --format ndjson`

// ndjsonCommand reports whether head, the start of a file, begins (after
// blank lines and # comments) with a line that opens a JSON object naming
// "op".
func ndjsonCommand(head []byte) bool {
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		line = bytes.TrimSpace(line)
		head = rest
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		return line[0] == '{' && bytes.Contains(line, []byte(`"op"`))
	}
	return false
}

// notUTF8 is why an import refuses a line or a CSV cell that is not UTF-8
// (careerd refuses it too; JSON would turn each such byte into U+FFFD).
const notUTF8 = "is not UTF-8: save the file as UTF-8 (a CSV file Excel saved as Shift_JIS is not)"

// exportedLine is why an import refuses a line of an export.
const exportedLine = `an event as careerctl export writes it (position, type, event: the log as recorded), which import does not take; ` +
	`import takes commands, one {"op": "<mutation>", "input": {...}} a line with the mutation's input fields, or a CSV file of them (docs/careerctl.md, import)`

// exportedEvent reports whether text is a line of an export (GET
// /v1/export, careerctl export): an object without "op" that has an
// "event" and a "position" or a "type".
func exportedEvent(text []byte) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(text, &keys) != nil {
		return false
	}
	_, op := keys["op"]
	_, event := keys["event"]
	_, position := keys["position"]
	_, typ := keys["type"]
	return !op && event && (position || typ)
}

// casedKey refuses a line with a key "OP" or "Input", which encoding/json
// takes for "op" or "input" and careerd refuses: keys are matched exactly.
func casedKey(text []byte) *lineError {
	var keys map[string]json.RawMessage
	if json.Unmarshal(text, &keys) != nil {
		return nil // one JSON value after another: told below
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k != "op" && k != "input" && (strings.EqualFold(k, "op") || strings.EqualFold(k, "input")) {
			return badLine(k, `is not a key of an import line: keys are matched exactly, write "%s"`, strings.ToLower(k))
		}
	}
	return nil
}

// csvReader reads a CSV file whose header names op and input fields; list
// fields are separated by ';' in a cell and an empty cell is an absent
// field.
type csvReader struct {
	r      *csv.Reader
	base   string
	header []string
	opCol  int
	// width is the header's cells, unnamed ones at its end included: a
	// spreadsheet saves a column once used to the right of the data as
	// an empty header cell and an empty cell in every row.
	width int
}

func newCSVReader(r io.Reader, base string) (*csvReader, error) {
	// A byte order mark, as Excel's "CSV UTF-8" saves one, is dropped from
	// the stream before it is parsed: left in, it made a quoted first
	// cell a bare quote, and a first comment or blank line a header.
	br := bufio.NewReader(r)
	if mark, _ := br.Peek(3); string(mark) == "\uFEFF" {
		br.Discard(3)
	}
	if head, _ := br.Peek(4096); ndjsonCommand(head) {
		return nil, errors.New(ndjsonStart)
	}
	cr := csv.NewReader(&indentedComments{r: br})
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("the CSV file is empty (it needs a header row: op and input field names)")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	c := &csvReader{r: cr, base: base, opCol: -1, width: len(header)}
	for len(header) > 1 && strings.TrimSpace(strings.TrimPrefix(header[len(header)-1], "\uFEFF")) == "" {
		header = header[:len(header)-1]
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
		switch {
		case seen[h]:
			return nil, fmt.Errorf("CSV header: column %q appears twice", h)
		case h == "op":
			c.opCol = i
		case inputFields[h].usage == "":
			return nil, fmt.Errorf("CSV header: column %d %q is not an input field name%s", i+1, h, casedColumn(h))
		}
		seen[h] = true
		c.header = append(c.header, h)
	}
	if c.opCol < 0 {
		return nil, errors.New(`CSV header: no "op" column`)
	}
	return c, nil
}

// indentedComments passes CSV text on with the spaces and tabs before a
// comment's # dropped, so that the CSV reader, which takes a line for a
// comment only when # is its first character, skips "   # note" too: a
// comment is a line whose first character other than a space or a tab is
// #. Only a line that begins a row can be one: a line inside a quoted
// cell (one that holds a line break) is the cell's, whatever it starts
// with, and so is a quoted first cell ("# 1", a value that starts with #).
// Nothing else changes, the line breaks included (refusals name the
// file's own line numbers).
type indentedComments struct {
	r      *bufio.Reader
	buf    []byte // what a read of r became
	out    []byte // what of buf is still to be passed on
	blanks []byte // the spaces and tabs that begin the line, held back
	state  csvState
	err    error
}

// csvState is where in CSV text a byte is, as encoding/csv reads it
// (without LazyQuotes or TrimLeadingSpace).
type csvState int

const (
	rowStart    csvState = iota // a line that begins a row, at or in its leading blanks
	cellStart                   // after a comma
	plainCell                   // in a cell not quoted
	quotedCell                  // in a quoted cell
	quoteInCell                 // after a quote in a quoted cell: its end, or the first of two
	commentRow                  // in a comment
)

func (c *indentedComments) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		var chunk []byte
		chunk, c.err = c.r.ReadSlice('\n')
		if errors.Is(c.err, bufio.ErrBufferFull) {
			c.err = nil // a line longer than the buffer: its next part follows
		}
		c.buf = c.buf[:0]
		for _, b := range chunk {
			c.step(b)
		}
		if c.err != nil {
			c.buf, c.blanks = append(c.buf, c.blanks...), c.blanks[:0]
		}
		c.out = c.buf
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

func (c *indentedComments) step(b byte) {
	switch c.state {
	case rowStart:
		switch b {
		case ' ', '\t':
			c.blanks = append(c.blanks, b)
			return
		case '#':
			c.blanks = c.blanks[:0]
			c.state = commentRow
		case '\n':
		case '"':
			// A quote opens a quoted cell only as the cell's first
			// character; after blanks the reader refuses it as bare.
			if len(c.blanks) == 0 {
				c.state = quotedCell
			} else {
				c.state = plainCell
			}
		case ',':
			c.state = cellStart
		default:
			c.state = plainCell
		}
		c.buf, c.blanks = append(c.buf, c.blanks...), c.blanks[:0]
	case cellStart, plainCell:
		switch {
		case b == '"' && c.state == cellStart:
			c.state = quotedCell
		case b == ',':
			c.state = cellStart
		case b == '\n':
			c.state = rowStart
		default:
			c.state = plainCell
		}
	case quotedCell:
		if b == '"' {
			c.state = quoteInCell
		}
	case quoteInCell:
		switch b {
		case '"':
			c.state = quotedCell
		case ',':
			c.state = cellStart
		case '\n':
			c.state = rowStart
		default:
			c.state = plainCell // refused by the reader
		}
	case commentRow:
		if b == '\n' {
			c.state = rowStart
		}
	}
	c.buf = append(c.buf, b)
}

func (c *csvReader) next() (importLine, error) {
	var rec []string
	for {
		var err error
		rec, err = c.r.Read()
		if err == io.EOF {
			return importLine{}, err
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				hint := ""
				if errors.Is(pe.Err, csv.ErrBareQuote) || errors.Is(pe.Err, csv.ErrQuote) {
					hint = ` (a cell that holds a quote is quoted whole, its quotes doubled: "Oda ""Nobu"" Ken")`
				}
				return importLine{}, fmt.Errorf("CSV line %d: %w%s", pe.StartLine, pe.Err, hint)
			}
			return importLine{}, err
		}
		// A row of empty cells, as a spreadsheet saves the rows below its
		// data (a million of them, for a formatted column): a blank line,
		// skipped as NDJSON's are, in a loop rather than a call each.
		if !emptyRow(rec) {
			break
		}
	}
	// Where the record's first cell begins, asked only of a record read
	// whole: the reader does not know it of a failed one (it panics).
	no, _ := c.r.FieldPos(0)
	l := importLine{no: no}
	if len(rec) == c.width && c.width > len(c.header) {
		// The cells of the unnamed columns at the header's end: empty, as
		// a spreadsheet saves them, or a value no field takes.
		for i := len(c.header); i < len(rec); i++ {
			if strings.TrimSpace(rec[i]) != "" {
				l.err = badLine("", "cell %d holds %q, but its column has no name in the header (name it, or empty the column)", i+1, rec[i])
				return l, nil
			}
		}
		rec = rec[:len(c.header)]
	}
	if len(rec) != len(c.header) {
		l.err = badLine("", "%d cells, the header has %d", len(rec), len(c.header))
		return l, nil
	}
	input := map[string]any{}
	for i, cell := range rec {
		if i == c.opCol || strings.TrimSpace(cell) == "" {
			continue
		}
		name := c.header[i]
		if !utf8.ValidString(cell) {
			// Sent as JSON, each byte that is not UTF-8 would become
			// U+FFFD, and be recorded so for good.
			l.err = badLine(name, "%s", notUTF8)
			return l, nil
		}
		var v any
		if k := inputFields[name].kind; k == kindEnumList {
			if strings.Contains(cell, ",") {
				// No enum value holds a comma: a list written as on the
				// command line, which careerd would refuse as one value.
				l.err = badLine(name, "%q: the items of a list are separated by \";\" in a CSV cell (%s)",
					cell, strings.ReplaceAll(cell, ",", ";"))
				return l, nil
			}
			v = splitList(cell, ";")
		} else {
			var cerr error
			if v, cerr = convertValue(name, cell); cerr != nil {
				_, msg, _ := strings.Cut(cerr.Error(), ": ")
				l.err = badLine(name, "%s", msg)
				return l, nil
			}
		}
		input[name] = v
	}
	l.body, l.err = requestLine(c.base, no, strings.TrimSpace(rec[c.opCol]), input)
	return l, nil
}

// emptyRow reports whether every cell of a CSV record is empty (or
// spaces).
func emptyRow(rec []string) bool {
	for _, cell := range rec {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

// casedColumn is the hint for a CSV header cell that names "op" or an
// input field in another case: names are matched exactly.
func casedColumn(h string) string {
	if strings.EqualFold(h, "op") {
		return `: names are matched exactly, write "op"`
	}
	for name := range inputFields {
		if strings.EqualFold(h, name) {
			return fmt.Sprintf(": names are matched exactly, write %q", name)
		}
	}
	return ""
}

// checkpoint is the progress file of an import: the last line of the file
// whose chunk the server acknowledged. Size and modification time tie it
// to one version of the file.
type checkpoint struct {
	File    string    `json:"file"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Line    int       `json:"line"`
}

func progressPath(file string) string { return file + ".careerctl-progress" }

func loadCheckpoint(file string, st os.FileInfo) (checkpoint, bool) {
	raw, err := os.ReadFile(progressPath(file))
	if err != nil {
		return checkpoint{}, false
	}
	var cp checkpoint
	if json.Unmarshal(raw, &cp) != nil || cp.Size != st.Size() || !cp.ModTime.Equal(st.ModTime()) || cp.File != filepath.Base(file) {
		return checkpoint{}, false
	}
	return cp, true
}

func saveCheckpoint(file string, cp checkpoint) error {
	raw, _ := json.Marshal(cp)
	tmp := progressPath(file) + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, progressPath(file))
}

// tally counts what the server did with the lines sent.
type tally struct {
	sent, recorded, duplicates, skipped int
	refused                             []refusedLine
	warnings                            []refusedLine // recorded lines with something to say
	// chunks the server recorded but answered 202: its read model had
	// not shown them yet
	unseen int
}

// refusedLine is a line the import refused: "line N: CODE field: message".
type refusedLine struct {
	no   int
	text string
}

func (t *tally) refuse(no int, why string) {
	t.refused = append(t.refused, refusedLine{no, fmt.Sprintf("line %d: %s", no, why)})
}

func (t *tally) add(no int, r bulkResult) {
	switch {
	case !r.OK:
		t.refuse(no, r.refusal())
	case r.Duplicate:
		t.duplicates++
	default:
		t.recorded++
	}
	for _, w := range r.Warnings {
		t.warnings = append(t.warnings, refusedLine{no, fmt.Sprintf("line %d: warning: %s", no, w)})
	}
}

// importCommand sends an NDJSON or CSV file of commands to the bulk
// endpoint in chunks.
func importCommand(c *cli, args []string) error {
	fs := newFlagSet("import")
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: careerctl import FILE [--format ndjson|csv] [--chunk 1000]")
		fs.PrintDefaults()
	}
	ep := endpointFlags(fs, c)
	format := fs.String("format", "", "ndjson or csv (default: from the file name, .csv = csv)")
	chunk := fs.Int("chunk", 1000, "lines per request (1-10000)")
	file, err := parseWithOneArg(fs, args, "FILE")
	if err != nil {
		return err
	}
	if *chunk < 1 || *chunk > maxBulkLines {
		return usagef("--chunk must be between 1 and %d", maxBulkLines)
	}
	if *format == "" {
		*format = "ndjson"
		if strings.EqualFold(filepath.Ext(file), ".csv") {
			*format = "csv"
		}
	}
	*format = strings.ToLower(*format)
	if *format != "ndjson" && *format != "csv" {
		return usagef("--format must be ndjson or csv, not %q", *format)
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	base := filepath.Base(file)
	total, lines, err := countLines(file, *format, base)
	if err != nil {
		return err
	}
	cp, resumed := loadCheckpoint(file, st)
	if resumed {
		fmt.Fprintf(c.stderr, "resuming after line %d (%s)\n", cp.Line, progressPath(file))
	}
	cp = checkpoint{File: base, Size: st.Size(), ModTime: st.ModTime(), Line: cp.Line}

	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	lr, err := newLineReader(f, *format, base)
	if err != nil {
		return err
	}
	var t tally
	prog := newProgress(c.stderr, nil, "import", "commands", int64(total), 0)
	var (
		batch   [][]byte
		nos     []int
		size    int
		handled int // lines read so far, sent or not
		lastNo  int
	)
	flush := func() error {
		if len(batch) > 0 {
			results, unseen, err := ep.bulkImport(c.ctx, batch)
			if err != nil {
				return err
			}
			if unseen {
				t.unseen++
			}
			for i, r := range results {
				t.add(nos[i], r)
			}
			t.sent += len(batch)
		}
		if lastNo > cp.Line {
			cp.Line = lastNo
			if err := saveCheckpoint(file, cp); err != nil {
				return fmt.Errorf("progress file: %w", err)
			}
		}
		batch, nos, size = batch[:0], nos[:0], 0
		prog.Set(int64(handled))
		return nil
	}
	for {
		l, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if l.no <= cp.Line && resumed {
			t.skipped++
			handled++
			lastNo = l.no
			prog.base = int64(handled)
			continue
		}
		if len(batch) > 0 && (len(batch) >= *chunk || size+len(l.body)+1 > maxBulkBytes) {
			if err := flush(); err != nil {
				return interrupted(c, err, &t, file)
			}
		}
		handled++
		lastNo = l.no
		if l.err != nil {
			t.refuse(l.no, l.err.String())
			continue
		}
		batch, nos, size = append(batch, l.body), append(nos, l.no), size+len(l.body)+1
	}
	if err := flush(); err != nil {
		return interrupted(c, err, &t, file)
	}
	prog.Finish()
	os.Remove(progressPath(file))
	printTally(c.stdout, file, total, lines, &t)
	if len(t.refused) > 0 {
		return errReported
	}
	return nil
}

// countLines counts the commands of a file (bad lines included) for the
// progress display and the summary, and the file's lines (a header, blank
// lines, comments and a CSV cell's line breaks included: the numbers an
// editor shows, which the refusals name); a file that cannot be parsed at
// all fails here, before anything is sent.
func countLines(file, format, base string) (commands, lines int, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	lc := &lineCounter{r: f}
	lr, err := newLineReader(lc, format, base)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w; nothing was sent", file, err)
	}
	n := 0
	for {
		l, err := lr.next()
		if err == io.EOF {
			return n, lc.lines(), nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w; nothing was sent", file, err)
		}
		if n == 0 && l.err != nil && (l.err.exported || l.err.wrongFormat) {
			// A whole export, most likely: one refusal, not one a line.
			return 0, 0, fmt.Errorf("%s line %d is %s; nothing was sent", file, l.no, l.err.message)
		}
		n++
	}
}

// lineCounter counts the lines of what is read through it: its line
// feeds, and a last line without one.
type lineCounter struct {
	r        io.Reader
	newlines int
	last     byte
	any      bool
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.newlines += bytes.Count(p[:n], []byte{'\n'})
		c.last, c.any = p[n-1], true
	}
	return n, err
}

func (c *lineCounter) lines() int {
	if c.any && c.last != '\n' {
		return c.newlines + 1
	}
	return c.newlines
}

// interrupted reports what a stopped import did and how to resume.
func interrupted(c *cli, err error, t *tally, file string) error {
	fmt.Fprintln(c.stderr)
	if errors.Is(err, errNotImplemented) {
		return err
	}
	if c.ctx.Err() != nil {
		err = errors.New("interrupted")
	}
	printTally(c.stdout, file, -1, -1, t)
	if _, serr := os.Stat(progressPath(file)); serr == nil {
		return fmt.Errorf("%w\nrun the same command again to resume after the last acknowledged line (%s)", err, progressPath(file))
	}
	return fmt.Errorf("%w\nrun the same command again: lines already recorded are answered as duplicates", err)
}

// printTally prints the summary of an import: the file's commands and
// lines (when it was read through, total >= 0), what became of the
// commands, and the refused lines and warnings by line number.
func printTally(w io.Writer, file string, total, lines int, t *tally) {
	of := ""
	if total >= 0 {
		of = fmt.Sprintf(", %s on %s", plural(total, "command", "commands"), plural(lines, "line", "lines"))
	}
	// Already recorded: answered as duplicates of their keys, by an earlier
	// run or by an attempt of this one cut short before its answer came
	// (careerd gone mid-chunk): which one, careerctl cannot tell.
	fmt.Fprintf(w, "%s%s: %s recorded, %s already recorded (duplicates), %s refused", file, of,
		groupDigits(int64(t.recorded)), groupDigits(int64(t.duplicates)), groupDigits(int64(len(t.refused))))
	if t.skipped > 0 {
		fmt.Fprintf(w, ", %s skipped (acknowledged by an earlier run)", groupDigits(int64(t.skipped)))
	}
	fmt.Fprintln(w)
	if t.unseen > 0 {
		fmt.Fprintf(w, "careerd recorded %s of the chunks before its read model showed them (202 Accepted): queries show them once it catches up\n",
			groupDigits(int64(t.unseen)))
	}
	slices.SortStableFunc(t.refused, func(a, b refusedLine) int { return a.no - b.no })
	for _, r := range t.refused {
		fmt.Fprintln(w, r.text)
	}
	slices.SortStableFunc(t.warnings, func(a, b refusedLine) int { return a.no - b.no })
	for _, r := range t.warnings {
		fmt.Fprintln(w, r.text)
	}
}
