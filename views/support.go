package views

import (
	"net/url"
	"time"

	"patchboard/store"
)

// SupportListView is the model of the support requests list.
type SupportListView struct {
	Requests []store.SupportRequest
	Filter   store.SupportFilter
	Now      time.Time
}

// Query is the list's filters as a query string (the export keeps them).
func (v SupportListView) Query() string {
	q := url.Values{}
	if v.Filter.Search != "" {
		q.Set("q", v.Filter.Search)
	}
	if v.Filter.State != "" {
		q.Set("state", string(v.Filter.State))
	}
	if v.Filter.Severity != "" {
		q.Set("severity", string(v.Filter.Severity))
	}
	return q.Encode()
}

// SupportForm is what the raise form holds, as typed.
type SupportForm struct {
	Title, Description string
	Severity           store.SupportSeverity
	Devices            string // one device ID or serial number a line
	Contact            string // the chosen contact's id
}

// SupportNewView is the model of the raise form.
type SupportNewView struct {
	Form     SupportForm
	Contacts []store.Contact
	Errors   []store.FieldError
	// Picked is how many devices the blade's selection filled in; AllMatching
	// says the selection was a whole view, which names no rows.
	Picked      int
	AllMatching bool
}

// FieldError is the message for one field of the form, "" when it is fine.
func (v SupportNewView) FieldError(field string) string {
	for _, fe := range v.Errors {
		if fe.Field == field {
			return fe.Reason
		}
	}
	return ""
}

// SupportDetailView is the model of one request's page.
type SupportDetailView struct {
	Request store.SupportDetail
	Now     time.Time
	Desk    []string // the accounts it can be assigned to (service desk viewers only)
	Raiser  bool     // the viewer raised it
	Saved   string   // what was just done
	Error   string   // why the last change was refused
}

// MayFollow reports whether the viewer may add notes and reactivate.
func (v SupportDetailView) MayFollow(desk bool) bool { return v.Raiser || desk }
