package schedule

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// zoneinfoZip is Go's time zone database, embedded so that every replica of the
// state machine reads the same rules whatever its host has installed.
// Copied from $(go env GOROOT)/lib/time/zoneinfo.zip of "go version go1.26.8
// linux/amd64". Replacing it changes results for the zones whose rules changed:
// roll it out like any other change to Apply's behaviour.
//
//go:embed zoneinfo.zip
var zoneinfoZip []byte

// ErrUnknownZone is wrapped by LoadZone's errors.
var ErrUnknownZone = errors.New("unknown time zone")

// maxZoneName bounds the names LoadZone looks up; the longest in the database has
// 32 bytes.
const maxZoneName = 64

var (
	zoneIndexOnce sync.Once
	zoneIndex     map[string]*zip.File
	zoneIndexErr  error
	zoneCache     sync.Map // name -> *time.Location
)

// LoadZone returns the named IANA time zone (e.g. "Europe/Berlin") from the
// embedded database. "" and "UTC" give time.UTC. Names that are not in the
// database, and malformed or over-long ones, give an error wrapping ErrUnknownZone.
//
// It does not use time.LoadLocation, which prefers the host's /usr/share/zoneinfo
// (and $ZONEINFO) to Go's copy: two replicas with different tzdata releases could
// then compute different deadlines for the same command, and a replica would
// change its mind after an OS update. Locations are cached, so Apply parses each
// zone once per process.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if !validZoneName(name) {
		return nil, fmt.Errorf("%w %q", ErrUnknownZone, name)
	}
	zoneIndexOnce.Do(indexZones)
	if zoneIndexErr != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrUnknownZone, name, zoneIndexErr)
	}
	f, ok := zoneIndex[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownZone, name)
	}
	data, err := readZipFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrUnknownZone, name, err)
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrUnknownZone, name, err)
	}
	// Two goroutines may both parse a zone; they get equal locations, and the
	// first one stored is what every later call returns.
	actual, _ := zoneCache.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}

// validZoneName accepts what IANA names are made of (ASCII letters, digits, "/",
// "_", "-", "+", ".") and rejects empty, "." and ".." path elements, so that the
// error for "../etc/passwd" says "unknown" without looking it up.
func validZoneName(name string) bool {
	if len(name) > maxZoneName {
		return false
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			if elem := name[start:i]; elem == "" || elem == "." || elem == ".." {
				return false
			}
			start = i + 1
			continue
		}
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_' || c == '-' || c == '+' || c == '.':
		default:
			return false
		}
	}
	return true
}

func indexZones() {
	r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
	if err != nil {
		zoneIndexErr = err
		return
	}
	zoneIndex = make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		zoneIndex[f.Name] = f
	}
}

// maxZoneFile bounds what is read for one zone (the largest is a few kilobytes).
const maxZoneFile = 1 << 20

func readZipFile(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxZoneFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxZoneFile {
		return nil, errors.New("zone file too large")
	}
	return data, nil
}

// The zoned arithmetic below works on zone periods: maximal stretches of time with
// one UTC offset, as time.Time.ZoneBounds reports them. Within a period the wall
// clock is the instant plus the offset; at a period's start the wall clock jumps
// forward (a gap of wall times that never happen) or back (wall times that happen
// twice). Everything is computed from the Location's rules, never from a clock.

// zonePeriod is [start, end) in Unix seconds with a constant offset (seconds east).
type zonePeriod struct {
	start, end, offset int64
}

// farPast and farFuture stand for a period that has no start or end; they leave
// room for adding offsets without overflow.
const (
	farPast   = math.MinInt64 / 4
	farFuture = math.MaxInt64 / 4
)

// maxZoneShift is more than any UTC offset (they stay within ±15 hours) and any
// jump of the wall clock (Samoa skipped a day): periods that start this long before
// an instant cannot hold a wall time near it.
const maxZoneShift = 30 * 3600

// maxZonePeriods bounds the walks over neighbouring periods; a few suffice.
const maxZonePeriods = 16

