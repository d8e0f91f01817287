package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ActionReportSignals is the audit action of POST /api/v1/signals.
const ActionReportSignals = "signals.report"

// SignalFields are the fields a device reports through the signals API
// (SPEC §1, §11): the readiness signals and the Windows Update alerts.
var SignalFields = []string{"wu_policy_source", "office_policy_source", "unreachable_endpoints", "internet_connected", "update_alerts"}

// signalColumns maps each signal field to how it is stored.
var signalColumns = map[string]func(d *Device) any{
	"wu_policy_source":      func(d *Device) any { return d.WUPolicySource },
	"office_policy_source":  func(d *Device) any { return d.OfficePolicySource },
	"unreachable_endpoints": func(d *Device) any { return strings.Join(d.UnreachableEndpoints, ";") },
	"internet_connected":    func(d *Device) any { return signalToNull(d.InternetConnected) },
	"update_alerts":         func(d *Device) any { return strings.Join(d.UpdateAlerts, ";") },
}

// maxSignalsFuture is how far in the future a reported_at may lie: clocks
// drift, but a report from tomorrow would hide every report until then.
const maxSignalsFuture = 10 * time.Minute

// SignalReport is one device's report: the fields it sent (a field left out
// keeps its stored value) and when the device took them.
type SignalReport struct {
	DeviceID   string
	Fields     []string // the keys sent, of SignalFields
	Values     Device   // their parsed values
	ReportedAt time.Time
}

// SignalsResult counts what a signals report did.
type SignalsResult struct {
	Reports   int
	Updated   int // devices whose signals changed
	Unchanged int // reports equal to what was stored
	Stale     int // reports older than one applied before, ignored
}

