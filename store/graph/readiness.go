package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"patchboard/store"
)

// probe is one request that needs one permission: the smallest read of
// what Patchboard uses it for.
type probe struct {
	permission, purpose, path string
}

// ProbePermissions tests each application permission Patchboard needs with
// a real request (store.ConnectorReadiness). The write permissions of the
// ring write-back (Group.Create, GroupMember.ReadWrite.All) cannot be
// tested without writing; each write-back tests them, and a refusal raises
// an alert naming them.
func (g *Connector) ProbePermissions(ctx context.Context, writeBack bool) []store.PermissionProbe {
	top := url.Values{"$select": {"id"}, "$top": {"1"}}.Encode()
	probes := []probe{
		{devicesPermission, "read the Entra devices", devicesPath + "?" + top},
		{managedPermission, "read the Intune managed devices", managedPath + "?" + top},
		{cloudPCsPermission, "read the Windows 365 Cloud PCs", cloudPCsPath + "?" + top},
		{groupPermission, "read the registration group's members", "v1.0/groups/" + url.PathEscape(g.cfg.RegistrationGroup) + "/members?" + top},
	}
	if writeBack {
		q := url.Values{"$filter": {"isof('microsoft.graph.windowsUpdateForBusinessConfiguration')"}}
		probes = append(probes, probe{policyPermission, "read the update ring policies", deviceConfigsPath + "?" + q.Encode()})
	}
	out := make([]store.PermissionProbe, 0, len(probes))
	for _, p := range probes {
		var discard struct{}
		err := g.client.do(ctx, request{method: http.MethodGet, path: p.path, permission: p.permission}, &discard)
		out = append(out, store.PermissionProbe{Permission: p.permission, Purpose: p.purpose, Err: err})
	}
	return out
}

// MissingRingObjects names the ring groups, and the update ring policies
// of policyNames, that do not exist in the tenant (store.ConnectorReadiness).
func (g *Connector) MissingRingObjects(ctx context.Context, policyNames []string) ([]string, error) {
	var missing []string
	for _, ring := range store.Rings {
		name := g.cfg.RingGroupPrefix + ring.Label()
		id, err := g.findGroup(ctx, name)
		if err != nil {
			return nil, err
		}
		if id == "" {
			missing = append(missing, "group "+name)
		}
	}
	if len(policyNames) == 0 {
		return missing, nil
	}
	configs, err := g.ringConfigs(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range policyNames {
		if _, ok := configs[name]; !ok {
			missing = append(missing, "policy "+name)
		}
	}
	return missing, nil
}

// ForeignRingPolicies names the update ring policies other than
// Patchboard's (policyNames) that are assigned to one of the ring groups
// (store.ConnectorReadiness): a device in two update ring policies gets
// conflicting deferrals, and Intune reports the conflict instead of
// applying either. Each foreign policy's assignments are one request
// (List deviceConfigurationAssignments); a tenant has a handful.
func (g *Connector) ForeignRingPolicies(ctx context.Context, policyNames []string) ([]string, error) {
	rings := make(map[string]string) // group ID → ring group name
	for _, ring := range store.Rings {
		name := g.cfg.RingGroupPrefix + ring.Label()
		id, err := g.findGroup(ctx, name)
		if err != nil {
			return nil, err
		}
		if id != "" {
			rings[id] = name
		}
	}
	if len(rings) == 0 {
		return nil, nil
	}
	configs, err := g.ringConfigs(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for name, c := range configs {
		if slices.Contains(policyNames, name) {
			continue
		}
		var targets []string
		_, err := g.client.pages(ctx, request{method: http.MethodGet, path: deviceConfigsPath + "/" + url.PathEscape(c.ID) + "/assignments", permission: policyPermission},
			func(items []json.RawMessage) error {
				for _, raw := range items {
					var a struct {
						Target struct {
							GroupID string `json:"groupId"`
						} `json:"target"`
					}
					if err := json.Unmarshal(raw, &a); err != nil {
						return fmt.Errorf("Microsoft Graph returned a policy assignment Patchboard cannot read: %w", err)
					}
					if group, ok := rings[strings.ToLower(a.Target.GroupID)]; ok && !slices.Contains(targets, group) {
						targets = append(targets, group)
					}
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
		if len(targets) > 0 {
			slices.Sort(targets)
			out = append(out, fmt.Sprintf("%q targets %s", name, strings.Join(targets, " and ")))
		}
	}
	slices.Sort(out)
	return out, nil
}

var _ store.ConnectorReadiness = (*Connector)(nil)
