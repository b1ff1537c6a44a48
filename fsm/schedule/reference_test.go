package schedule

import (
	"errors"
	"math/bits"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// This file holds a slow reference: the original's algorithms (schedule_iter,
// calculate_periodicity_delta, periodicity_schedule) ported literally, stepping a
// minute at a time and reading calendar fields from time.Time. The fast code must
// agree with it on random schedules.

var errRefTooFar = errors.New("reference gave up: too many minutes")

// refActive returns the directives active in the minute starting at t.
func refActive(s *Schedule, t time.Time) uint64 {
	y, mo, d := t.Date()
	length := time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day()
	w := uint(t.Weekday())
	var set uint64
	for i, dir := range s.dirs {
		weekdayOK := dir.weekdays&(1<<w) != 0 || (d > length-7 && dir.lastWeekdays&(1<<w) != 0)
		if dir.months&(1<<uint(mo)) != 0 && dir.days[length-28]&(1<<uint(d)) != 0 && weekdayOK &&
			dir.hours&(1<<uint(t.Hour())) != 0 && dir.minutes&(1<<uint(t.Minute())) != 0 {
			set |= 1 << uint(i)
		}
	}
	return set
}

// refKey is the original's key of a minute: -1 for none; an overlap is an error.
func refKey(s *Schedule, t time.Time) (int, uint64, error) {
	set := refActive(s, t)
	switch bits.OnesCount64(set) {
	case 0:
		return -1, 0, nil
	case 1:
		return s.dirs[bits.TrailingZeros64(set)].key, set, nil
	}
	return 0, 0, ErrOverlap
}

type refWindow struct {
	start, end time.Time // end: start of the last minute, as the original yields
	key        int       // -1: inactive
	rules      uint64
	gapRule    bool // the original's None in the window's rules
}

// refIter is schedule_iter(start, multi=False) without an end, minute by minute.
type refIter struct {
	s            *Schedule
	currentStart time.Time
	currentKey   int
	currentRules uint64
	currentGap   bool
	nextStart    time.Time
	budget       int
}

func newRefIter(s *Schedule, start time.Time, budget int) (*refIter, error) {
	start = start.Truncate(time.Minute)
	k, set, err := refKey(s, start)
	if err != nil {
		return nil, err
	}
	return &refIter{s: s, currentStart: start, currentKey: k, currentRules: set,
		nextStart: start, budget: budget}, nil
}

func (it *refIter) next() (refWindow, error) {
	for ; it.budget > 0; it.budget-- {
		k, set, err := refKey(it.s, it.nextStart)
		if err != nil {
			return refWindow{}, err
		}
		if k != it.currentKey {
			win := refWindow{it.currentStart, it.nextStart.Add(-time.Minute), it.currentKey,
				it.currentRules, it.currentGap}
			it.currentStart, it.currentKey, it.currentRules = it.nextStart, k, set
			it.currentGap = k < 0
			it.nextStart = it.nextStart.Add(time.Minute)
			return win, nil
		}
		it.currentRules |= set
		it.nextStart = it.nextStart.Add(time.Minute)
	}
	return refWindow{}, errRefTooFar
}

func (s *Schedule) refPeriod(k int) time.Duration { return s.keys[k].period }

// refDeadline is calculate_periodicity_delta (plus whence).
func refDeadline(s *Schedule, whence time.Time, budget int) (time.Time, error) {
	it, err := newRefIter(s, whence, budget)
	if err != nil {
		return time.Time{}, err
	}
	current, err := it.next()
	if err != nil {
		return time.Time{}, err
	}
	if current.key < 0 {
		next, err := it.next()
		if err != nil {
			return time.Time{}, err
		}
		return next.start.Add(s.refPeriod(next.key)), nil
	}
	if d := whence.Add(s.refPeriod(current.key)); !d.After(current.end) {
		return d, nil
	}
	next, err := it.next()
	if err != nil {
		return time.Time{}, err
	}
	if next.key < 0 {
		next, err = it.next()
		if err != nil {
			return time.Time{}, err
		}
		return next.start.Add(s.refPeriod(next.key)), nil
	}
	d := whence.Add(s.refPeriod(next.key))
	if next.start.After(d) {
		return next.start, nil
	}
	return d, nil
}

// refPlayOut is periodicity_schedule.
func refPlayOut(s *Schedule, start time.Time, budget int) ([]Window, error) {
	toWindow := func(r refWindow) Window {
		if r.key < 0 {
			return Window{Start: r.start, End: r.end}
		}
		return Window{Start: r.start, End: r.end, Seconds: s.keys[r.key].seconds, Active: true}
	}
	// Until all rules are used; a gap window after the first counts as a rule.
	it, err := newRefIter(s, start, budget)
	if err != nil {
		return nil, err
	}
	var untilAll []Window
	var used uint64
	usedGap := false
	for bits.OnesCount64(used)+btoi(usedGap) < len(s.dirs) {
		r, err := it.next()
		if err != nil {
			return nil, err
		}
		untilAll = append(untilAll, toWindow(r))
		used |= r.rules
		usedGap = usedGap || r.gapRule
	}
	// A week, cut at its end: schedule_iter(start, end) minute by minute.
	start = start.Truncate(time.Minute)
	end := start.Add(playOutWeek)
	var week []Window
	currentStart := start
	currentKey, _, err := refKey(s, start)
	if err != nil {
		return nil, err
	}
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		k, _, err := refKey(s, t)
		if err != nil {
			return nil, err
		}
		if k != currentKey {
			week = append(week, toWindow(refWindow{start: currentStart, end: t.Add(-time.Minute), key: currentKey}))
			currentStart, currentKey = t, k
		}
	}
	week = append(week, toWindow(refWindow{start: currentStart, end: end, key: currentKey}))
	if len(untilAll) > len(week) {
		return untilAll, nil
	}
	return week, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func randomSchedule(rng *rand.Rand) string {
	pick := func(options ...string) string { return options[rng.Intn(len(options))] }
	n := 1 + rng.Intn(3)
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, strings.Join([]string{
			pick("*", "*", "0-29", "30-59", "*/15", "0", "10-20,40", "59"),
			pick("*", "*", "0-11", "12-23", "9-17", "*/6", "3", "22-23,0-1"),
			pick("*", "*", "*", "1-15", "L", "z1", "*/2", "13", "28-31", "?"),
			pick("*", "*", "*", "jan-jun", "*/2", "feb", "dec"),
			pick("*", "*", "*", "mon-fri", "sat,sun", "l5", "0", "7", "?"),
			pick("60", "300", "90", "60", "3600", "86400", "0.5", "60.0"),
		}, " "))
	}
	return strings.Join(lines, "; ")
}

