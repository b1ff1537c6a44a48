package schedule

import (
	"math"
	"math/bits"
)

// stateKind is what is going on in a minute.
type stateKind int

const (
	gap     stateKind = iota // no directive active
	active                   // exactly one directive active
	overlap                  // two or more directives active
)

// state is a minute's state; minutes with equal states belong to one window.
type state struct {
	kind stateKind
	key  int // the active directive's key when kind == active
}

// noEnd marks a run that does not end within a whole calendar cycle, i.e. never.
const noEnd = math.MaxInt64

// run is a maximal stretch of minutes [start, end) with one state.
type run struct {
	start, end int64 // minutes since the epoch; end == noEnd if it never ends
	state      state
	// seen has a bit for each directive active somewhere in the run.
	seen uint64
}

func (r run) ends() bool { return r.end != noEnd }

// activeOn returns the set of directives active on some minutes of a day.
func (s *Schedule) activeOn(c *dayInfo) uint64 {
	var set uint64
	for i := range s.dirs {
		if s.dirs[i].activeOnDay(c) {
			set |= 1 << uint(i)
		}
	}
	return set
}

// stateAt returns the state of a minute of a day whose active directives are set.
func (s *Schedule) stateAt(set uint64, minuteOfDay int) state {
	st := state{kind: gap}
	for ; set != 0; set &= set - 1 {
		d := &s.dirs[bits.TrailingZeros64(set)]
		if !d.activeAt(minuteOfDay) {
			continue
		}
		if st.kind != gap {
			return state{kind: overlap}
		}
		st = state{kind: active, key: d.key}
	}
	return st
}

// stateAtMinute returns the state of a minute since the epoch.
func (s *Schedule) stateAtMinute(minute int64) state {
	day := floorDiv(minute, minutesPerDay)
	c := dayInfoOf(day)
	return s.stateAt(s.activeOn(&c), int(minute-day*minutesPerDay))
}

// runFrom returns the run of minutes that starts at minute t and keeps t's state.
// For an overlap it returns at once (the caller reports it).
func (s *Schedule) runFrom(t int64) run {
	day := floorDiv(t, minutesPerDay)
	from := int(t - day*minutesPerDay)
	c := dayInfoOf(day)
	set := s.activeOn(&c)
	r := run{start: t, state: s.stateAt(set, from)}
	if r.state.kind == overlap {
		r.end = t + 1
		return r
	}
	if s.constant {
		r.end, r.seen = noEnd, s.all
		return r
	}
	end, seen := s.scanDay(set, r.state, from)
	r.seen |= seen
	if end < minutesPerDay {
		r.end = day*minutesPerDay + int64(end)
		return r
	}

	// The rest of the first day has the state. Look at the following days; a day
	// whose active set already proved to keep the state all day long is skipped,
	// together with every following day with the same set, in month-sized jumps.
	var uniform [8]uint64
	nUniform, nextSlot := 0, 0
	limit := day + cycleDays + 1
	for day++; day <= limit; {
		c = dayInfoOf(day)
		set = s.activeOn(&c)
		if containsSet(uniform[:nUniform], set) {
			day = s.nextDayWithOtherSet(day, limit, set)
			continue
		}
		end, seen = s.scanDay(set, r.state, 0)
		r.seen |= seen
		if end < minutesPerDay {
			r.end = day*minutesPerDay + int64(end)
			return r
		}
		uniform[nextSlot] = set
		nextSlot = (nextSlot + 1) % len(uniform)
		nUniform = min(nUniform+1, len(uniform))
		day++
	}
	r.end = noEnd
	return r
}

func containsSet(sets []uint64, set uint64) bool {
	for _, x := range sets {
		if x == set {
			return true
		}
	}
	return false
}

// scanDay looks at a day whose active directives are set, from minute `from`, and
// returns the first minute whose state is not st (minutesPerDay if none), with the
// directives active before it.
func (s *Schedule) scanDay(set uint64, st state, from int) (int, uint64) {
	const allMinutes = uint64(1)<<60 - 1
	var seen uint64
	for h := from / 60; h < 24; h++ {
		var activeMinutes, twice, sameKey uint64
		for rest := set; rest != 0; rest &= rest - 1 {
			d := &s.dirs[bits.TrailingZeros64(rest)]
			if d.hours&(1<<uint(h)) == 0 {
				continue
			}
			twice |= activeMinutes & d.minutes
			activeMinutes |= d.minutes
			if st.kind == active && d.key == st.key {
				sameKey |= d.minutes
			}
		}
		// different has a bit for each minute of the hour whose state is not st.
		different := activeMinutes
		if st.kind == active {
			different = (^sameKey | twice) & allMinutes
		}
		window := allMinutes
		if h == from/60 {
			window &^= uint64(1)<<uint(from%60) - 1
		}
		different &= window
		if st.kind == active {
			upTo := window
			if different != 0 {
				upTo &= uint64(1)<<uint(bits.TrailingZeros64(different)) - 1
			}
			for rest := set; rest != 0; rest &= rest - 1 {
				i := bits.TrailingZeros64(rest)
				if s.dirs[i].hours&(1<<uint(h)) != 0 && s.dirs[i].minutes&upTo != 0 {
					seen |= 1 << uint(i)
				}
			}
		}
		if different != 0 {
			return h*60 + bits.TrailingZeros64(different), seen
		}
	}
	return minutesPerDay, seen
}

// nextDayWithOtherSet returns the first day from `day` on (at most limit) whose set
// of active directives is not set, looking at a month at a time.
func (s *Schedule) nextDayWithOtherSet(day, limit int64, set uint64) int64 {
	c := dayInfoOf(day)
	firstOfMonth := day - int64(c.dayOfMonth-1)
	fromDay := c.dayOfMonth
	year, month, first := c.year, c.month, c.first
	for firstOfMonth <= limit {
		length := monthLength(year, month)
		var differs uint32
		for i := range s.dirs {
			days := s.dirs[i].daysIn(month, length, first)
			if set&(1<<uint(i)) != 0 {
				days = ^days
			}
			differs |= days
		}
		differs &= daysUpTo(length) &^ daysUpTo(fromDay-1)
		if differs != 0 {
			return firstOfMonth + int64(bits.TrailingZeros32(differs)-1)
		}
		firstOfMonth += int64(length)
		first = (first + length) % 7
		fromDay = 1
		if month++; month > 12 {
			month, year = 1, year+1
		}
	}
	return limit + 1
}
