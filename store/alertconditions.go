package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// More alert types (SPEC §13): the directory, the schedule, the Graph
// connector, the ring settings and the releases.
const (
	AlertNestedTooDeep      AlertType = "groups-nested-too-deep"    //
	AlertDiscoveryOverdue   AlertType = "discovery-overdue"         //
	AlertGraphFailing       AlertType = "graph-failing"             // subject: the sync kind
	AlertCredentialExpiring AlertType = "graph-credential-expiring" //
	AlertRingSettingsDrift  AlertType = "ring-settings-drift"       // subject: the ring
	AlertSLOAtRisk          AlertType = "release-slo-at-risk"       // subject: the release
)

// Audit actions of the alert settings and the Restore action.
const (
	ActionAlertSettings = "alert.settings"
	ActionAlertRestore  = "alert.restore"
)

const (
	// CredentialWarningDays is how long before the connector's secret or
	// certificate expires that an alert says so.
	CredentialWarningDays = 30
	// sloRiskDay is the day after a release from which fewer than
	// sloRiskPercent of its eligible devices on it puts its SLO at risk; the
	// risk is measured until the SLO itself is, at the 21-day line.
	sloRiskDay     = 14
	sloRiskPercent = 80
	// maxNamedObjects bounds the names an alert lists.
	maxNamedObjects = 20
)

// PermissionNamer is an error of a directory connector that names the
// permission it lacks (graph.PermissionError is one).
type PermissionNamer interface {
	error
	MissingPermission() string
}

// CredentialExpirer is an error of a directory connector that says whether
// its credential (client secret or certificate) has expired.
type CredentialExpirer interface {
	error
	CredentialExpired() bool
}

// connectorFault is the last failure of one kind of sync run.
type connectorFault struct {
	kind       SyncKind
	permission string
	expired    bool
	message    string
	since      time.Time
}

// credential is when the connector's secret or certificate expires.
type credential struct {
	kind      string // "client secret" or "certificate"
	expiresAt time.Time
}

// releaseRisk is a release between days 14 and 21 with its live SLO figure.
type releaseRisk struct {
	name         string
	date         time.Time
	on, eligible int
}

// ringDrift is a ring's settings found changed outside Patchboard at the
// latest write-back.
type ringDrift struct {
	ring    Ring
	changes string // "setting: want → found; …"
}

// operationsFacts are the facts of the alerts in this file.
type operationsFacts struct {
	now                time.Time
	jumpPercent        int
	discoveryInterval  time.Duration // 0: unknown
	lastStarted        time.Time     // the latest discovery run's start, running or not
	deepGroups         []string
	faults             []connectorFault
	credential         credential
	releasesAtRisk     []releaseRisk
	drift              []ringDrift
	writeBackSucceeded bool // the latest write-back completed (drift written back)
}

