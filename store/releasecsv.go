package store

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The releases CSV (SPEC §12): one release a row, under the header
// name,date,classification,builds, with the build lines of a release in one
// cell separated by spaces ("26100.7462 22631.6345"). The portal's upload
// and `patchboard release import` read it the same way, and add its
// releases all or nothing.

// ReleaseCSVHeader is the header a releases CSV starts with.
const ReleaseCSVHeader = "name,date,classification,builds"

// maxReleaseRows bounds a releases CSV: a year of monthly and out-of-band
// releases is a few dozen rows.
const maxReleaseRows = 1000

// ParseReleasesCSV reads a releases CSV and checks every row, collecting
// every problem as a FieldError naming the data row (1 = the first after
// the header) and the field, so that a person fixes the file in one go. A
// UTF-8 byte-order mark and the formula guard of Patchboard's exports are
// taken off.
func ParseReleasesCSV(in io.Reader) ([]NewRelease, error) {
	rels, _, err := parseReleasesCSV(in)
	return rels, err
}

// parseReleasesCSV is ParseReleasesCSV that also returns the data row of
// each release.
func parseReleasesCSV(in io.Reader) ([]NewRelease, []int, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1 // a row of the wrong width is reported by its row
	header, err := r.Read()
	if err != nil {
		return nil, nil, invalidf("the file is not a releases CSV: its first line must be the header %s", ReleaseCSVHeader)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], utf8BOM)
	}
	if got := strings.ToLower(strings.Join(header, ",")); got != ReleaseCSVHeader {
		return nil, nil, invalidf("the header is %q; a releases CSV starts with the header %s", strings.Join(header, ","), ReleaseCSVHeader)
	}
	verr := &ValidationError{}
	var out []NewRelease
	var rows []int
	names := map[string]int{} // lower-case name -> its row
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			verr.add(FieldError{Row: pe.StartLine - 1, Reason: "the row is not valid CSV: " + pe.Err.Error()})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read the releases CSV: %w", err)
		}
		line, _ := r.FieldPos(0)
		row := line - 1 // the header is line 1; blank lines are counted, as an editor shows them
		if n > maxReleaseRows {
			return nil, nil, invalidf("the file has more than %d releases: split it", maxReleaseRows)
		}
		if len(rec) != 4 {
			verr.add(FieldError{Row: row, Reason: fmt.Sprintf("the row has %d fields; it needs 4 (%s)", len(rec), ReleaseCSVHeader)})
			continue
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(CSVUnguard(rec[i]))
		}
		if rel, ok := parseReleaseRow(rec, row, verr); ok {
			key := strings.ToLower(rel.Name)
			if first, dup := names[key]; dup {
				verr.add(FieldError{Row: row, Field: "name", Value: rel.Name, Reason: fmt.Sprintf("release %s is already named on row %d", rel.Name, first)})
				continue
			}
			names[key] = row
			out, rows = append(out, rel), append(rows, row)
		}
	}
	if !verr.empty() {
		return nil, nil, verr
	}
	if len(out) == 0 {
		return nil, nil, invalidf("the file has a header but no releases")
	}
	return out, rows, nil
}

// parseReleaseRow checks one row's fields, adding a FieldError for each
// wrong one.
func parseReleaseRow(rec []string, row int, verr *ValidationError) (NewRelease, bool) {
	bad := func(field, value string, err error) {
		verr.add(FieldError{Row: row, Field: field, Value: value, Reason: err.Error()})
	}
	ok := true
	rel := NewRelease{Name: rec[0]}
	var err error
	if rel.Date, err = ParseDay(rec[1]); err != nil {
		bad("date", rec[1], err)
		ok = false
	}
	if rel.Classification, err = ParseClassification(rec[2]); err != nil {
		bad("classification", rec[2], err)
		ok = false
	}
	if rel.Builds, err = ParseBuilds(rec[3]); err != nil {
		bad("builds", rec[3], err)
		ok = false
	}
	if !ok {
		return rel, false
	}
	// The rules every release follows (a name, at most 100 characters, a
	// build line at most once), named by the field they concern.
	if err := rel.normalize(); err != nil {
		field := "builds"
		if rel.Name == "" || len(rel.Name) > 100 {
			field = "name"
		}
		bad(field, rec[0], err)
		return rel, false
	}
	return rel, true
}

// ImportReleases adds the releases of a releases CSV, all or nothing:
// every row is checked first, and a row naming a release that exists is
// refused by its row. Each release added is audited, as one added by hand.
func (s *Store) ImportReleases(ctx context.Context, in io.Reader, actor string, now time.Time) ([]Release, error) {
	rels, rows, err := parseReleasesCSV(in)
	if err != nil {
		return nil, err
	}
	have, err := loadReleases(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("import releases: %w", err)
	}
	exists := make(map[string]bool, len(have))
	for _, h := range have {
		exists[strings.ToLower(h.Name)] = true
	}
	verr := &ValidationError{}
	for i, r := range rels {
		if exists[strings.ToLower(r.Name)] {
			verr.add(FieldError{Row: rows[i], Field: "name", Value: r.Name, Reason: fmt.Sprintf("a release named %s already exists", r.Name)})
		}
	}
	if !verr.empty() {
		return nil, verr
	}
	return s.AddReleases(ctx, rels, actor, now)
}
