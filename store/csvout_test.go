package store

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
)

// hostile are display names a spreadsheet must show as text, whatever
// delimiter it splits the file on.
var hostile = []string{
	`x;=1+1;y`,
	`x|=1+1|y`,
	`=HYPERLINK("http://evil.example","click")`,
	`+1+1`, `-2+3`, `@SUM(A1)`,
	`Müller, "Hans"`,
	`'kept as typed`,
}

func TestExportIsSafeForEveryDelimiter(t *testing.T) {
	st := openTestStore(t)
	var devs []*Device
	for i, name := range hostile {
		devs = append(devs, healthy(i+1, func(d *Device) { d.DisplayName = name }))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)
	cols, err := ParseColumns("device_id,display_name,serial_number,manufacturer,model")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := st.ExportCSV(context.Background(), &buf, DeviceQuery{Tab: TabReady}, cols, CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	body, ok := bytes.CutPrefix(buf.Bytes(), []byte(utf8BOM))
	if !ok {
		t.Fatal("no UTF-8 byte-order mark: Excel would show Müller as MÃ¼ller")
	}

	// A spreadsheet that splits on any of these reads no cell that starts a
	// formula: every delimiter inside a value sits inside quotes.
	for _, delim := range []rune{',', ';', '\t', '|'} {
		r := csv.NewReader(bytes.NewReader(body))
		r.Comma, r.LazyQuotes, r.FieldsPerRecord = delim, true, -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("split on %q: %v", delim, err)
		}
		for _, rec := range recs {
			for _, cell := range rec {
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
					t.Errorf("split on %q, cell %q would run as a formula", delim, cell)
				}
			}
		}
	}

	// Read back as an import, the guard is gone and every name is as it was.
	other, err := Open(context.Background(), filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ImportDevices(context.Background(), bytes.NewReader(buf.Bytes()), "export.csv", "tester"); err != nil {
		t.Fatalf("re-import the export: %v", err)
	}
	for _, d := range devs {
		if got := mustDevice(t, other, d.DeviceID).DisplayName; got != d.DisplayName {
			t.Errorf("re-imported name %q, want %q", got, d.DisplayName)
		}
	}
}

func TestCSVWriterNoBOM(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVWriter(&buf, CSVOptions{NoBOM: true})
	if err := w.Write([]string{"a", "", `b"c`}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "\"a\",,\"b\"\"c\"\r\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
