package store

import "strings"

// Role is what a user may do (SPEC §7). The zero Role grants nothing.
type Role string

// Roles.
const (
	RoleNone          Role = ""
	RoleGlobalAdmin   Role = "global-admin"
	RoleIntuneAdmin   Role = "intune-admin"
	RoleServiceAdmin  Role = "service-admin"
	RoleServiceReader Role = "service-reader"
	// RoleReporter is an API token role only: a script run on devices
	// reports their readiness signals and can do nothing else.
	RoleReporter Role = "reporter"
)

// Roles lists the assignable roles, most powerful first.
var Roles = []Role{RoleGlobalAdmin, RoleIntuneAdmin, RoleServiceAdmin, RoleServiceReader}

// Label is the role as the UI names it.
func (r Role) Label() string {
	switch r {
	case RoleGlobalAdmin:
		return "Global Administrator"
	case RoleIntuneAdmin:
		return "Intune Service Administrator"
	case RoleServiceAdmin:
		return "Service Administrator"
	case RoleServiceReader:
		return "Service Reader"
	case RoleReporter:
		return "Reporter"
	}
	return "No access"
}

// ParseRole accepts a role key or label, case-insensitively. An empty string
// is RoleNone.
func ParseRole(s string) (Role, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return RoleNone, nil
	}
	for _, r := range Roles {
		if strings.EqualFold(s, string(r)) || strings.EqualFold(s, r.Label()) {
			return r, nil
		}
	}
	return "", invalidf("role %q is not one of global-admin, intune-admin, service-admin, service-reader", s)
}

// Permission is one capability a route or control needs.
type Permission int

// Permissions.
const (
	// PermView: blades, device details, rings, groups; Modify columns,
	// Refresh and Export to CSV.
	PermView Permission = iota + 1
	// PermDiscover: Discover devices.
	PermDiscover
	// PermDeviceActions: assign ring, deregister, restore.
	PermDeviceActions
	// PermEditRegistrationGroup: change the Device Registration group's
	// membership. Service Administrators have it only as owners of the group
	// (see CanEditGroup).
	PermEditRegistrationGroup
	// PermEditGroups: create and edit other groups, import inventory.
	PermEditGroups
	// PermViewAudit: view and export the audit log.
	PermViewAudit
	// PermManage: users, roles, group owners, settings, API tokens.
	PermManage
	// PermReportSignals: report devices' readiness signals through the
	// API. Only reporter tokens have it.
	PermReportSignals
	// PermEditContacts: add, edit and delete the tenant's admin contacts
	// (SPEC §13). Everyone with PermView sees them and the alerts.
	PermEditContacts
	// PermManageAlerts: the alert settings, an alert's Restore action and
	// running the readiness assessment (SPEC §13). Everyone with PermView
	// sees the alerts and the assessments.
	PermManageAlerts
	// PermRaiseSupport: raise support requests and follow one's own (SPEC
	// §7: the administrator roles). Everyone with PermView reads them.
	PermRaiseSupport
	// PermHandleSupport: the service desk — assign, note and mitigate any
	// support request (Global Administrators).
	PermHandleSupport
	// PermUnenroll: request or cancel the tenant's unenrollment (Global
	// Administrators).
	PermUnenroll
)

var permNames = map[Permission]string{
	PermView:                  "view devices",
	PermDiscover:              "discover devices",
	PermDeviceActions:         "act on devices (assign rings, deregister, restore)",
	PermEditRegistrationGroup: "edit the Device Registration group",
	PermEditGroups:            "edit groups and import inventory",
	PermViewAudit:             "view the audit log",
	PermManage:                "manage users and settings",
	PermReportSignals:         "report device signals",
	PermEditContacts:          "edit admin contacts",
	PermManageAlerts:          "manage alerts and run the readiness assessment",
	PermRaiseSupport:          "raise support requests",
	PermHandleSupport:         "handle support requests",
	PermUnenroll:              "request or cancel unenrollment",
}

// String names the permission for messages ("… needs permission to discover devices").
func (p Permission) String() string { return permNames[p] }

// grants is the matrix of SPEC §7.
var grants = map[Role][]Permission{
	RoleGlobalAdmin: {PermView, PermDiscover, PermDeviceActions, PermEditRegistrationGroup,
		PermEditGroups, PermViewAudit, PermManage, PermEditContacts, PermManageAlerts, PermRaiseSupport, PermHandleSupport, PermUnenroll},
	RoleIntuneAdmin: {PermView, PermDiscover, PermDeviceActions, PermEditRegistrationGroup,
		PermEditGroups, PermViewAudit, PermEditContacts, PermManageAlerts, PermRaiseSupport},
	RoleServiceAdmin: {PermView, PermDiscover, PermDeviceActions, PermEditGroups, PermViewAudit, PermEditContacts,
		PermManageAlerts, PermRaiseSupport},
	RoleServiceReader: {PermView},
}

// Can reports whether the role grants p. It is the one question the code asks.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// CanEditGroup reports whether the role may change a group: its members,
// rule, nesting or existence. The Device Registration group, and every group
// nested in it (Group.FeedsRegistration), need PermEditRegistrationGroup,
// or, for a Service Administrator, ownership of the Device Registration
// group (isOwner); other groups need PermEditGroups.
func (r Role) CanEditGroup(g Group, isOwner bool) bool {
	if !g.FeedsRegistration() {
		return r.Can(PermEditGroups)
	}
	return r.Can(PermEditRegistrationGroup) || (r == RoleServiceAdmin && isOwner)
}
