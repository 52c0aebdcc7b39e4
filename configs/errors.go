package configs

import (
	"errors"
	"fmt"
	"strings"
)

// ValidationError lists every problem found while loading or validating a
// configuration, so an operator fixes them all in one round instead of one
// restart per mistake. No problem ever quotes a secret.
type ValidationError struct {
	// Problems holds one sentence per problem, each naming the setting (its
	// environment variable and YAML key) and what to do about it.
	Problems []string

	errs []error // the problems as errors, for errors.Is and errors.As
}

// Error returns the problems, one per line.
func (e *ValidationError) Error() string { return strings.Join(e.Problems, "\n") }

// Unwrap returns one error per problem; those that wrap a cause (a file that
// cannot be read, a number that does not parse) keep it for errors.Is/As.
func (e *ValidationError) Unwrap() []error { return e.errs }

// problems collects errors; the zero value is ready to use.
type problems []error

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Errorf(format, args...))
}

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

// err returns nil for no problems, else a *ValidationError holding them all.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	ve := &ValidationError{errs: p}
	for _, e := range p {
		ve.Problems = append(ve.Problems, e.Error())
	}
	return ve
}

// asProblems spreads err back into problems: a *ValidationError gives one
// per problem, anything else gives itself.
func asProblems(err error) problems {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return problems(ve.errs)
	}
	if err != nil {
		return problems{err}
	}
	return nil
}
