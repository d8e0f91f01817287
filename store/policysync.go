package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// ActionUpdatePolicyDrift is the audit action of a ring policy setting
// found changed in Intune.
const ActionUpdatePolicyDrift = "update-policy.drift"

// SetUpdatePolicyWriter makes every ring write-back also write the update
// ring policies through w, after comparing them with what was last written
// (drift). Call it with SetDirectory; nil leaves the policies alone.
func (s *Store) SetUpdatePolicyWriter(w UpdatePolicyWriter) { s.dir.policies = w }

// syncUpdatePolicies reads the ring policies back, records every setting
// changed in Intune since Patchboard last wrote them (a change in
// Patchboard since then is not drift), then writes what they must be now,
// and the update profiles not written yet (writeUpdateProfiles). Expedite
// and the feature target thus reach Intune at the next write-back, which
// follows every discovery.
func (s *Store) syncUpdatePolicies(ctx context.Context, now time.Time) ([]PolicyDrift, error) {
	written, err := s.writtenPolicies(ctx)
	if err != nil {
		return nil, err
	}
	for i := range written {
		// Intune ends a pause by itself after 35 days, as Patchboard does:
		// an ended pause is not paused on either side.
		if !written[i].QualityPausedUntil.After(now) {
			written[i].QualityPausedUntil = time.Time{}
		}
		if !written[i].FeaturePausedUntil.After(now) {
			written[i].FeaturePausedUntil = time.Time{}
		}
	}
	var drift []PolicyDrift
	if len(written) > 0 {
		if drift, err = s.dir.policies.RingPolicyDrift(ctx, written); err != nil {
			return nil, err
		}
	}
	want, err := s.UpdatePolicies(ctx, now)
	if err != nil {
		return drift, err
	}
	writeErr := s.dir.policies.WriteRingPolicies(ctx, want)
	err = s.write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if err := keepOpenDrift(ctx, tx, drift, now); err != nil {
			return err
		}
		for _, d := range drift {
			if _, err := tx.ExecContext(ctx, `INSERT INTO update_policy_drift (ring, setting, want, found, detected_at) VALUES (?, ?, ?, ?, ?)`,
				d.Ring, d.Setting, d.Want, d.Found, now.Unix()); err != nil {
				return err
			}
			if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: syncActor, Action: ActionUpdatePolicyDrift, Target: d.Ring.Label(),
				Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%s was changed in Intune from %s to %s; Patchboard wrote %s back", d.Setting, d.Want, d.Found, d.Want)}, nil); err != nil {
				return err
			}
		}
		if writeErr != nil {
			return nil
		}
		for _, p := range want {
			b, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO update_policy_written (ring, policy, written_at) VALUES (?, ?, ?)
				ON CONFLICT (ring) DO UPDATE SET policy = excluded.policy, written_at = excluded.written_at`, p.Ring, string(b), now.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	if writeErr != nil {
		return drift, fmt.Errorf("update ring policies: %w", writeErr)
	}
	if err != nil {
		return drift, err
	}
	return drift, s.writeUpdateProfiles(ctx, now)
}

// writtenPolicies is what Patchboard last wrote to the ring policies.
func (s *Store) writtenPolicies(ctx context.Context) ([]RingPolicy, error) {
	var out []RingPolicy
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT policy FROM update_policy_written ORDER BY ring`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b string
			var p RingPolicy
			if err := rows.Scan(&b); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(b), &p); err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("written update policies: %w", err)
	}
	return out, nil
}

// policyDriftDays is how long the release page shows a drift.
const policyDriftDays = 30

// PolicyDrifts lists the ring policy settings found changed in Intune since
// since, newest first (at most 200).
func (s *Store) PolicyDrifts(ctx context.Context, since time.Time) ([]PolicyDrift, error) {
	out, err := loadPolicyDrifts(ctx, s.r, since)
	if err != nil {
		return nil, fmt.Errorf("update policy drift: %w", err)
	}
	return out, nil
}

func loadPolicyDrifts(ctx context.Context, q queryer, since time.Time) ([]PolicyDrift, error) {
	rows, err := q.QueryContext(ctx, `SELECT ring, setting, want, found, detected_at FROM update_policy_drift
		WHERE detected_at >= ? ORDER BY detected_at DESC, id DESC LIMIT 200`, since.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PolicyDrift
	for rows.Next() {
		var d PolicyDrift
		var at int64
		if err := rows.Scan(&d.Ring, &d.Setting, &d.Want, &d.Found, &at); err != nil {
			return nil, err
		}
		d.DetectedAt = time.Unix(at, 0).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// writeUpdateProfiles writes, once each, the expedited quality update
// profile of every expedited release and the feature update profile of the
// newest feature target. One that fails is tried again at the next sync.
func (s *Store) writeUpdateProfiles(ctx context.Context, now time.Time) error {
	rels, err := loadReleases(ctx, s.r)
	if err != nil {
		return fmt.Errorf("update profiles: %w", err)
	}
	fts, err := loadFeatureTargets(ctx, s.r)
	if err != nil {
		return fmt.Errorf("update profiles: %w", err)
	}
	done := map[string]bool{}
	err = s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT key FROM update_profiles_written`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			done[k] = true
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("update profiles: %w", err)
	}
	var todo []func() error
	var keys []string
	for _, r := range rels {
		if k := fmt.Sprintf("expedite:%d", r.ID); !r.ExpeditedAt.IsZero() && !done[k] {
			todo = append(todo, func() error { return s.dir.policies.ExpediteQualityUpdate(ctx, r) })
			keys = append(keys, k)
		}
	}
	if len(fts) > 0 {
		ft := fts[len(fts)-1]
		if k := fmt.Sprintf("feature:%d", ft.ID); !done[k] {
			todo = append(todo, func() error { return s.dir.policies.WriteFeatureTarget(ctx, ft) })
			keys = append(keys, k)
		}
	}
	for i, write := range todo {
		if err := write(); err != nil {
			return err
		}
		if err := s.write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO update_profiles_written (key, written_at) VALUES (?, ?)`, keys[i], now.Unix())
			return err
		}); err != nil {
			return fmt.Errorf("update profiles: %w", err)
		}
	}
	return nil
}
