package store

import (
	"slices"
	"strings"
)

// RoleMapping gives Role to everyone whose id_token carries Value in its
// roles claim (an Entra app role) or groups claim (a group object ID).
type RoleMapping struct {
	Value string
	Role  Role
}

// RoleMap is PATCHBOARD_OIDC_ROLE_MAP, or the copy saved in the portal.
type RoleMap []RoleMapping

// ParseRoleMap reads "VALUE=ROLE,VALUE=ROLE"; commas and line breaks both
// separate entries, so the portal's text area and the environment variable
// take the same text. ROLE is a role key (global-admin, intune-admin,
// service-admin, service-reader). A value is matched exactly, case and all,
// as Entra and other providers send it.
func ParseRoleMap(text string) (RoleMap, error) {
	var m RoleMap
	seen := map[string]bool{}
	entries := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	for i, entry := range entries {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		// The role is after the last '=': a value may hold one, a role never.
		at := strings.LastIndexByte(entry, '=')
		if at <= 0 {
			return nil, invalidf("role map entry %d (%q) is not VALUE=ROLE", i+1, entry)
		}
		value, roleText := strings.TrimSpace(entry[:at]), strings.TrimSpace(entry[at+1:])
		role := Role(roleText)
		if value == "" || !slices.Contains(Roles, role) {
			return nil, invalidf("role map entry %d (%q): the role must be one of global-admin, intune-admin, service-admin, service-reader", i+1, entry)
		}
		if seen[value] {
			return nil, invalidf("role map entry %d: %q is mapped twice", i+1, value)
		}
		seen[value] = true
		m = append(m, RoleMapping{Value: value, Role: role})
	}
	return m, nil
}

// String writes the map one entry a line, as ParseRoleMap reads it.
func (m RoleMap) String() string {
	var b strings.Builder
	for i, e := range m {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Value + "=" + string(e.Role))
	}
	return b.String()
}

// Resolve is the most powerful role that any of the claim values maps to,
// and the value that gave it; RoleNone and "" when none matches.
func (m RoleMap) Resolve(claims ...[]string) (Role, string) {
	best, by := RoleNone, ""
	for _, values := range claims {
		for _, v := range values {
			for _, e := range m {
				if e.Value == v && (best == RoleNone || rank(e.Role) < rank(best)) {
					best, by = e.Role, v
				}
			}
		}
	}
	return best, by
}

// rank orders roles by power: 0 is the most powerful.
func rank(r Role) int {
	if i := slices.Index(Roles, r); i >= 0 {
		return i
	}
	return len(Roles)
}
