package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Bulk imports: a CSV of group members (ImportMembers) and a preview of an
// inventory import (PreviewDevices; ImportDevices writes). Both are
// all-or-nothing and report every rejected row in one *ValidationError.

// MemberImportResult counts what a member import did or would do.
type MemberImportResult struct {
	Rows       int // data rows read
	Added      int // devices that were not members yet
	Already    int // devices that were members already
	Duplicates int // rows naming a device an earlier row named
	// DevicePKs are the resolved devices, in file order without duplicates.
	DevicePKs []int64
}

// memberKeys are the columns a member file may identify devices by.
var memberKeys = []string{"device_id", "serial_number", "display_name"}

// memberBatch is how many values one statement resolves or inserts. The
// values travel as one JSON array (json_each), so a 100,000-row file costs
// about a hundred statements instead of one per row, which is what keeps a
// 100,000-row preview and commit within a few seconds.
const memberBatch = 1000

// memberLookup resolves one batch of values of a key column to at most two
// devices each (two are enough to call a value ambiguous): the result is the
// value's index in the batch and the matching ids, comma-separated, or NULL.
// Serial numbers and names compare case-insensitively (ASCII), as the
// indexes do; an empty serial matches nothing.
var memberLookup = map[string]string{
	"device_id": `SELECT j.key, (SELECT group_concat(id) FROM
		(SELECT id FROM devices WHERE device_id = j.value LIMIT 2)) FROM json_each(?) j`,
	"serial_number": `SELECT j.key, (SELECT group_concat(id) FROM
		(SELECT id FROM devices WHERE serial_number = j.value COLLATE NOCASE AND serial_number <> '' LIMIT 2)) FROM json_each(?) j`,
	"display_name": `SELECT j.key, (SELECT group_concat(id) FROM
		(SELECT id FROM devices WHERE display_name = j.value COLLATE NOCASE LIMIT 2)) FROM json_each(?) j`,
}

// ImportMembers adds the devices listed in a CSV to an assigned group. The
// file has one column, device_id, serial_number or display_name. Unknown
// devices and serial numbers or names that match more than one device are
// rejected with reasons, and then nothing is written; a row naming a device
// an earlier row named is counted as a duplicate, not rejected. With dryRun
// it only resolves and counts (the preview), on a read transaction, so a
// preview never waits for or blocks a writer.
func (s *Store) ImportMembers(ctx context.Context, group string, r io.Reader, source, actor string, dryRun bool) (MemberImportResult, error) {
	var res MemberImportResult
	run := s.write
	if dryRun {
		run = s.read
	}
	err := run(ctx, func(tx *sql.Tx) error {
		g, err := groupForWrite(ctx, tx, group)
		if err != nil {
			return err
		}
		if err := editable(g); err != nil {
			return err
		}
		if g.Kind != GroupAssigned {
			return invalidf("group %q is dynamic; its members come from its rule", g.Name)
		}
		res, err = resolveMemberCSV(ctx, tx, r)
		if err != nil {
			return err
		}
		devs, err := addDeviceMembers(ctx, tx, g.ID, res.DevicePKs, actor, dryRun, &res)
		if err != nil || dryRun {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupMembers, Target: g.Name,
			Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("import %s: %d rows, %d added, %d already members, %d duplicate rows",
				source, res.Rows, res.Added, res.Already, res.Duplicates)}, devs)
	})
	if err != nil {
		return MemberImportResult{}, fmt.Errorf("import members: %w", err)
	}
	return res, nil
}

// memberRow is one value of a member file waiting to be resolved.
type memberRow struct {
	row   int
	value string
}