func TestAgainstReference(t *testing.T) {
	const budget = 50 * 24 * 60 // minutes the reference may scan per iteration
	rng := rand.New(rand.NewSource(1))
	var compared, overlaps, skipped, playOuts, playOutOverlaps, invalid int
	for i := 0; i < 300; i++ {
		text := randomSchedule(rng)
		s, err := Parse(text)
		if err != nil {
			if !strings.Contains(err.Error(), "never active") {
				t.Fatalf("Parse(%q): %v", text, err)
			}
			continue
		}
		base := at(2015, 1, 1, 0, 0, 0)
		whence := base.Add(time.Duration(rng.Int63n(int64(2 * 365 * 24 * time.Hour))))
		switch rng.Intn(3) { // also land near hour boundaries, where windows change
		case 0:
			whence = whence.Truncate(time.Hour).Add(-time.Duration(rng.Intn(120)) * time.Second)
		case 1:
			whence = whence.Truncate(time.Minute)
		}
		whence = whence.Truncate(time.Millisecond)

		want, wantErr := refDeadline(s, whence, budget)
		if errors.Is(wantErr, errRefTooFar) {
			skipped++
			continue
		}
		got, err := s.Deadline(whence)
		if (err != nil) != (wantErr != nil) || (err != nil && !errors.Is(err, ErrOverlap)) {
			t.Errorf("%q at %v: Deadline error = %v, reference error = %v", text, whence, err, wantErr)
			continue
		}
		if err == nil && !got.Equal(want) {
			t.Errorf("%q at %v: Deadline = %v, reference = %v", text, whence, got, want)
		}
		if err != nil {
			overlaps++
		}
		compared++

		wantWindows, wantErr := refPlayOut(s, whence, budget)
		if errors.Is(wantErr, errRefTooFar) {
			continue
		}
		gotWindows, err := s.PlayOut(whence)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q at %v: PlayOut error = %v, reference error = %v", text, whence, err, wantErr)
			continue
		}
		if diff := diffWindows(gotWindows, wantWindows); diff != "" {
			t.Errorf("%q at %v: PlayOut:\n%s", text, whence, diff)
		}
		playOuts++
		if err != nil {
			playOutOverlaps++
		}
		if s.Validate() != nil {
			invalid++
		} else if err != nil {
			t.Errorf("%q: PlayOut found an overlap (%v) that Validate does not", text, err)
		}
	}
	t.Logf("compared %d deadlines (%d overlaps), skipped %d; %d play-outs (%d overlaps); %d overlapping schedules",
		compared, overlaps, skipped, playOuts, playOutOverlaps, invalid)
	if compared < 200 {
		t.Errorf("only %d cases compared", compared)
	}
}
