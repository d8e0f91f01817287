package store

import (
	"bufio"
	"io"
	"strings"
)

// utf8BOM starts an export unless asked not to: without it Excel on Windows
// reads the file in the machine's ANSI code page and shows "Müller" as
// "MÃ¼ller".
const utf8BOM = "\ufeff"

// CSVOptions say how an export is written.
type CSVOptions struct {
	// NoBOM leaves out the UTF-8 byte-order mark (for scripts that do not
	// expect one); by default it is written.
	NoBOM bool
}

// CSVWriter writes CSV that a spreadsheet opens without running anything,
// whatever delimiter it splits on: every non-empty field is quoted, so a
// delimiter inside a value (a ';' for German and French Excel, a tab) never
// starts a new cell, and a value that would start with a formula character
// gets CSVSafe's apostrophe. Records end in CRLF (RFC 4180). Errors are
// sticky: the first one is returned by every later call.
type CSVWriter struct {
	w   *bufio.Writer
	err error
}

// NewCSVWriter writes to w through a 64 kB buffer (a response costs a system
// call per write), starting with the byte-order mark unless opts.NoBOM.
func NewCSVWriter(w io.Writer, opts CSVOptions) *CSVWriter {
	c := &CSVWriter{w: bufio.NewWriterSize(w, 64<<10)}
	if !opts.NoBOM {
		_, c.err = c.w.WriteString(utf8BOM)
	}
	return c
}

// Write writes one record. Cells are guarded here, so callers pass values
// as they are.
func (c *CSVWriter) Write(rec []string) error {
	if c.err != nil {
		return c.err
	}
	for i, f := range rec {
		if i > 0 {
			c.err = c.w.WriteByte(',')
		}
		if f != "" && c.err == nil {
			c.err = c.quoted(CSVSafe(f))
		}
		if c.err != nil {
			return c.err
		}
	}
	_, c.err = c.w.WriteString("\r\n")
	return c.err
}

func (c *CSVWriter) quoted(f string) error {
	if err := c.w.WriteByte('"'); err != nil {
		return err
	}
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		if _, err := c.w.WriteString(f[:i+1]); err != nil {
			return err
		}
		if err := c.w.WriteByte('"'); err != nil { // "" is a quote inside a field
			return err
		}
		f = f[i+1:]
	}
	if _, err := c.w.WriteString(f); err != nil {
		return err
	}
	return c.w.WriteByte('"')
}

// Flush writes what is buffered and returns the first error of any call.
func (c *CSVWriter) Flush() error {
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}
