package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Triage: the blades narrowed to the devices failing one check, or to the
// devices of a pasted list (SPEC §8's triage tools).

// MaxListEntries bounds a pasted list of devices.
const MaxListEntries = 10_000

// setFilter is the condition that keeps the devices of p's set filters:
// failing the check, named by the list, and matching the search.
func (p *devicePlan) setFilter(a *args) string {
	var conds []string
	if p.q.Check != "" {
		conds = append(conds, fmt.Sprintf("d.id IN (SELECT device_pk FROM check_results INDEXED BY check_results_failing WHERE check_id = %s AND passed = 0)",
			a.add(string(p.q.Check))))
	}
	if p.q.List != 0 {
		conds = append(conds, "d.id IN (SELECT value FROM json_each("+a.add(p.listIDs)+"))")
	}
	if p.q.Rule != "" {
		conds = append(conds, "d.id IN (SELECT value FROM json_each("+a.add(p.ruleIDs)+"))")
	}
	if p.like != "" {
		conds = append(conds, likeCond(a.add(p.like)))
	}
	return strings.Join(conds, " AND ")
}

// listIDs returns the ids of the devices a saved list names as a JSON
// array, kept until the next commit: a blade's page and its count each
// tested every device against the list's 10,000 entries, three lookups an
// entry, where they now read the ids found once.
func (s *Store) listIDs(ctx context.Context, v uint64, id int64) (string, error) {
	return memoized(s, v, fmt.Sprintf("device-list:%d", id), func() (string, error) {
		var ids string
		err := s.queryRow(ctx, "SELECT json_group_array(id) FROM ("+listMembers("?1")+")", id).Scan(&ids)
		if err != nil {
			return "", fmt.Errorf("device list: %w", err)
		}
		return ids, nil
	})
}

// listMembers selects the ids of the devices a saved list names, by device
// ID, serial number or display name, each through its index.
func listMembers(listID string) string {
	entries := "SELECT value FROM device_lists l, json_each(l.entries) WHERE l.id = " + listID
	return fmt.Sprintf(`SELECT id FROM devices WHERE device_id IN (SELECT lower(value) FROM (%[1]s))
		UNION SELECT id FROM devices INDEXED BY devices_serial WHERE serial_number <> '' AND serial_number COLLATE NOCASE IN (%[1]s)
		UNION SELECT id FROM devices INDEXED BY devices_name WHERE display_name COLLATE NOCASE IN (%[1]s)`, entries)
}

// DeviceList is a pasted list of devices: the entries as pasted (names,
// serial numbers or device IDs), one a line.
type DeviceList struct {
	ID      int64
	Entries []string
	// NotFound are the entries that name no device at all.
	NotFound []string
}

// ParseDeviceList splits pasted text into entries: one a line (commas,
// semicolons and tabs separate too, as spreadsheets paste), trimmed, blank
// ones and repeats dropped. More than MaxListEntries is refused.
func ParseDeviceList(text string) ([]string, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return r == '\n' || r == '\r' || r == ',' || r == ';' || r == '\t'
	})
	seen := make(map[string]bool, len(fields))
	var out []string
	for _, f := range fields {
		f = strings.TrimSpace(strings.Trim(strings.TrimSpace(f), `"'`))
		if f == "" || seen[strings.ToLower(f)] {
			continue
		}
		if len(f) > 256 {
			return nil, invalidf("line %q is longer than 256 characters; paste one device name, serial number or device ID a line", f[:40]+"…")
		}
		seen[strings.ToLower(f)] = true
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, invalidf("the list is empty; paste device names, serial numbers or device IDs, one a line")
	}
	if len(out) > MaxListEntries {
		return nil, invalidf("the list has %d devices; paste at most %d at a time", len(out), MaxListEntries)
	}
	return out, nil
}

// SaveDeviceList keeps a pasted list for a user and returns it with the
// entries that name no device. Lists older than a week are dropped then.
func (s *Store) SaveDeviceList(ctx context.Context, userID int64, entries []string, now time.Time) (DeviceList, error) {
	if len(entries) == 0 || len(entries) > MaxListEntries {
		return DeviceList{}, invalidf("a list holds 1 to %d devices", MaxListEntries)
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return DeviceList{}, fmt.Errorf("save device list: %w", err)
	}
	l := DeviceList{Entries: entries}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_lists WHERE created_at < ?`, now.Add(-7*24*time.Hour).Unix()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO device_lists (user_id, created_at, entries) VALUES (?, ?, ?)`, userID, now.Unix(), string(b))
		if err != nil {
			return err
		}
		l.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return DeviceList{}, fmt.Errorf("save device list: %w", err)
	}
	l.NotFound, err = s.listNotFound(ctx, l.ID)
	return l, err
}

// DeviceListByID reads a saved list and the entries that name no device.
func (s *Store) DeviceListByID(ctx context.Context, id int64) (DeviceList, error) {
	var raw string
	err := s.r.QueryRowContext(ctx, `SELECT entries FROM device_lists WHERE id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return DeviceList{}, notFoundf("the pasted list has expired (lists are kept a week); paste it again")
	}
	if err != nil {
		return DeviceList{}, fmt.Errorf("device list: %w", err)
	}
	l := DeviceList{ID: id}
	if err := json.Unmarshal([]byte(raw), &l.Entries); err != nil {
		return DeviceList{}, fmt.Errorf("device list: %w", err)
	}
	l.NotFound, err = s.listNotFound(ctx, id)
	return l, err
}

// listNotFound returns the entries of a list that name no device.
func (s *Store) listNotFound(ctx context.Context, id int64) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT j.value FROM device_lists l, json_each(l.entries) j WHERE l.id = ?
		AND NOT EXISTS (SELECT 1 FROM devices WHERE device_id = lower(j.value))
		AND NOT EXISTS (SELECT 1 FROM devices INDEXED BY devices_serial WHERE serial_number <> '' AND serial_number = j.value COLLATE NOCASE)
		AND NOT EXISTS (SELECT 1 FROM devices INDEXED BY devices_name WHERE display_name = j.value COLLATE NOCASE)
		ORDER BY j.key`, id)
	if err != nil {
		return nil, fmt.Errorf("device list: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("device list: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ruleFilterIDs evaluates a filter rule over the directory (the lean copy
// the dynamic groups use) and returns the ids of the devices it matches as
// a JSON array; kept until the next commit, so paging through a filtered
// blade evaluates the rule once.
func (s *Store) ruleFilterIDs(ctx context.Context, v uint64, src string) (string, error) {
	src = strings.TrimSpace(src)
	return memoized(s, v, "rule-filter:"+src, func() (string, error) {
		r, err := parseFilterRule(src)
		if err != nil {
			return "", err
		}
		var ids []int64
		err = s.eachDirectoryDevice(ctx, ruleCols(r.Properties()), func(d *DeviceRow) {
			if r.Match(d) {
				ids = append(ids, d.PK)
			}
		})
		if err != nil {
			return "", fmt.Errorf("filter rule: %w", err)
		}
		return int64sJSON(ids), nil
	})
}
