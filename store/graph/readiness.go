package graph

import (
	"context"
	"net/http"
	"net/url"

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

var _ store.ConnectorReadiness = (*Connector)(nil)