// periodAt returns the zone period holding the instant sec.
func periodAt(loc *time.Location, sec int64) zonePeriod {
	t := time.Unix(sec, 0).In(loc)
	_, offset := t.Zone()
	p := zonePeriod{start: farPast, end: farFuture, offset: int64(offset)}
	start, end := t.ZoneBounds()
	if !start.IsZero() {
		p.start = start.Unix()
	}
	if !end.IsZero() {
		p.end = end.Unix()
	}
	if p.end <= sec {
		// Past a zone's last listed transition Go derives offsets from its POSIX TZ
		// rule, and (Go 1.26) ends a leap year's last period 365 days after the
		// year began: at 00:00 UTC on December 31st, so that the 31st itself gets
		// a period that ended before it. That day has the same offset as the rest
		// of the period; it ends where the next year begins.
		p.start, p.end = p.end, p.end+86400
		if p.end <= sec { // not seen; keeps callers walking forward regardless
			p.start, p.end = sec, sec+1
		}
	}
	p.start = min(p.start, sec)
	return p
}

// periodAfter returns the period that follows p (p itself if p never ends).
func periodAfter(loc *time.Location, p zonePeriod) zonePeriod {
	if p.end >= farFuture {
		return p
	}
	return periodAt(loc, p.end)
}

// wallReachedBefore returns the latest wall time (Unix seconds read as wall clock)
// shown before period p began, or farPast. Wall times below it have happened
// already when p starts: after a fall-back, p's first hour repeats them.
func wallReachedBefore(loc *time.Location, p zonePeriod) int64 {
	reached, origin := int64(farPast), p.start
	for i := 0; i < maxZonePeriods && p.start > farPast; i++ {
		q := periodAt(loc, p.start-1)
		reached = max(reached, q.end+q.offset)
		if q.start <= origin-maxZoneShift {
			break // older periods' wall clocks stayed below this one's
		}
		p = q
	}
	return reached
}

// wallToInstant returns when wall-clock minute m (minutes since 1970-01-01T00:00 as
// a wall clock reads it) takes effect in loc, and the first minute from m on that
// is visible: shown by the clock for some time.
//
//   - A wall time that happens once: that instant; m is visible.
//   - One that happens twice (fall back): the first occurrence; m is visible.
//   - One that never happens (spring forward): the instant of the jump, which is
//     also when the first wall time after the gap takes effect. Minutes wholly
//     inside the gap are never shown, so the visible minute returned is the one
//     holding the wall time the clock jumps to.
func wallToInstant(loc *time.Location, m int64) (sec, visible int64) {
	wall := m * 60
	p := periodAt(loc, wall-maxZoneShift)
	for i := 0; i < 4*maxZonePeriods; i++ {
		if instant := wall - p.offset; instant < p.end {
			if instant >= p.start {
				return instant, m // the earliest period showing this wall time
			}
			// The previous period ended below this wall time and p starts above
			// it: the clock jumped over it at p.start.
			return p.start, max(m, floorDiv(p.start+p.offset, 60))
		}
		p = periodAfter(loc, p)
	}
	return wall - p.offset, m // not reached: periods are hours long at least
}

// instantToWall returns the wall-clock minute whose window is in force at the
// instant sec, and the instant at which that minute began on the clock as it reads
// at sec. The minute is the latest one that has taken effect (see wallToInstant):
// usually the minute the clock shows, but during the second pass of a repeated hour
// it is the last minute of that hour, whose first occurrence has passed.
func instantToWall(loc *time.Location, sec int64) (m, minuteStart int64) {
	p := periodAt(loc, sec)
	wall := sec + p.offset
	m = floorDiv(wall, 60)
	minuteStart = max(sec-floorMod(wall, 60), p.start)
	for i := 0; i < maxZonePeriods && p.start > sec-maxZoneShift && p.start > farPast; i++ {
		q := periodAt(loc, p.start-1)
		// q's last wall minute took effect inside q, before sec.
		m = max(m, floorDiv(q.end+q.offset-1, 60))
		p = q
	}
	return m, minuteStart
}