// loadOperationsFacts reads the facts of these alerts: small tables and
// index lookups only.
func loadOperationsFacts(ctx context.Context, tx *sql.Tx, f *operationsFacts) error {
	f.jumpPercent = DefaultJumpPercent
	var interval int64
	err := tx.QueryRowContext(ctx, `SELECT jump_percent, discovery_interval FROM alert_settings WHERE id = 1`).Scan(&f.jumpPercent, &interval)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("alert settings: %w", err)
	}
	f.discoveryInterval = time.Duration(interval) * time.Second
	var started sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(started_at) FROM discovery_runs`).Scan(&started); err != nil {
		return fmt.Errorf("last discovery start: %w", err)
	}
	f.lastStarted = fromUnix(started)

	// Groups two levels or more under the registration group: members of
	// the groups nested in it that are groups themselves.
	if f.deepGroups, err = queryStrings(ctx, tx, `SELECT DISTINCT g.name FROM groups r
		JOIN group_members m1 ON m1.group_id = r.id AND m1.member_group_id IS NOT NULL
		JOIN group_members m2 ON m2.group_id = m1.member_group_id AND m2.member_group_id IS NOT NULL
		JOIN groups g ON g.id = m2.member_group_id
		WHERE r.builtin = 1 ORDER BY g.name COLLATE NOCASE LIMIT ?`, maxNamedObjects+1); err != nil {
		return fmt.Errorf("deeply nested groups: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT kind, permission, credential_expired, message, since FROM connector_faults ORDER BY kind`)
	if err != nil {
		return fmt.Errorf("connector faults: %w", err)
	}
	for rows.Next() {
		var cf connectorFault
		var since int64
		if err := rows.Scan(&cf.kind, &cf.permission, &cf.expired, &cf.message, &since); err != nil {
			rows.Close()
			return fmt.Errorf("connector faults: %w", err)
		}
		cf.since = time.Unix(since, 0).UTC()
		f.faults = append(f.faults, cf)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("connector faults: %w", err)
	}

	var expires int64
	err = tx.QueryRowContext(ctx, `SELECT kind, expires_at FROM connector_credential WHERE id = 1`).Scan(&f.credential.kind, &expires)
	switch {
	case err == nil:
		f.credential.expiresAt = time.Unix(expires, 0).UTC()
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("connector credential: %w", err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT name, release_date, slo_on, slo_eligible FROM releases
		WHERE slo_measured_at IS NULL AND release_date <= ? AND release_date > ?
			AND slo_eligible > 0 AND slo_on * 100 < slo_eligible * ? ORDER BY release_date, id`,
		f.now.Add(-sloRiskDay*day).Unix(), f.now.Add(-overdueAfter).Unix(), sloRiskPercent)
	if err != nil {
		return fmt.Errorf("releases at risk: %w", err)
	}
	for rows.Next() {
		var r releaseRisk
		var date int64
		if err := rows.Scan(&r.name, &date, &r.on, &r.eligible); err != nil {
			rows.Close()
			return fmt.Errorf("releases at risk: %w", err)
		}
		r.date = time.Unix(date, 0).UTC()
		f.releasesAtRisk = append(f.releasesAtRisk, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("releases at risk: %w", err)
	}
	return loadDrift(ctx, tx, f)
}

// loadDrift reads the ring settings the latest comparison with Intune
// found changed outside Patchboard (keepOpenDrift), and whether the latest
// write-back, which writes them back, succeeded.
func loadDrift(ctx context.Context, tx *sql.Tx, f *operationsFacts) error {
	var state RunState
	err := tx.QueryRowContext(ctx, `SELECT state FROM sync_runs WHERE kind = ? AND state <> 'running' ORDER BY id DESC LIMIT 1`,
		SyncWriteBack).Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("last write-back: %w", err)
	}
	f.writeBackSucceeded = state == RunCompleted
	rows, err := tx.QueryContext(ctx, `SELECT ring, changes FROM ring_drift_open ORDER BY ring`)
	if err != nil {
		return fmt.Errorf("ring settings drift: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d ringDrift
		if err := rows.Scan(&d.ring, &d.changes); err != nil {
			return fmt.Errorf("ring settings drift: %w", err)
		}
		f.drift = append(f.drift, d)
	}
	return rows.Err()
}

// keepOpenDrift replaces the drift the alerts look at with what one
// comparison with Intune found: nothing clears it.
func keepOpenDrift(ctx context.Context, tx *sql.Tx, drift []PolicyDrift, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM ring_drift_open`); err != nil {
		return err
	}
	byRing := map[Ring][]string{}
	var rings []Ring
	for _, d := range drift {
		if byRing[d.Ring] == nil {
			rings = append(rings, d.Ring)
		}
		byRing[d.Ring] = append(byRing[d.Ring], fmt.Sprintf("%s: %s → %s", d.Setting, d.Want, d.Found))
	}
	for _, r := range rings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ring_drift_open (ring, changes, detected_at) VALUES (?, ?, ?)`,
			r, strings.Join(byRing[r], "; "), now.Unix()); err != nil {
			return err
		}
	}
	return nil
}

func queryStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// namedObjects joins names for an alert, at most maxNamedObjects of them
// (the query asks for one more to tell that there are more).
func namedObjects(names []string) string {
	if len(names) > maxNamedObjects {
		return strings.Join(names[:maxNamedObjects], "; ") + "; and more"
	}
	return strings.Join(names, "; ")
}

// operationsAlerts decides the alerts of this file's conditions.
func operationsAlerts(f operationsFacts) []Alert {
	var out []Alert
	if len(f.deepGroups) > 0 {
		out = append(out, Alert{Type: AlertNestedTooDeep, Severity: SeverityWarning,
			Title:        "Groups nested too deep under the Device Registration group",
			WhatHappened: fmt.Sprintf("Groups are nested two or more levels under the %s group; discovery follows one level only, so their devices are not registered.", RegistrationGroupName),
			Action:       fmt.Sprintf("Add these groups (or their devices) directly to the %s group, or to a group nested in it.", RegistrationGroupName),
			WhoActs:      ActsCustomer, Objects: namedObjects(f.deepGroups)})
	}
	if f.discoveryInterval > 0 && !f.lastStarted.IsZero() && f.now.Sub(f.lastStarted) > 2*f.discoveryInterval {
		out = append(out, Alert{Type: AlertDiscoveryOverdue, Severity: SeverityCritical,
			Title: "Discovery did not run",
			WhatHappened: fmt.Sprintf("The last discovery started %s ago; it runs every %s, so two scheduled runs were missed. New devices are not registered and readiness is not updated.",
				roughDuration(f.now.Sub(f.lastStarted)), roughDuration(f.discoveryInterval)),
			Action:  "Check that the Patchboard server is running and its log for errors; run Discover devices. The alert resolves when a discovery starts.",
			WhoActs: ActsService, Objects: "Discovery schedule"})
	}
	for _, cf := range f.faults {
		a := Alert{Type: AlertGraphFailing, Subject: string(cf.kind), Severity: SeverityCritical, WhoActs: ActsCustomer,
			Objects: "Microsoft Graph connector (" + syncKindLabel(cf.kind) + ")"}
		switch {
		case cf.permission != "":
			a.Title = "Microsoft Graph permission missing: " + cf.permission
			a.WhatHappened = fmt.Sprintf("The %s has failed since %s because Microsoft Graph refused a request that needs the application permission %s.",
				syncKindLabel(cf.kind), cf.since.Format("2006-01-02 15:04 MST"), cf.permission)
			a.Action = fmt.Sprintf("In Microsoft Entra ID, add the application permission %s (Microsoft Graph) to Patchboard's app registration and grant admin consent.", cf.permission)
		case cf.expired:
			a.Title = "Microsoft Graph credential expired"
			a.WhatHappened = fmt.Sprintf("The %s has failed since %s because the app registration's client secret or certificate expired. %s",
				syncKindLabel(cf.kind), cf.since.Format("2006-01-02 15:04 MST"), cf.message)
			a.Action = "Create a new client secret or certificate for Patchboard's app registration, set PATCHBOARD_GRAPH_CLIENT_SECRET (or the certificate file) and restart the server."
		default:
			a.Title = "Microsoft Graph connector failing"
			a.WhatHappened = fmt.Sprintf("The %s has failed since %s: %s", syncKindLabel(cf.kind), cf.since.Format("2006-01-02 15:04 MST"), cf.message)
			a.Action = "Read the error above; if it does not name what to fix, check the server's log. The alert resolves when a run succeeds."
			a.WhoActs = ActsService
		}
		out = append(out, a)
	}
	if c := f.credential; !c.expiresAt.IsZero() && c.expiresAt.Sub(f.now) <= CredentialWarningDays*day {
		a := Alert{Type: AlertCredentialExpiring, Severity: SeverityWarning, WhoActs: ActsCustomer,
			Title:        "Microsoft Graph " + c.kind + " expires soon",
			WhatHappened: fmt.Sprintf("The %s of Patchboard's app registration expires on %s (in %s); then the directory sync and the ring write-back stop.", c.kind, c.expiresAt.Format("2006-01-02"), roughDuration(c.expiresAt.Sub(f.now))),
			Action:       fmt.Sprintf("Create a new %s for the app registration in Microsoft Entra ID, give it to Patchboard and restart the server before it expires.", c.kind),
			Objects:      "App registration " + c.kind}
		if !c.expiresAt.After(f.now) {
			a.Severity, a.Title = SeverityCritical, "Microsoft Graph "+c.kind+" expired"
			a.WhatHappened = fmt.Sprintf("The %s of Patchboard's app registration expired on %s; the directory sync and the ring write-back fail.", c.kind, c.expiresAt.Format("2006-01-02"))
		}
		out = append(out, a)
	}
	for _, d := range f.drift {
		what := fmt.Sprintf("The %s ring's update policy was changed outside Patchboard (%s). ", d.ring.Label(), d.changes)
		if f.writeBackSucceeded {
			what += "Patchboard wrote its settings back at the latest write-back."
		} else {
			what += "Patchboard could not write its settings back: the latest write-back failed."
		}
		out = append(out, Alert{Type: AlertRingSettingsDrift, Subject: string(d.ring), Severity: SeverityWarning, WhoActs: ActsCustomer,
			Title:        d.ring.Label() + " ring's settings changed outside Patchboard",
			WhatHappened: what,
			Action:       "Make changes to rings in Patchboard, not in Intune. Restore writes Patchboard's ring groups and policies back now; the alert resolves when a write-back finds no change.",
			Objects:      ringPolicyName(d.ring)})
	}
	for _, r := range f.releasesAtRisk {
		out = append(out, Alert{Type: AlertSLOAtRisk, Subject: r.name, Severity: SeverityWarning, WhoActs: ActsCustomer,
			Title: "Release " + r.name + " SLO at risk",
			WhatHappened: fmt.Sprintf("Day %d after release %s: %d of %d eligible devices (%d%%) are up to date, fewer than %d%%; %d%% are due by day 21.",
				int(f.now.Sub(r.date)/day), r.name, r.on, r.eligible, r.on*100/r.eligible, sloRiskPercent, SLOPercent),
			Action:  "Open the update report for the release and look at the devices not up to date and their update alerts (disk space, policy conflicts, connectivity).",
			Objects: "Release " + r.name})
	}
	return out
}

func syncKindLabel(k SyncKind) string {
	if k == SyncWriteBack {
		return "ring write-back"
	}
	return "directory sync"
}

// roughDuration says a duration in the largest whole unit: "3 days",
// "5 hours", "20 minutes".
func roughDuration(d time.Duration) string {
	unit := func(n int, s string) string {
		if n == 1 {
			return "1 " + s
		}
		return strconv.Itoa(n) + " " + s + "s"
	}
	switch {
	case d >= 2*day:
		return unit(int(d/day), "day")
	case d >= 2*time.Hour:
		return unit(int(d/time.Hour), "hour")
	}
	return unit(max(0, int(d/time.Minute)), "minute")
}

// recordConnectorFault keeps a failed sync run's fault (the first failure's
// time stays), or clears the kind's fault when the run succeeded.
func recordConnectorFault(ctx context.Context, tx *sql.Tx, run SyncRun, runErr error) error {
	if runErr == nil {
		_, err := tx.ExecContext(ctx, `DELETE FROM connector_faults WHERE kind = ?`, run.Kind)
		return err
	}
	var permission string
	var pn PermissionNamer
	if errors.As(runErr, &pn) {
		permission = pn.MissingPermission()
	}
	var ce CredentialExpirer
	expired := errors.As(runErr, &ce) && ce.CredentialExpired()
	_, err := tx.ExecContext(ctx, `INSERT INTO connector_faults (kind, permission, credential_expired, message, since) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind) DO UPDATE SET permission = excluded.permission, credential_expired = excluded.credential_expired, message = excluded.message`,
		run.Kind, permission, expired, run.Error, run.FinishedAt.Unix())
	return err
}

// AlertSettings are the settings of the tenant alerts.
type AlertSettings struct {
	// JumpPercent is the growth of the Not ready or Not registered tab at
	// one discovery, in percent of the registered devices, that raises an
	// alert.
	JumpPercent int
}

// AlertSettings reads the alert settings (the defaults until saved).
func (s *Store) AlertSettings(ctx context.Context) (AlertSettings, error) {
	st := AlertSettings{JumpPercent: DefaultJumpPercent}
	err := s.queryRow(ctx, `SELECT jump_percent FROM alert_settings WHERE id = 1`).Scan(&st.JumpPercent)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("alert settings: %w", err)
	}
	return st, nil
}

// SaveAlertSettings validates and saves the alert settings, audited, and
// evaluates the alerts again. A bad value is a *ValidationError naming the
// field.
func (s *Store) SaveAlertSettings(ctx context.Context, in AlertSettings, actor string, now time.Time) error {
	if in.JumpPercent < 1 || in.JumpPercent > 100 {
		return &ValidationError{Errors: []FieldError{{Field: "jump_percent", Value: strconv.Itoa(in.JumpPercent),
			Reason: "must be a whole number of percent from 1 to 100"}}}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var was int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT jump_percent FROM alert_settings WHERE id = 1), ?)`, DefaultJumpPercent).Scan(&was); err != nil {
			return err
		}
		if was == in.JumpPercent {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_settings (id, jump_percent) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET jump_percent = excluded.jump_percent`, in.JumpPercent); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionAlertSettings, Target: "Jump threshold",
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("from %d%% to %d%% of the registered devices", was, in.JumpPercent)}, nil); err != nil {
			return err
		}
		return evaluateAlerts(ctx, tx, now, false)
	})
	if err != nil {
		return fmt.Errorf("save alert settings: %w", err)
	}
	return nil
}

// SetDiscoveryInterval records the server's discovery schedule, from which
// the "discovery did not run" alert is measured. The server calls it at
// start-up.
func (s *Store) SetDiscoveryInterval(ctx context.Context, d time.Duration) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alert_settings (id, discovery_interval) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET discovery_interval = excluded.discovery_interval`, int64(d/time.Second))
		return err
	})
	if err != nil {
		return fmt.Errorf("set discovery interval: %w", err)
	}
	return nil
}

