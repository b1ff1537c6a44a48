package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// journal prints what the campaign does as it does it, with the wall clock (as in the
// evidence of the checks) and the time since the start,
// to the terminal and to events.log in the output directory.
type journal struct {
	mu    sync.Mutex
	start time.Time
	w     io.Writer
}

func (j *journal) printf(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	fmt.Fprintf(j.w, "%s [%7.3fs] %s\n", now.Format("15:04:05.000"), now.Sub(j.start).Seconds(), fmt.Sprintf(format, args...))
}
