package store

import (
	"context"
	"errors"
	"testing"
)

// A refusal reaches a person as the sentence written for them, without the
// operation names wrapped around it for the log; an internal failure carries
// no sentence at all.
func TestMessageIsTheSentenceWithoutOperationNames(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	if _, _, err := st.CreateToken(ctx, "ci", RoleServiceReader, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	_, _, err := st.CreateToken(ctx, "ci", RoleServiceReader, "admin@example.com")
	if got, want := Message(err), `A token named "ci" is already in use; revoke it first or choose another name.`; got != want {
		t.Errorf("duplicate token: %q (error %q), want %q", got, err, want)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{Invalidf("choose a group"), "Choose a group."},
		{errors.Join(errors.New("set role"), Invalidf("role %q is unknown", "x")), `Role "x" is unknown.`},
		{&ActionRefusedError{Action: "deregister", Refused: []FieldError{{Value: "1", Name: "PC-1", Reason: "is excluded"}}},
			"Nothing was changed: cannot deregister PC-1: it is excluded. Deselect them and try again."},
		{errors.New("disk I/O error"), ""},
	} {
		if got := Message(tt.err); got != tt.want {
			t.Errorf("Message(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