// resolveMemberCSV reads a member file and resolves every row to one device.
// Rows are numbered as ReadInventoryCSV numbers them: row N starts N lines
// below the header.
func resolveMemberCSV(ctx context.Context, tx *sql.Tx, r io.Reader) (MemberImportResult, error) {
	var res MemberImportResult
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	} else if bytes.HasPrefix(head, []byte("\xff\xfe")) || bytes.HasPrefix(head, []byte("\xfe\xff")) {
		return res, headerError("the file is UTF-16 text; save it as CSV UTF-8")
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1

	var (
		key        string
		headerLine int
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return res, headerError("the file is empty; expected a header row with one of device_id, serial_number, display_name")
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return res, headerError(fmt.Sprintf("the header row is not valid CSV: %v", pe.Err))
			}
			return res, fmt.Errorf("read member csv: %w", err)
		}
		if blankRecord(rec) {
			continue
		}
		headerLine, _ = cr.FieldPos(0)
		var verr *ValidationError
		if key, verr = memberHeader(trimEmptyTail(rec)); verr != nil {
			return res, verr
		}
		break
	}

	stmt, err := tx.PrepareContext(ctx, memberLookup[key])
	if err != nil {
		return res, err
	}
	defer stmt.Close()
	verr := &ValidationError{}
	seen := make(map[int64]struct{})
	batch := make([]memberRow, 0, memberBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		matches, err := lookupMembers(ctx, stmt, batch)
		if err != nil {
			return err
		}
		for i, m := range batch {
			switch ids := matches[i]; len(ids) {
			case 0:
				verr.add(FieldError{Row: m.row, Field: key, Value: m.value,
					Reason: fmt.Sprintf("no device has %s %s", key, quote(m.value))})
			case 1:
				if _, dup := seen[ids[0]]; dup {
					res.Duplicates++
					continue
				}
				seen[ids[0]] = struct{}{}
				res.DevicePKs = append(res.DevicePKs, ids[0])
			default:
				verr.add(FieldError{Row: m.row, Field: key, Value: m.value,
					Reason: fmt.Sprintf("%s %s matches more than one device; use device_id", key, quote(m.value))})
			}
		}
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return res, fmt.Errorf("read member csv: %w", err)
			}
			res.Rows++
			verr.add(FieldError{Row: pe.StartLine - headerLine, Reason: csvSyntaxReason(pe)})
			continue
		}
		if blankRecord(rec) {
			continue
		}
		res.Rows++
		line, _ := cr.FieldPos(0)
		row := line - headerLine
		cells := trimEmptyTail(rec)
		if len(cells) != 1 {
			verr.add(FieldError{Row: row, Field: key, Reason: fmt.Sprintf(
				"the row has %d values; a member file has one column, %s (quote a value that contains a comma)", len(cells), key)})
			continue
		}
		v := CSVUnguard(strings.TrimSpace(cells[0])) // an export's guard is not data
		if v == "" {
			verr.add(FieldError{Row: row, Field: key, Reason: reasonRequired})
			continue
		}
		if err := checkText(v, maxTextLen); err != nil {
			verr.add(FieldError{Row: row, Field: key, Value: v, Reason: err.Error()})
			continue
		}
		if key == "device_id" {
			id, ok := parseGUID(v)
			if !ok {
				verr.add(FieldError{Row: row, Field: key, Value: v, Reason: fmt.Sprintf(
					"%s is not a device ID; expected a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e", quote(v))})
				continue
			}
			v = id
		}
		batch = append(batch, memberRow{row: row, value: v})
		if len(batch) == memberBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	if !verr.empty() {
		return res, verr
	}
	return res, nil
}

// memberHeader checks a member file's header: one column named by a key.
func memberHeader(header []string) (string, *ValidationError) {
	if len(header) == 1 {
		name := strings.TrimSpace(header[0])
		for _, k := range memberKeys {
			if strings.EqualFold(name, k) {
				return k, nil
			}
		}
		reason := fmt.Sprintf("the header %s is not one of device_id, serial_number, display_name", quote(name))
		for _, k := range memberKeys {
			if f, _ := InventoryFieldByKey(k); squash(name) == squash(f.Key) || squash(name) == squash(f.Label) {
				reason += fmt.Sprintf(" (did you mean %s?)", k)
				break
			}
		}
		return "", headerError(reason)
	}
	return "", headerError(fmt.Sprintf(
		"the header has %d columns; a member file has exactly one, named device_id, serial_number or display_name", len(header)))
}

// trimEmptyTail drops the empty cells at the end of a record, which
// spreadsheets leave after a one-column table.
func trimEmptyTail(rec []string) []string {
	n := len(rec)
	for n > 1 && strings.TrimSpace(rec[n-1]) == "" {
		n--
	}
	return rec[:n]
}

// lookupMembers resolves a batch: for each value, the ids of up to two
// matching devices.
func lookupMembers(ctx context.Context, stmt *sql.Stmt, batch []memberRow) ([][]int64, error) {
	values := make([]string, len(batch))
	for i, m := range batch {
		values[i] = m.value
	}
	arg, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, fmt.Errorf("resolve members: %w", err)
	}
	defer rows.Close()
	out := make([][]int64, len(batch))
	for rows.Next() {
		var i int
		var ids sql.NullString
		if err := rows.Scan(&i, &ids); err != nil {
			return nil, err
		}
		if !ids.Valid || i < 0 || i >= len(out) {
			continue
		}
		for _, s := range strings.Split(ids.String, ",") {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("resolve members: device id %q: %w", s, err)
			}
			out[i] = append(out[i], id)
		}
	}
	return out, rows.Err()
}

