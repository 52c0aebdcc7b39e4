package sso

import (
	"errors"
	"testing"
)

// TestTicketCache: a ticket is used once while it lives; an expired entry
// makes room; a cache full of live tickets refuses (fails closed) rather
// than forget one.
func TestTicketCache(t *testing.T) {
	c := newTicketCache(2)
	steps := []struct {
		name     string
		id       string
		exp, now int64
		want     error
	}{
		{"first use", "a", 100, 10, nil},
		{"replay", "a", 100, 20, errTicketReused},
		{"second ticket", "b", 50, 20, nil},
		{"full of live tickets", "c", 100, 30, errTicketsFull},
		{"b expired: room again", "c", 100, 60, nil},
		{"a still remembered", "a", 100, 60, errTicketReused},
	}
	for _, s := range steps {
		if err := c.use(s.id, s.exp, s.now); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", s.name, err, s.want)
		}
	}
}
