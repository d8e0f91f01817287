package store

import (
	"context"
	"fmt"
	"time"
)

// Intune update policies (issue 12, item 6): with the Entra directory and
// write-back on, each ring's schedule and pauses are carried to devices by
// one "Update rings for Windows 10 and later" policy per ring
// (windowsUpdateForBusinessConfiguration) assigned to the ring's group,
// expedited releases by a quality update profile, and the feature target
// by a feature update profile. The Graph connector (store/graph) is to
// implement UpdatePolicyWriter; the store says what the policies must be
// (UpdatePolicies), so the connector only writes the difference.

// UpdatePolicyWriter writes Patchboard's update policies to Intune.
type UpdatePolicyWriter interface {
	// WriteRingPolicies makes each ring's update ring policy carry want
	// (create, update, assign to the ring group); idempotent.
	WriteRingPolicies(ctx context.Context, want []RingPolicy) error
	// ExpediteQualityUpdate creates the expedited quality update profile
	// for the release's revisions, assigned to every ring group.
	ExpediteQualityUpdate(ctx context.Context, rel Release) error
	// WriteFeatureTarget makes the feature update profile offer ft.
	WriteFeatureTarget(ctx context.Context, ft FeatureTarget) error
	// RingPolicyDrift reads the ring policies back and lists every setting
	// changed in Intune since Patchboard wrote want.
	RingPolicyDrift(ctx context.Context, want []RingPolicy) ([]PolicyDrift, error)
}

// RingPolicy is what one ring's update ring policy must say.
type RingPolicy struct {
	Ring Ring
	// DisplayName is the policy's name in Intune.
	DisplayName string
	// The windowsUpdateForBusinessConfiguration settings, in days.
	QualityDeferral, QualityDeadline, QualityGrace, FeatureDeferral int
	// QualityPausedUntil and FeaturePausedUntil are the pauses' ends
	// (zero: not paused); Intune's pause lasts 35 days, as Patchboard's.
	QualityPausedUntil, FeaturePausedUntil time.Time
}

// PolicyDrift is one setting of a ring policy that differs in Intune from
// what Patchboard wrote.
type PolicyDrift struct {
	Ring        Ring
	Setting     string
	Want, Found string
	DetectedAt  time.Time
}

// ringPolicyName is the Intune display name of a ring's policy.
func ringPolicyName(r Ring) string { return "Patchboard Ring - " + r.Label() }

// ringPolicies is the desired state of the ring policies at now.
func ringPolicies(scs []Schedule, pauses []Pause, now time.Time) []RingPolicy {
	out := make([]RingPolicy, 0, len(scs))
	for _, sc := range scs {
		p := RingPolicy{Ring: sc.Ring, DisplayName: ringPolicyName(sc.Ring), QualityDeferral: sc.QualityDeferral,
			QualityDeadline: sc.QualityDeadline, QualityGrace: sc.QualityGrace, FeatureDeferral: sc.FeatureDeferral}
		for _, pp := range pauses {
			if pp.Ring != sc.Ring || !pp.ActiveAt(now) {
				continue
			}
			if pp.Kind == KindFeature {
				p.FeaturePausedUntil = pp.End()
			} else {
				p.QualityPausedUntil = pp.End()
			}
		}
		out = append(out, p)
	}
	return out
}

// UpdatePolicies says what each ring's update ring policy must carry now:
// its schedule and its pauses.
func (s *Store) UpdatePolicies(ctx context.Context, now time.Time) ([]RingPolicy, error) {
	scs, err := loadSchedules(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("update policies: %w", err)
	}
	ps, err := loadPauses(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("update policies: %w", err)
	}
	return ringPolicies(scs, ps, now), nil
}