// int64sJSON encodes ids as a JSON array for json_each.
func int64sJSON(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// addDeviceMembers counts which devices are members already and, unless
// dryRun, inserts the others; it returns the added devices, in file order,
// for the audit entry.
func addDeviceMembers(ctx context.Context, tx *sql.Tx, groupID int64, pks []int64, actor string, dryRun bool, res *MemberImportResult) ([]AuditDevice, error) {
	who, err := tx.PrepareContext(ctx, `
		SELECT d.id, d.device_id, d.serial_number,
			EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = ? AND m.device_pk = d.id)
		FROM json_each(?) j JOIN devices d ON d.id = j.value ORDER BY j.key`)
	if err != nil {
		return nil, err
	}
	defer who.Close()
	var ins *sql.Stmt
	if !dryRun {
		if ins, err = tx.PrepareContext(ctx, `
			INSERT OR IGNORE INTO group_members (group_id, device_pk, added_at, added_by)
			SELECT ?, value, ?, ? FROM json_each(?)`); err != nil {
			return nil, err
		}
		defer ins.Close()
	}
	now := time.Now().Unix()
	var devs []AuditDevice
	for start := 0; start < len(pks); start += memberBatch {
		batch := pks[start:min(start+memberBatch, len(pks))]
		rows, err := who.QueryContext(ctx, groupID, int64sJSON(batch))
		if err != nil {
			return nil, err
		}
		var added []int64
		for rows.Next() {
			var pk int64
			var d AuditDevice
			var member bool
			if err := rows.Scan(&pk, &d.DeviceID, &d.SerialNumber, &member); err != nil {
				rows.Close()
				return nil, err
			}
			if member {
				res.Already++
				continue
			}
			res.Added++
			added = append(added, pk)
			if !dryRun {
				devs = append(devs, d)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if dryRun || len(added) == 0 {
			continue
		}
		// The write transaction is immediate, so nobody added these since
		// the read above; OR IGNORE only guards the unique index.
		if _, err := ins.ExecContext(ctx, groupID, now, actor, int64sJSON(added)); err != nil {
			return nil, err
		}
	}
	return devs, nil
}

// errPreviewRollback ends a preview's transaction: the preview writes to see
// what would change, then rolls back.
var errPreviewRollback = errors.New("preview: roll back")

// PreviewDevices checks an inventory CSV as ImportDevices does and counts
// what it would do (new, updated, unchanged) without writing anything: it
// runs the same upserts in a transaction that it rolls back, so the counts
// are exactly the import's. The file is streamed, not held in memory. When
// any row is rejected the error is the *ValidationError naming every bad
// row.
func (s *Store) PreviewDevices(ctx context.Context, r io.Reader) (ImportResult, error) {
	var res ImportResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = upsertAll(ctx, tx, nil, func(write func(*Device) error) error { return pipeInventory(ctx, r, write) })
		if err != nil {
			return err
		}
		return errPreviewRollback
	})
	if err != nil && !errors.Is(err, errPreviewRollback) {
		return ImportResult{}, fmt.Errorf("preview devices: %w", err)
	}
	return res, nil
}

// MemberImportGroup is an assigned group as a member import offers it: the
// group and whether the user may change its membership.
type MemberImportGroup struct {
	Group
	// Allowed is Store.MayEditGroup: PermEditGroups for most groups; for the
	// Device Registration group and the groups nested in it
	// PermEditRegistrationGroup, or a Service Administrator who owns it.
	Allowed bool
}

// MemberImportGroups lists the assigned groups, the Device Registration
// group first, each with whether u may import members into it.
func (s *Store) MemberImportGroups(ctx context.Context, u User) ([]MemberImportGroup, error) {
	groups, err := s.Groups(ctx)
	if err != nil {
		return nil, err
	}
	var out []MemberImportGroup
	for _, g := range groups {
		if g.Kind != GroupAssigned {
			continue
		}
		allowed, err := s.MayEditGroup(ctx, g, u)
		if err != nil {
			return nil, err
		}
		out = append(out, MemberImportGroup{Group: g, Allowed: allowed})
	}
	return out, nil
}

// MemberImportTarget returns the group a member import names, with whether
// u may import into it. A dynamic group is refused: its rule decides its
// members.
func (s *Store) MemberImportTarget(ctx context.Context, group string, u User) (MemberImportGroup, error) {
	g, err := s.Group(ctx, group)
	if err != nil {
		return MemberImportGroup{}, err
	}
	if g.Kind != GroupAssigned {
		return MemberImportGroup{}, invalidf("group %q is dynamic; its members come from its rule", g.Name)
	}
	allowed, err := s.MayEditGroup(ctx, g, u)
	if err != nil {
		return MemberImportGroup{}, err
	}
	return MemberImportGroup{Group: g, Allowed: allowed}, nil
}
