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

// ReadinessResult is the outcome of one readiness check (SPEC §13).
type ReadinessResult string

// Results, from best to worst.
const (
	ReadinessReady    ReadinessResult = "ready"
	ReadinessAdvisory ReadinessResult = "advisory"
	ReadinessNotReady ReadinessResult = "not-ready"
)

// Label is the result as the UI names it.
func (r ReadinessResult) Label() string {
	switch r {
	case ReadinessReady:
		return "Ready"
	case ReadinessAdvisory:
		return "Advisory"
	}
	return "Not ready"
}

func (r ReadinessResult) rank() int {
	switch r {
	case ReadinessReady:
		return 0
	case ReadinessAdvisory:
		return 1
	}
	return 2
}

// ActionReadinessRun is the audit action of a readiness assessment.
const ActionReadinessRun = "readiness.run"

// readinessKeep is how long assessments are kept.
const readinessKeep = 365 * day

// ReadinessCheck is one check of an assessment.
type ReadinessCheck struct {
	Key         string          `json:"key"`
	Name        string          `json:"name"`
	Result      ReadinessResult `json:"result"`
	Detail      string          `json:"detail"`      // what was found
	Remediation string          `json:"remediation"` // what to do; "" when Ready
}

// Assessment is one run of the readiness assessment.
type Assessment struct {
	ID      int64
	RanAt   time.Time
	Trigger Trigger
	Actor   string
	Overall ReadinessResult // the worst of the checks
	Checks  []ReadinessCheck
}

// Count is how many checks had the result.
func (a Assessment) Count(r ReadinessResult) int {
	n := 0
	for _, c := range a.Checks {
		if c.Result == r {
			n++
		}
	}
	return n
}

// SignInSetup is how people sign in to this server, which only the server
// knows: single sign-on configured, and local passwords limited to
// break-glass Global Administrators.
type SignInSetup struct {
	SSO        bool
	BreakGlass bool
}

// PermissionProbe is the outcome of a real request that needs one Graph
// permission.
type PermissionProbe struct {
	Permission string
	Purpose    string // what Patchboard uses it for
	Err        error  // nil: granted
}

// ConnectorReadiness is what the directory connector can test for the
// assessment: each permission with a real request, and whether the ring
// groups and policies exist (names of the missing ones). graph.Connector
// implements it.
type ConnectorReadiness interface {
	ProbePermissions(ctx context.Context, writeBack bool) []PermissionProbe
	MissingRingObjects(ctx context.Context, policyNames []string) ([]string, error)
	// ForeignRingPolicies names the update ring policies, other than
	// those of policyNames, assigned to a ring group.
	ForeignRingPolicies(ctx context.Context, policyNames []string) ([]string, error)
}

// RunReadiness runs every readiness check now, keeps the result (deleting
// those older than 12 months) and audits it.
func (s *Store) RunReadiness(ctx context.Context, setup SignInSetup, trigger Trigger, actor string, now time.Time) (Assessment, error) {
	a := Assessment{RanAt: now.UTC().Truncate(time.Second), Trigger: trigger, Actor: actor}
	checks, err := s.readinessChecks(ctx, setup, a.RanAt)
	if err != nil {
		return Assessment{}, fmt.Errorf("readiness assessment: %w", err)
	}
	if cr, ok := s.dir.src.(ConnectorReadiness); ok {
		checks = append(checks, s.connectorChecks(ctx, cr)...)
	}
	a.Checks, a.Overall = checks, ReadinessReady
	for _, c := range checks {
		if c.Result.rank() > a.Overall.rank() {
			a.Overall = c.Result
		}
	}
	body, err := json.Marshal(a.Checks)
	if err != nil {
		return Assessment{}, fmt.Errorf("readiness assessment: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM readiness_runs WHERE ran_at < ?`, a.RanAt.Add(-readinessKeep).Unix()); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO readiness_runs (ran_at, trigger, actor, overall, checks) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			a.RanAt.Unix(), a.Trigger, a.Actor, a.Overall, string(body)).Scan(&a.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: a.RanAt, Actor: actor, Action: ActionReadinessRun, Target: string(trigger),
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("assessment %d: %s (%d ready, %d advisory, %d not ready)",
				a.ID, a.Overall.Label(), a.Count(ReadinessReady), a.Count(ReadinessAdvisory), a.Count(ReadinessNotReady))}, nil)
	})
	if err != nil {
		return Assessment{}, fmt.Errorf("readiness assessment: %w", err)
	}
	return a, nil
}

// RunReadinessIfDue runs the assessment when none ran in the last 24
// hours (the daily run); it reports whether it ran.
func (s *Store) RunReadinessIfDue(ctx context.Context, setup SignInSetup, now time.Time) (bool, error) {
	var last sql.NullInt64
	if err := s.queryRow(ctx, `SELECT max(ran_at) FROM readiness_runs`).Scan(&last); err != nil {
		return false, fmt.Errorf("last readiness assessment: %w", err)
	}
	if last.Valid && now.Sub(time.Unix(last.Int64, 0)) < day {
		return false, nil
	}
	_, err := s.RunReadiness(ctx, setup, TriggerSchedule, "scheduler", now)
	return err == nil, err
}

