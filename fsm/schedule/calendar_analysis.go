package schedule

import (
	"fmt"
	"math/bits"
)

// Whole-calendar questions are answered by looking at every kind of month
// (monthKinds) starting on every weekday: that is every kind of day there is, so the
// answers hold for all time, and cost a few hundred mask operations.

// hasOverlappingPair reports whether two directives are ever active in one minute.
func (s *Schedule) hasOverlappingPair() bool {
	a, _ := s.firstOverlappingPair()
	return a >= 0
}

// firstOverlappingPair returns the first pair of directives that are active in a
// same minute on some day, or -1, -1.
func (s *Schedule) firstOverlappingPair() (int, int) {
	for i := range s.dirs {
		for j := i + 1; j < len(s.dirs); j++ {
			if overlapSomewhere(&s.dirs[i], &s.dirs[j]) {
				return i, j
			}
		}
	}
	return -1, -1
}

func overlapSomewhere(a, b *directive) bool {
	if a.hours&b.hours == 0 || a.minutes&b.minutes == 0 {
		return false
	}
	for _, k := range monthKinds {
		for first := 0; first < 7; first++ {
			if a.daysIn(k.month, k.length, first)&b.daysIn(k.month, k.length, first) != 0 {
				return true
			}
		}
	}
	return false
}

// coversEveryMinuteWithOneKey reports whether the directives, which must not
// overlap, share one key and together cover every minute of every day: then the
// schedule is one window that never ends.
func (s *Schedule) coversEveryMinuteWithOneKey() bool {
	total := 0
	for i := range s.dirs {
		if s.dirs[i].key != s.dirs[0].key {
			return false
		}
		total += s.dirs[i].minutesPerDay
	}
	if total < minutesPerDay {
		return false
	}
	for _, k := range monthKinds {
		for first := 0; first < 7; first++ {
			// Days on which an all-day directive is active are covered (nothing else
			// is active then: no overlaps); add up minutes for the other days.
			var fullDays uint32
			var covered [32]int
			for i := range s.dirs {
				days := s.dirs[i].daysIn(k.month, k.length, first)
				if s.dirs[i].minutesPerDay == minutesPerDay {
					fullDays |= days
					continue
				}
				for ; days != 0; days &= days - 1 {
					covered[bits.TrailingZeros32(days)] += s.dirs[i].minutesPerDay
				}
			}
			for rest := daysUpTo(k.length) &^ fullDays; rest != 0; rest &= rest - 1 {
				if covered[bits.TrailingZeros32(rest)] != minutesPerDay {
					return false
				}
			}
		}
	}
	return true
}

// overlapError describes two directives active at once; when is "" or a time.
func overlapError(a, b, when string) error {
	if when == "" {
		return fmt.Errorf("%w: %w: %q and %q can be active at the same time", ErrInvalid, ErrOverlap, a, b)
	}
	return fmt.Errorf("%w: %w: %q and %q are both active at %s", ErrInvalid, ErrOverlap, a, b, when)
}