// SetCredentialExpiry records when the connector's credential expires
// (kind: "client secret" or "certificate"); a zero time forgets it. The
// server calls it at start-up.
func (s *Store) SetCredentialExpiry(ctx context.Context, kind string, expires time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if expires.IsZero() {
			_, err := tx.ExecContext(ctx, `DELETE FROM connector_credential`)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connector_credential (id, kind, expires_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at`, kind, expires.Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("set credential expiry: %w", err)
	}
	return nil
}

// RestoreRingSettings is an alert's Restore action: it writes Patchboard's
// ring groups' members and update ring policies back to the directory now
// (a write-back), audited with the person who asked. The drift alert
// resolves when the write-back finds nothing changed.
func (s *Store) RestoreRingSettings(ctx context.Context, actor string, now time.Time) (SyncRun, error) {
	if s.dir.rings == nil {
		return SyncRun{}, invalidf("Patchboard does not write the ring groups and policies (the ring write-back is off), so it has nothing to restore")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionAlertRestore, Target: "Ring groups and policies",
			Outcome: OutcomeSuccess, Detail: "restore Patchboard's ring groups and update ring policies in the directory"}, nil)
	})
	if err != nil {
		return SyncRun{}, fmt.Errorf("restore ring settings: %w", err)
	}
	return s.WriteBackRings(ctx, TriggerButton, actor)
}
