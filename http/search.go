package http

import (
	"fmt"
	"regexp"
)

// maxSearchPattern caps list's search pattern, in bytes. Go's regexp never backtracks
// catastrophically, but compiling costs time and memory in proportion to the pattern:
// a 900 KB pattern took 140 MB and most of a second to compile, on every list call.
// Within this cap the worst measured (counted repeats such as `.{1000}` filling the
// 1,000 bytes) allocated 30 MB for 0.1 s; a pattern that finds canaries by name, slug,
// id or address is a few dozen bytes.
const maxSearchPattern = 1000

// compileSearch compiles list's search parameter, or says in a 400 why it cannot.
func compileSearch(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > maxSearchPattern {
		return nil, badRequest(fmt.Sprintf("Search pattern is %d bytes long: at most %d are allowed", len(pattern), maxSearchPattern))
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("Bad search pattern %q: %v", pattern, err))
	}
	return re, nil
}