// readinessChecks are the checks of the database: one read transaction.
func (s *Store) readinessChecks(ctx context.Context, setup SignInSetup, now time.Time) ([]ReadinessCheck, error) {
	var out []ReadinessCheck
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = nil
		var kind string
		var members bool
		err := tx.QueryRowContext(ctx, `SELECT kind, EXISTS (SELECT 1 FROM group_members WHERE group_id = g.id) FROM groups g WHERE builtin = 1`).Scan(&kind, &members)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		reg := ReadinessCheck{Key: "registration-group", Name: "The Device Registration group exists and has members"}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			reg.Result, reg.Detail = ReadinessNotReady, "The "+RegistrationGroupName+" group is missing."
			reg.Remediation = "Restore the " + RegistrationGroupName + " group (in Entra mode: PATCHBOARD_GRAPH_REGISTRATION_GROUP names it)."
		case !members:
			reg.Result, reg.Detail = ReadinessNotReady, "The "+RegistrationGroupName+" group has no members."
			reg.Remediation = "Add the devices, or groups of devices, to register to the " + RegistrationGroupName + " group."
		default:
			reg.Result, reg.Detail = ReadinessReady, "The group exists and has members."
		}
		out = append(out, reg)
		if err == nil {
			assigned := ReadinessCheck{Key: "registration-group-assigned", Name: "The Device Registration group is an assigned group",
				Result: ReadinessReady, Detail: "Its members are assigned."}
			if kind != "assigned" {
				assigned.Result, assigned.Detail = ReadinessNotReady, "It is a dynamic group."
				assigned.Remediation = "Make the " + RegistrationGroupName + " group an assigned group and nest dynamic groups in it instead."
			}
			out = append(out, assigned)
		}

		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = ? AND disabled_at IS NULL`, RoleServiceAdmin).Scan(&admins); err != nil {
			return err
		}
		adm := ReadinessCheck{Key: "service-admin", Name: "At least one Service Administrator", Result: ReadinessReady,
			Detail: fmt.Sprintf("%d enabled Service Administrators.", admins)}
		if admins == 0 {
			adm.Result, adm.Detail = ReadinessNotReady, "No enabled account has the Service Administrator role."
			adm.Remediation = "Give someone the Service Administrator role under Settings › Users (or through the single sign-on role map)."
		}
		out = append(out, adm)

		var missing []string
		for _, area := range Areas {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admin_contacts WHERE area = ?`, area).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				missing = append(missing, area.Label())
			}
		}
		con := ReadinessCheck{Key: "contacts", Name: "An admin contact for every area", Result: ReadinessReady, Detail: "Every area has a contact."}
		if len(missing) > 0 {
			con.Result, con.Detail = ReadinessNotReady, "No contact for "+strings.Join(missing, " and ")+"."
			con.Remediation = "Add an admin contact for " + strings.Join(missing, " and ") + " under Tenant administration › Admin contacts."
		}
		out = append(out, con)

		var passwords int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE password_hash <> '' AND disabled_at IS NULL AND role = ?`, RoleGlobalAdmin).Scan(&passwords); err != nil {
			return err
		}
		sign := ReadinessCheck{Key: "sign-in", Name: "Sign-in is configured (single sign-on or break-glass)"}
		switch {
		case setup.SSO && setup.BreakGlass && passwords > 0:
			sign.Result, sign.Detail = ReadinessReady, fmt.Sprintf("Single sign-on, with %d break-glass Global Administrator accounts.", passwords)
		case setup.SSO:
			sign.Result, sign.Detail = ReadinessAdvisory, "Single sign-on is configured; local passwords are not limited to break-glass accounts, or there is none."
			sign.Remediation = "Set PATCHBOARD_LOCAL_SIGNIN=break-glass and keep one or two Global Administrator accounts with a local password for when the identity provider is down."
		default:
			sign.Result, sign.Detail = ReadinessAdvisory, "Only local passwords: single sign-on is not configured."
			sign.Remediation = "Configure single sign-on (PATCHBOARD_OIDC_*) so that accounts follow the identity provider, and keep break-glass accounts."
		}
		out = append(out, sign)

		var backup sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT last_at FROM backup_log WHERE id = 1`).Scan(&backup)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		bk := ReadinessCheck{Key: "backup", Name: "The database was backed up in the last 24 hours"}
		switch last := fromUnix(backup); {
		case last.IsZero():
			bk.Result, bk.Detail = ReadinessAdvisory, "No backup has been written yet."
			bk.Remediation = "Schedule backups (serve --backup-dir) or run patchboard backup regularly."
		case now.Sub(last) > day:
			bk.Result, bk.Detail = ReadinessNotReady, "The last backup was written on "+last.Format("2006-01-02 15:04 MST")+"."
			bk.Remediation = "Check the scheduled backups (the server's log says why one failed) or run patchboard backup."
		default:
			bk.Result, bk.Detail = ReadinessReady, "The last backup was written on "+last.Format("2006-01-02 15:04 MST")+"."
		}
		out = append(out, bk)
		return nil
	})
	return out, err
}

