package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchboard/store"
)

// Intune update policies (issue 12, item 6). Each ring has one "Update
// rings for Windows 10 and later" policy, a windowsUpdateForBusinessConfiguration
// under /deviceManagement/deviceConfigurations, found by its display name
// (so a crash between creating and recording it is harmless: the next
// write finds it) and assigned to the ring's group. An expedited release is
// a windowsQualityUpdateProfile with expeditedUpdateSettings, the feature
// target a windowsFeatureUpdateProfile; both are /beta resources, as
// Microsoft documents them, and both are assigned to every ring group.
const (
	policyPermission = "DeviceManagementConfiguration.ReadWrite.All"

	ringPolicyType      = "#microsoft.graph.windowsUpdateForBusinessConfiguration"
	qualityProfileType  = "#microsoft.graph.windowsQualityUpdateProfile"
	featureProfileType  = "#microsoft.graph.windowsFeatureUpdateProfile"
	groupTargetType     = "#microsoft.graph.groupAssignmentTarget"
	policyAssignType    = "#microsoft.graph.deviceConfigurationAssignment"
	policyDescription   = "Managed by Patchboard: changes made here are reported and undone at the next sync."
	deviceConfigsPath   = "v1.0/deviceManagement/deviceConfigurations"
	qualityProfilesPath = "beta/deviceManagement/windowsQualityUpdateProfiles"
	featureProfilesPath = "beta/deviceManagement/windowsFeatureUpdateProfiles"
)

// ringConfig is the part of a windowsUpdateForBusinessConfiguration that
// Patchboard owns. Intune sets the pause expiry itself (35 days from the
// pause), so Patchboard writes only whether each kind is paused.
type ringConfig struct {
	ODataType       string `json:"@odata.type"`
	ID              string `json:"id,omitempty"`
	DisplayName     string `json:"displayName"`
	Description     string `json:"description,omitempty"`
	QualityDeferral int    `json:"qualityUpdatesDeferralPeriodInDays"`
	FeatureDeferral int    `json:"featureUpdatesDeferralPeriodInDays"`
	QualityDeadline int    `json:"deadlineForQualityUpdatesInDays"`
	Grace           int    `json:"deadlineGracePeriodInDays"`
	QualityPaused   bool   `json:"qualityUpdatesPaused"`
	FeaturePaused   bool   `json:"featureUpdatesPaused"`
}

func configOf(p store.RingPolicy) ringConfig {
	return ringConfig{ODataType: ringPolicyType, DisplayName: p.DisplayName, Description: policyDescription,
		QualityDeferral: p.QualityDeferral, FeatureDeferral: p.FeatureDeferral, QualityDeadline: p.QualityDeadline,
		Grace: p.QualityGrace, QualityPaused: !p.QualityPausedUntil.IsZero(), FeaturePaused: !p.FeaturePausedUntil.IsZero()}
}

// settings lists the owned settings by the names Intune shows in Graph, in
// a fixed order, for comparing and reporting.
func (c ringConfig) settings() [][2]string {
	return [][2]string{
		{"qualityUpdatesDeferralPeriodInDays", strconv.Itoa(c.QualityDeferral)},
		{"deadlineForQualityUpdatesInDays", strconv.Itoa(c.QualityDeadline)},
		{"deadlineGracePeriodInDays", strconv.Itoa(c.Grace)},
		{"featureUpdatesDeferralPeriodInDays", strconv.Itoa(c.FeatureDeferral)},
		{"qualityUpdatesPaused", strconv.FormatBool(c.QualityPaused)},
		{"featureUpdatesPaused", strconv.FormatBool(c.FeaturePaused)},
	}
}

// ringConfigs reads every update ring policy in the tenant, by display name.
func (g *Connector) ringConfigs(ctx context.Context) (map[string]ringConfig, error) {
	q := url.Values{"$filter": {"isof('microsoft.graph.windowsUpdateForBusinessConfiguration')"}}
	out := make(map[string]ringConfig)
	_, err := g.client.pages(ctx, request{method: http.MethodGet, path: deviceConfigsPath + "?" + q.Encode(), permission: policyPermission},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				var c ringConfig
				if err := json.Unmarshal(raw, &c); err != nil {
					return fmt.Errorf("Microsoft Graph returned an update ring policy Patchboard cannot read: %w", err)
				}
				if c.ODataType == ringPolicyType {
					if _, dup := out[c.DisplayName]; !dup { // the first is the one Patchboard keeps
						out[c.DisplayName] = c
					}
				}
			}
			return nil
		})
	return out, err
}