// DecodeSignalsJSON reads a JSON array of signal reports:
// {"device_id": "…", "wu_policy_source": "gpo", …, "reported_at": "…"}.
// Each signal is parsed as the inventory field of the same name (strings,
// null for "not reported", booleans and arrays where the inventory takes
// them); reported_at is an RFC 3339 time, now when left out. Every problem
// is reported at once, as a *ValidationError with JSON pointers; a body that
// is not an array is an ErrMalformedJSON.
func DecodeSignalsJSON(r io.Reader, now time.Time) ([]SignalReport, error) {
	body, err := readJSONBody(r)
	if err != nil {
		return nil, err
	}
	sc := jsonScanner{b: body}
	verr := &ValidationError{}
	seen := map[[16]byte]int{}
	var reports []SignalReport
	err = eachJSONObject(&sc, `the body must be a JSON array of signal reports, such as [{"device_id": "…", "wu_policy_source": "intune"}]`,
		"must be an object with a device_id and the signals to report", verr, func(item string, i int) error {
			rep, ok := decodeSignalReport(&sc, item, now, verr)
			if ok && firstOfDevice(seen, rep.DeviceID, item, i, verr) {
				reports = append(reports, rep)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if !verr.empty() {
		return nil, verr
	}
	return reports, nil
}

func decodeSignalReport(sc *jsonScanner, item string, now time.Time, verr *ValidationError) (SignalReport, bool) {
	rep := SignalReport{ReportedAt: now.UTC().Truncate(time.Second)}
	ok, hasID := true, false
	eachJSONField(sc, func(rawKey, raw []byte) {
		key := jsonUnquote(rawKey)
		bad := func(v, reason string) {
			ok = false
			verr.add(FieldError{Item: item, Field: key, Value: v, Reason: reason})
		}
		switch key {
		case "device_id":
			v, err := jsonFieldText(FieldText, raw)
			if err == nil {
				err = setDeviceID(&rep.Values, v)
			}
			if err != nil {
				bad(string(raw), err.Error())
				return
			}
			rep.DeviceID, hasID = rep.Values.DeviceID, true
		case "reported_at":
			v, err := jsonFieldText(FieldText, raw)
			if err != nil {
				bad(string(raw), err.Error())
				return
			}
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
			switch {
			case err != nil:
				bad(v, fmt.Sprintf("%s is not an RFC 3339 time such as 2026-11-01T09:30:00Z", quote(v)))
			case t.After(now.Add(maxSignalsFuture)):
				bad(v, fmt.Sprintf("%s is in the future; check the device's clock", quote(v)))
			default:
				rep.ReportedAt = t.UTC().Truncate(time.Second)
			}
		default:
			f, known := InventoryFieldByKey(key)
			if !known || signalColumns[f.Key] == nil || f.Key != key {
				bad("", "is not a signal; a report holds device_id, reported_at and any of "+strings.Join(SignalFields, ", "))
				return
			}
			v, err := jsonFieldText(f.Type, raw)
			if err == nil {
				err = f.set(&rep.Values, v)
			} else {
				v = string(raw)
			}
			if err != nil {
				bad(v, err.Error())
				return
			}
			if !slices.Contains(rep.Fields, key) { // a key given twice counts once, the last value
				rep.Fields = append(rep.Fields, key)
			}
		}
	})
	if !hasID && ok {
		ok = false
		verr.add(FieldError{Item: item, Field: "device_id", Reason: "is required"})
	}
	return rep, ok
}

// ReportSignals applies signal reports in one transaction: all-or-nothing,
// a report naming an unknown device rejects the whole batch. A report
// changes only the fields it holds, and only if it is not older than the
// last report applied to the device; a change bumps the device's version,
// so that the next discovery re-checks its readiness. One audit entry
// records the batch.
func (s *Store) ReportSignals(ctx context.Context, reports []SignalReport, actor string, now time.Time) (SignalsResult, error) {
	res := SignalsResult{Reports: len(reports)}
	err := s.write(ctx, func(tx *sql.Tx) error {
		verr := &ValidationError{}
		for i, rep := range reports {
			var pk int64
			var last sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT id, signals_at FROM devices WHERE device_id = ?`, rep.DeviceID).Scan(&pk, &last)
			if errors.Is(err, sql.ErrNoRows) {
				verr.add(FieldError{Item: "/" + strconv.Itoa(i), Field: "device_id", Value: rep.DeviceID,
					Reason: fmt.Sprintf("%s is not a device of the directory; add it first (PUT /api/v1/devices or the directory sync)", quote(rep.DeviceID))})
				continue
			}
			if err != nil {
				return err
			}
			at := rep.ReportedAt.Unix()
			if last.Valid && last.Int64 > at {
				res.Stale++
				continue
			}
			changed, err := applySignals(ctx, tx, pk, rep, at, now)
			if err != nil {
				return err
			}
			if changed {
				res.Updated++
			} else {
				res.Unchanged++
			}
		}
		if !verr.empty() {
			return verr
		}
		if len(reports) == 0 {
			return nil
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionReportSignals, Target: "POST /api/v1/signals",
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%d reports: %d updated, %d unchanged, %d stale",
				res.Reports, res.Updated, res.Unchanged, res.Stale)}, nil)
	})
	if err != nil {
		return SignalsResult{}, fmt.Errorf("report signals: %w", err)
	}
	return res, nil
}

// applySignals writes one report's fields and time, and says whether any
// field changed.
func applySignals(ctx context.Context, tx *sql.Tx, pk int64, rep SignalReport, at int64, now time.Time) (bool, error) {
	var set, differs []string
	var args, diffArgs []any
	for _, f := range rep.Fields {
		v := signalColumns[f](&rep.Values)
		set = append(set, f+" = ?")
		args = append(args, v)
		differs = append(differs, f+" IS NOT ?")
		diffArgs = append(diffArgs, v)
	}
	if len(set) > 0 {
		q := `UPDATE devices SET ` + strings.Join(set, ", ") + `, signals_at = ?, updated_at = ?, version = version + 1
			WHERE id = ? AND (` + strings.Join(differs, " OR ") + `)`
		res, err := tx.ExecContext(ctx, q, append(append(args, at, now.Unix(), pk), diffArgs...)...)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return true, nil
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE devices SET signals_at = ? WHERE id = ?`, at, pk)
	return false, err
}
