package configs

import (
	"fmt"
	"io"
)

// Format makes every fmt verb print the placeholder. String and GoString
// alone cover only %v, %s, %q, %x and %#v: any other verb (%d, %t, ...)
// would print the string's bytes in its "%!d(configs.Secret=...)" notice.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	io.WriteString(f, s.String())
}
