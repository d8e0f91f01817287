package store

// Status is where a device stands in registration (SPEC §4).
type Status string

// Statuses. A device with no status is neither a candidate nor registered and
// appears on no blade.
const (
	StatusActive              Status = "active"
	StatusReadinessFailed     Status = "readiness-failed"
	StatusInactive            Status = "inactive"
	StatusPrerequisitesFailed Status = "prerequisites-failed"
	StatusExcluded            Status = "excluded"
)

// Statuses lists every status in blade order.
var Statuses = []Status{StatusActive, StatusReadinessFailed, StatusInactive, StatusPrerequisitesFailed, StatusExcluded}

// Label is the status as the UI names it.
func (s Status) Label() string {
	switch s {
	case StatusActive:
		return "Active"
	case StatusReadinessFailed:
		return "Readiness failed"
	case StatusInactive:
		return "Inactive"
	case StatusPrerequisitesFailed:
		return "Prerequisites failed"
	case StatusExcluded:
		return "Excluded"
	}
	return ""
}

// Registered reports whether a device in this status holds a registration.
func (s Status) Registered() bool {
	return s == StatusActive || s == StatusReadinessFailed || s == StatusInactive
}

// Tab is the blade that shows devices of this status.
func (s Status) Tab() Tab {
	switch s {
	case StatusActive:
		return TabReady
	case StatusReadinessFailed, StatusInactive:
		return TabNotReady
	case StatusPrerequisitesFailed, StatusExcluded:
		return TabNotRegistered
	}
	return ""
}

// ParseStatus accepts a status key or its UI label, case-insensitively.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if equalFoldTrim(s, string(st)) || equalFoldTrim(s, st.Label()) {
			return st, nil
		}
	}
	return "", invalidf("status %q is not one of active, readiness-failed, inactive, prerequisites-failed, excluded", s)
}

// Tab is one of the three device blades.
type Tab string

// Tabs.
const (
	TabReady         Tab = "ready"
	TabNotReady      Tab = "not-ready"
	TabNotRegistered Tab = "not-registered"
)

// Tabs lists the blades in UI order.
var Tabs = []Tab{TabReady, TabNotReady, TabNotRegistered}

// Label is the tab as the UI names it.
func (t Tab) Label() string {
	switch t {
	case TabReady:
		return "Ready"
	case TabNotReady:
		return "Not ready"
	case TabNotRegistered:
		return "Not registered"
	}
	return ""
}

// Statuses lists the statuses the tab shows.
func (t Tab) Statuses() []Status {
	var out []Status
	for _, s := range Statuses {
		if s.Tab() == t {
			out = append(out, s)
		}
	}
	return out
}

// ParseTab accepts a tab key or its label.
func ParseTab(s string) (Tab, error) {
	for _, t := range Tabs {
		if equalFoldTrim(s, string(t)) || equalFoldTrim(s, t.Label()) {
			return t, nil
		}
	}
	return "", invalidf("tab %q is not one of ready, not-ready, not-registered", s)
}