// WriteRingPolicies makes each ring's update ring policy carry want: it
// creates a missing policy, updates one whose settings differ and assigns
// each to its ring group. Assigning replaces the policy's assignments, so
// one assigned elsewhere in Intune is put back.
func (g *Connector) WriteRingPolicies(ctx context.Context, want []store.RingPolicy) error {
	have, err := g.ringConfigs(ctx)
	if err != nil {
		return fmt.Errorf("update ring policies: %w", err)
	}
	for _, p := range want {
		body := configOf(p)
		cur, ok := have[p.DisplayName]
		id := cur.ID
		switch {
		case !ok:
			var created ringConfig
			if err := g.client.do(ctx, request{method: http.MethodPost, path: deviceConfigsPath, body: body, permission: policyPermission}, &created); err != nil {
				return fmt.Errorf("update ring policy %s: %w", p.DisplayName, err)
			}
			if created.ID == "" {
				return errors.New("Microsoft Graph created the update ring policy " + p.DisplayName + " but returned no id")
			}
			id = created.ID
		case !sameSettings(cur, body):
			if err := g.client.do(ctx, request{method: http.MethodPatch, path: deviceConfigsPath + "/" + url.PathEscape(id), body: body, permission: policyPermission}, nil); err != nil {
				return fmt.Errorf("update ring policy %s: %w", p.DisplayName, err)
			}
		}
		gid, err := g.ringGroup(ctx, p.Ring)
		if err != nil {
			return fmt.Errorf("update ring policy %s: %w", p.DisplayName, err)
		}
		assign := map[string]any{"assignments": []any{map[string]any{"@odata.type": policyAssignType,
			"target": map[string]string{"@odata.type": groupTargetType, "groupId": gid}}}}
		if err := g.client.do(ctx, request{method: http.MethodPost, path: deviceConfigsPath + "/" + url.PathEscape(id) + "/assign", body: assign, permission: policyPermission}, nil); err != nil {
			return fmt.Errorf("assigning update ring policy %s to its ring group: %w", p.DisplayName, err)
		}
	}
	return nil
}

