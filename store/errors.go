package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors the callers map to user-facing outcomes.
var (
	// ErrNotFound means the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input was rejected; the wrapping error names what was wrong.
	ErrInvalid = errors.New("invalid input")
	// ErrConflict means the request clashes with the current state.
	ErrConflict = errors.New("conflict")
	// ErrForbidden means the actor may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrBusy means the server is doing as much of this kind of work as it
	// takes at once; the same request may succeed a little later.
	ErrBusy = errors.New("busy")
)

// FieldError is one rejected value: where it was (a CSV row, a JSON pointer
// or a flag), which field, and why.
type FieldError struct {
	Row   int    // 1-based data row of a file; 0 when not from a file
	Item  string // e.g. a JSON pointer "/3"; empty when not from JSON
	Field string
	Value string
	// Name is the display name of the record Value identifies, when it has
	// one (a device's), so that messages name it as people know it.
	Name   string
	Reason string
}

func (e FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.Row > 0:
		fmt.Fprintf(&b, "row %d: ", e.Row)
	case e.Item != "":
		fmt.Fprintf(&b, "%s: ", e.Item)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "%s: ", e.Field)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ValidationError collects every FieldError of one input. It wraps ErrInvalid,
// so errors.Is(err, ErrInvalid) holds.
type ValidationError struct {
	Errors []FieldError
	// Truncated counts the further errors that were found but not kept.
	Truncated int
}

// maxKeptErrors bounds how many rejected rows one ValidationError keeps, so a
// completely wrong million-row file does not hold a million messages.
const maxKeptErrors = 1000

func (e *ValidationError) add(fe FieldError) {
	if len(e.Errors) >= maxKeptErrors {
		e.Truncated++
		return
	}
	e.Errors = append(e.Errors, fe)
}

func (e *ValidationError) empty() bool { return len(e.Errors) == 0 && e.Truncated == 0 }

func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid input"
	}
	msg := e.Errors[0].Error()
	if n := len(e.Errors) - 1 + e.Truncated; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// kindError is a message for the user that is also one of the sentinels, so
// the message reads cleanly ("ring must be one of …") while errors.Is still
// tells the caller which kind of failure it was.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// invalidf returns an ErrInvalid whose message names what was wrong.
func invalidf(format string, args ...any) error {
	return &kindError{ErrInvalid, fmt.Sprintf(format, args...)}
}

// conflictf returns an ErrConflict whose message says what clashed.
func conflictf(format string, args ...any) error {
	return &kindError{ErrConflict, fmt.Sprintf(format, args...)}
}

// busyf returns an ErrBusy whose message says what is busy.
func busyf(format string, args ...any) error {
	return &kindError{ErrBusy, fmt.Sprintf(format, args...)}
}

// notFoundf returns an ErrNotFound whose message names what is missing.
func notFoundf(format string, args ...any) error {
	return &kindError{ErrNotFound, fmt.Sprintf(format, args...)}
}

// Invalidf is invalidf for callers outside the store (the handlers' own
// checks of a form or a query), so their refusals read as the store's do.
func Invalidf(format string, args ...any) error { return invalidf(format, args...) }

// Message is what a person reads for a refused request: the sentence written
// for them where the refusal was decided, without the operation names that
// callers add on the way up for the log ("create token: …"). It is empty when
// err is no refusal at all — an internal failure, which is logged and
// answered with a generic message instead.
func Message(err error) string {
	var ae *ActionRefusedError
	var ve *ValidationError
	var ke *kindError
	var re *RuleError
	switch {
	case errors.As(err, &ae):
		return ae.Error()
	case errors.As(err, &re):
		return sentence("the rule does not parse: " + re.Syntax.Error())
	case errors.As(err, &ve):
		return sentence(ve.Error())
	case errors.As(err, &ke):
		return sentence(ke.msg)
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict),
		errors.Is(err, ErrForbidden), errors.Is(err, ErrBusy):
		// A refusal wrapped without its own sentence: the whole text is
		// still better than a generic answer.
		return sentence(err.Error())
	}
	return ""
}

// sentence starts msg with a capital letter and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	if r, size := utf8.DecodeRuneInString(msg); unicode.IsLower(r) {
		msg = string(unicode.ToUpper(r)) + msg[size:]
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}
