package fsm

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// validID is the original's identifier: eight lower-case ASCII letters.
func validID(id string) bool {
	if len(id) != 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 'a' || id[i] > 'z' {
			return false
		}
	}
	return true
}

// ValidID reports whether id has the form of a canary id.
func ValidID(id string) bool { return validID(id) }

func validateName(name string) error {
	switch {
	case name == "":
		return invalid("name must be non-empty")
	case !utf8.ValidString(name):
		return invalid("name must be valid UTF-8")
	case len(name) > maxNameLength:
		return invalid(fmt.Sprintf("name must be at most %d bytes", maxNameLength))
	case Slug(name) == "":
		// An empty slug could never be looked up and would collide with every other one.
		return invalid("name must contain at least one letter or digit")
	}
	return nil
}

func validateDescription(d string) error {
	if !utf8.ValidString(d) {
		return invalid("description must be valid UTF-8")
	}
	if len(d) > maxFieldLength {
		return invalid(fmt.Sprintf("description must be at most %d bytes", maxFieldLength))
	}
	return nil
}

func validateComment(c string) error {
	if !utf8.ValidString(c) {
		return invalid("comment must be valid UTF-8")
	}
	if len(c) > maxCommentBytes {
		return invalid(fmt.Sprintf("comment must be at most %d bytes", maxCommentBytes))
	}
	return nil
}

// validateEmails accepts what net/mail accepts as one address ("a@b" or "Name <a@b>"),
// so that the dispatcher never holds a record it cannot address.
func validateEmails(emails []string) error {
	if len(emails) > maxEmails {
		return invalid(fmt.Sprintf("at most %d email addresses", maxEmails))
	}
	for _, e := range emails {
		if strings.ContainsAny(e, "\r\n") {
			return invalid(fmt.Sprintf("invalid email address %q", e))
		}
		if _, err := mail.ParseAddress(e); err != nil {
			return invalid(fmt.Sprintf("invalid email address %q", e))
		}
	}
	return nil
}
