package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestParseReleasesCSV(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string // the FieldErrors, or the error's text
		n    int      // releases read when no error
	}{
		{name: "good, with a BOM, a guard and a blank line",
			give: "\ufeffname,date,classification,builds\n2026-11 B,2026-11-10,security,26100.7300 22631.6200\n\n'-OOB,2026-11-20,out-of-band,26100.7310\n", n: 2},
		{name: "classification may be empty", give: "name,date,classification,builds\n2026-11 B,2026-11-10,,26100.7300\n", n: 1},
		{name: "every wrong row and field at once",
			give: "name,date,classification,builds\n" +
				"2026-11 B,2026-13-10,security,26100.7300\n" +
				"2026-12 B,2026-12-08,urgent,26100\n" +
				",2026-12-09,security,26100.7400\n" +
				"OOB,2026-12-10,security,26100.7401 26100.7402\n" +
				"2026-11 b,2026-11-11,security,26100.7301\n" +
				"2026-11 B,2026-11-10,security,26100.7300\n" +
				"short,2026-11-10\n",
			want: []string{
				`row 1: date: date "2026-13-10" is not a date such as 2026-12-08 (YYYY-MM-DD)`,
				`row 2: classification: classification "urgent" is not one of security, non-security, out-of-band`,
				"row 2: builds: ",
				"row 3: name: a release needs a name",
				"row 4: builds: release OOB names build line 26100 twice",
				"row 6: name: release 2026-11 B is already named on row 5",
				"row 7: the row has 2 fields; it needs 4",
			}},
		{name: "wrong header", give: "name,date,builds\nx,2026-11-10,26100.1\n", want: []string{`the header is "name,date,builds"`}},
		{name: "header only", give: "name,date,classification,builds\n", want: []string{"no releases"}},
		{name: "empty file", give: "", want: []string{"first line must be the header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rels, err := ParseReleasesCSV(strings.NewReader(tt.give))
			if tt.want == nil {
				if err != nil || len(rels) != tt.n {
					t.Fatalf("read %d releases, %v; want %d", len(rels), err, tt.n)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				if len(tt.want) != 1 || !strings.Contains(err.Error(), tt.want[0]) {
					t.Fatalf("error %q, want one containing %q", err, tt.want[0])
				}
				return
			}
			if len(ve.Errors) != len(tt.want) {
				t.Fatalf("%d problems %v, want %d", len(ve.Errors), ve.Errors, len(tt.want))
			}
			for i, fe := range ve.Errors {
				if !strings.HasPrefix(fe.Error(), tt.want[i]) {
					t.Errorf("problem %d: %q, want it to start %q", i, fe.Error(), tt.want[i])
				}
			}
		})
	}
	rels, _ := ParseReleasesCSV(strings.NewReader("name,date,classification,builds\n'-OOB,2026-11-20,out-of-band,26100.7310\n"))
	if rels[0].Name != "-OOB" || rels[0].Classification != ClassOutOfBand {
		t.Errorf("guarded row read as %+v", rels[0])
	}
}

// An import adds every release or none: a row naming an existing release
// is refused by its row, and nothing of the file is added.
func TestImportReleasesAllOrNothing(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	file := "name,date,classification,builds\n2026-11 B,2026-11-10,security,26100.7300\n2026-12 B,2026-12-08,security,26100.7462\n"
	if _, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday, Builds: []BuildRevision{{26100, 7462}}}, "a", testNow); err != nil {
		t.Fatal(err)
	}
	_, err := st.ImportReleases(ctx, strings.NewReader(file), "admin", testNow)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != "row 2: name: a release named 2026-12 B already exists" {
		t.Fatalf("error %v", err)
	}
	if rels, _ := st.Releases(ctx); len(rels) != 1 {
		t.Fatalf("%d releases after a refused import, want 1", len(rels))
	}
	added, err := st.ImportReleases(ctx, strings.NewReader(strings.Replace(file, "2026-12 B,2026-12-08", "2026-11 OOB,2026-11-20", 1)), "admin", testNow)
	if err != nil || len(added) != 2 {
		t.Fatalf("import: %d added, %v", len(added), err)
	}
	entries, err := st.AuditEntries(ctx, AuditFilter{Action: ActionReleaseAdd})
	if err != nil || len(entries) != 3 {
		t.Errorf("%d release.add audit entries (%v), want 3", len(entries), err)
	}
}