// connectorChecks test the Graph connector: every permission with a real
// request, and the ring groups and policies.
func (s *Store) connectorChecks(ctx context.Context, cr ConnectorReadiness) []ReadinessCheck {
	var out []ReadinessCheck
	writeBack := s.dir.rings != nil
	for _, p := range cr.ProbePermissions(ctx, writeBack) {
		c := ReadinessCheck{Key: "graph-permission:" + p.Permission, Name: "Microsoft Graph permission " + p.Permission,
			Result: ReadinessReady, Detail: "Granted: a request that needs it succeeded (" + p.Purpose + ")."}
		if p.Err != nil {
			c.Result, c.Detail = ReadinessNotReady, "A request that needs it failed: "+p.Err.Error()
			var pn PermissionNamer
			if errors.As(p.Err, &pn) {
				c.Detail = "Not granted: Microsoft Graph refused the request (" + p.Purpose + ")."
			}
			c.Remediation = "Add the application permission " + p.Permission + " (Microsoft Graph) to Patchboard's app registration and grant admin consent."
		}
		out = append(out, c)
	}
	if !writeBack {
		return out
	}
	rings := ReadinessCheck{Key: "ring-objects", Name: "The ring groups and update ring policies exist"}
	var policies []string
	if s.dir.policies != nil {
		for _, r := range Rings {
			policies = append(policies, ringPolicyName(r))
		}
	}
	missing, err := cr.MissingRingObjects(ctx, policies)
	switch {
	case err != nil:
		rings.Result, rings.Detail = ReadinessNotReady, "They could not be read: "+err.Error()
		rings.Remediation = "Grant the permissions above; the check runs again with the next assessment."
	case len(missing) > 0:
		rings.Result, rings.Detail = ReadinessNotReady, "Missing: "+strings.Join(missing, ", ")+"."
		rings.Remediation = "Run Discover devices: the write-back after it creates the ring groups and policies."
	default:
		rings.Result, rings.Detail = ReadinessReady, "Every ring has its group and policy."
	}
	out = append(out, rings)
	if policies == nil {
		return out // Patchboard writes no policies: others may well target the groups
	}
	only := ReadinessCheck{Key: "ring-policies-exclusive", Name: "No other update ring policy targets the ring groups"}
	foreign, err := cr.ForeignRingPolicies(ctx, policies)
	switch {
	case err != nil:
		only.Result, only.Detail = ReadinessNotReady, "The policies' assignments could not be read: "+err.Error()
		only.Remediation = "Grant the permissions above; the check runs again with the next assessment."
	case len(foreign) > 0:
		only.Result, only.Detail = ReadinessNotReady, "Found: "+strings.Join(foreign, "; ")+"."
		only.Remediation = "In the Intune admin center, remove the ring groups from those policies' assignments (or exclude them): a device in two update ring policies gets neither's settings."
	default:
		only.Result, only.Detail = ReadinessReady, "Only Patchboard's update ring policies target the ring groups."
	}
	return append(out, only)
}

// Assessments lists the assessments of the last 12 months, newest first,
// without their checks.
func (s *Store) Assessments(ctx context.Context) ([]Assessment, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, ran_at, trigger, actor, overall, checks FROM readiness_runs ORDER BY ran_at DESC, id DESC LIMIT 400`)
	if err != nil {
		return nil, fmt.Errorf("readiness assessments: %w", err)
	}
	defer rows.Close()
	var out []Assessment
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, fmt.Errorf("readiness assessments: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Assessment returns one assessment; ErrNotFound when there is none.
func (s *Store) Assessment(ctx context.Context, id int64) (Assessment, error) {
	a, err := scanAssessment(s.queryRow(ctx, `SELECT id, ran_at, trigger, actor, overall, checks FROM readiness_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Assessment{}, notFoundf("no readiness assessment %d", id)
	}
	if err != nil {
		return Assessment{}, fmt.Errorf("readiness assessment: %w", err)
	}
	return a, nil
}

func scanAssessment(rs rowScanner) (Assessment, error) {
	var a Assessment
	var ran int64
	var checks string
	if err := rs.Scan(&a.ID, &ran, &a.Trigger, &a.Actor, &a.Overall, &checks); err != nil {
		return a, err
	}
	a.RanAt = time.Unix(ran, 0).UTC()
	return a, json.Unmarshal([]byte(checks), &a.Checks)
}
