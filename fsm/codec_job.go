package fsm

import (
	"fmt"
	"time"
)

// The snapshot encoding of a canary's Job (format 3), in codec.go's style: every field
// in a fixed order, durations in microseconds.

func (e *encoder) job(j *Job) {
	e.varint(j.Grace.Microseconds())
	e.varint(j.MaxRuntime.Microseconds())
	e.varint(j.Renotify.Microseconds())
	e.time(j.Notified)
	e.string(j.TZ)
	e.string(j.Cron)
	e.time(j.PausedUntil)
	e.time(j.Started)
	e.string(j.StartedRID)
	var flags byte
	if j.Failed {
		flags |= 1
	}
	if j.HasExitStatus {
		flags |= 2
	}
	e.byte(flags)
	e.varint(j.LastDuration.Microseconds())
	e.varint(int64(j.LastExitStatus))
	e.strings(j.Channels)
	e.uvarint(uint64(len(j.Runs)))
	for i := range j.Runs {
		r := &j.Runs[i]
		e.string(r.RID)
		e.string(string(r.State))
		e.time(r.Started)
		e.time(r.Ended)
		e.varint(int64(r.ExitStatus))
		e.string(r.Output)
	}
}

func (e *encoder) channel(c *Channel) {
	e.string(c.Name)
	e.string(c.Kind)
	e.strings(c.Emails)
	e.string(c.URL)
	e.string(c.Method)
	e.strings(c.Headers)
	e.string(c.Body)
	e.string(c.RoutingKey)
	var flags byte
	if c.Default {
		flags |= 1
	}
	if c.Admin {
		flags |= 2
	}
	e.byte(flags)
}

func (d *decoder) channel() *Channel {
	c := &Channel{Name: d.string(), Kind: d.string(), Emails: d.strings(), URL: d.string(), Method: d.string(),
		Headers: d.strings(), Body: d.string(), RoutingKey: d.string()}
	flags := d.byte()
	if flags&^3 != 0 {
		d.fail(fmt.Errorf("%w: bad channel flags %#x", errCorrupt, flags))
	}
	c.Default, c.Admin = flags&1 != 0, flags&2 != 0
	if len(c.Emails) == 0 {
		c.Emails = nil
	}
	if len(c.Headers) == 0 {
		c.Headers = nil
	}
	return c
}

func (d *decoder) job() *Job {
	j := &Job{
		Grace:      time.Duration(d.varint()) * time.Microsecond,
		MaxRuntime: time.Duration(d.varint()) * time.Microsecond,
		Renotify:   time.Duration(d.varint()) * time.Microsecond,
		Notified:   d.time(),
	}
	j.TZ = d.string()
	j.Cron = d.string()
	j.PausedUntil = d.time()
	j.Started = d.time()
	j.StartedRID = d.string()
	flags := d.byte()
	if flags&^3 != 0 {
		d.fail(fmt.Errorf("%w: bad job flags %#x", errCorrupt, flags))
	}
	j.Failed, j.HasExitStatus = flags&1 != 0, flags&2 != 0
	j.LastDuration = time.Duration(d.varint()) * time.Microsecond
	j.LastExitStatus = int(d.varint())
	if chans := d.strings(); len(chans) > 0 {
		j.Channels = chans
	}
	n := d.length()
	if n > maxRuns {
		d.fail(fmt.Errorf("%w: %d runs (at most %d)", errCorrupt, n, maxRuns))
		return j
	}
	for i := 0; i < n && d.e == nil; i++ {
		j.Runs = append(j.Runs, Run{
			RID:        d.string(),
			State:      RunState(d.string()),
			Started:    d.time(),
			Ended:      d.time(),
			ExitStatus: int(d.varint()),
			Output:     d.string(),
		})
	}
	return j
}