func sameSettings(a, b ringConfig) bool {
	as, bs := a.settings(), b.settings()
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// RingPolicyDrift reads the ring policies and lists every owned setting
// that differs from want; a policy deleted in Intune is one drift with the
// setting "policy".
func (g *Connector) RingPolicyDrift(ctx context.Context, want []store.RingPolicy) ([]store.PolicyDrift, error) {
	have, err := g.ringConfigs(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the update ring policies: %w", err)
	}
	now := time.Now().UTC()
	var out []store.PolicyDrift
	for _, p := range want {
		cur, ok := have[p.DisplayName]
		if !ok {
			out = append(out, store.PolicyDrift{Ring: p.Ring, Setting: "policy", Want: p.DisplayName, Found: "missing", DetectedAt: now})
			continue
		}
		ws, fs := configOf(p).settings(), cur.settings()
		for i := range ws {
			if ws[i][1] != fs[i][1] {
				out = append(out, store.PolicyDrift{Ring: p.Ring, Setting: ws[i][0], Want: ws[i][1], Found: fs[i][1], DetectedAt: now})
			}
		}
	}
	return out, nil
}

// profile is the common part of the quality and feature update profiles.
type profile struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// findProfile returns the ID of the profile named name in the collection
// at path ("" when there is none).
func (g *Connector) findProfile(ctx context.Context, path, name string) (string, error) {
	id := ""
	_, err := g.client.pages(ctx, request{method: http.MethodGet, path: path, permission: policyPermission}, func(items []json.RawMessage) error {
		for _, raw := range items {
			var p profile
			if json.Unmarshal(raw, &p) == nil && p.DisplayName == name && id == "" {
				id = p.ID
			}
		}
		return nil
	})
	return id, err
}

// writeProfile creates the profile named in body (or updates the existing
// one of that name) and assigns it to every ring group.
func (g *Connector) writeProfile(ctx context.Context, path string, body map[string]any) error {
	name := body["displayName"].(string)
	id, err := g.findProfile(ctx, path, name)
	if err != nil {
		return err
	}
	if id == "" {
		var created profile
		if err := g.client.do(ctx, request{method: http.MethodPost, path: path, body: body, permission: policyPermission}, &created); err != nil {
			return err
		}
		if created.ID == "" {
			return errors.New("Microsoft Graph created the profile " + name + " but returned no id")
		}
		id = created.ID
	} else if err := g.client.do(ctx, request{method: http.MethodPatch, path: path + "/" + url.PathEscape(id), body: body, permission: policyPermission}, nil); err != nil {
		return err
	}
	var targets []any
	for _, ring := range store.Rings {
		gid, err := g.ringGroup(ctx, ring)
		if err != nil {
			return err
		}
		targets = append(targets, map[string]any{"target": map[string]string{"@odata.type": groupTargetType, "groupId": gid}})
	}
	return g.client.do(ctx, request{method: http.MethodPost, path: path + "/" + url.PathEscape(id) + "/assign",
		body: map[string]any{"assignments": targets}, permission: policyPermission}, nil)
}

// ExpediteQualityUpdate creates the expedited quality update profile of
// the release: Windows Update installs the quality update released on the
// release's date (or a newer one) now, restarting within the expedited
// schedule's deadline plus grace (store.ExpeditedSchedule).
func (g *Connector) ExpediteQualityUpdate(ctx context.Context, rel store.Release) error {
	body := map[string]any{
		"@odata.type": qualityProfileType,
		"displayName": "Patchboard Expedite - " + rel.Name,
		"description": policyDescription,
		"expeditedUpdateSettings": map[string]any{
			"@odata.type":           "#microsoft.graph.expeditedWindowsQualityUpdateSettings",
			"qualityUpdateRelease":  rel.Date.UTC().Format("2006-01-02T15:04:05Z"),
			"daysUntilForcedReboot": expediteRebootDays,
		},
	}
	if err := g.writeProfile(ctx, qualityProfilesPath, body); err != nil {
		return fmt.Errorf("expedited quality update profile for %s: %w", rel.Name, err)
	}
	return nil
}

// expediteRebootDays is the expedited schedule's deadline plus grace (0/1/1
// in every ring, issue 12 item 1): Intune allows 0 to 2.
const expediteRebootDays = 1

// featureVersions names the feature update Intune offers for a build line.
var featureVersions = map[int]string{
	26200: "Windows 11, version 25H2",
	26100: "Windows 11, version 24H2",
	22631: "Windows 11, version 23H2",
	22621: "Windows 11, version 22H2",
	19045: "Windows 10, version 22H2",
}

// WriteFeatureTarget makes the feature update profile offer the target's
// build line from its start date.
func (g *Connector) WriteFeatureTarget(ctx context.Context, ft store.FeatureTarget) error {
	version, ok := featureVersions[ft.Build]
	if !ok {
		return fmt.Errorf("feature update profile: Intune offers no feature update for build line %d; choose one of %s", ft.Build, knownBuilds())
	}
	body := map[string]any{
		"@odata.type":          featureProfileType,
		"displayName":          "Patchboard Feature Update",
		"description":          policyDescription,
		"featureUpdateVersion": version,
		"rolloutSettings": map[string]any{
			"@odata.type":             "#microsoft.graph.windowsUpdateRolloutSettings",
			"offerStartDateTimeInUTC": ft.Start.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
	if err := g.writeProfile(ctx, featureProfilesPath, body); err != nil {
		return fmt.Errorf("feature update profile: %w", err)
	}
	return nil
}

func knownBuilds() string {
	var bs []string
	for _, b := range []int{26200, 26100, 22631, 22621, 19045} {
		bs = append(bs, strconv.Itoa(b))
	}
	return strings.Join(bs, ", ")
}

var _ store.UpdatePolicyWriter = (*Connector)(nil)
