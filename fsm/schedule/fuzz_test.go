package schedule

import (
	"errors"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		readmeSchedule, serviceSchedule, saturdayGapSchedule, originalTestSchedule,
		"* * * * * 60", "0 0 29 2 * 60", "0 12 13 * fri 60", "0 0 L,z1 * * 1_0.5e1",
		"*/15 */6 ? jan-jun/2 l1-5 30", "* * * * sat,sun 60 ; * 0-11 * * * 90", "",
		"# only a comment", "* * * * 1200", "* * * * * nan",
	} {
		f.Add(seed)
	}
	whence := time.Date(2015, 1, 9, 23, 59, 30, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", text, err)
			}
			return
		}
		valid := s.Validate() == nil
		deadline, err := s.Deadline(whence)
		switch {
		case err != nil && (valid || !errors.Is(err, ErrOverlap)):
			t.Fatalf("Deadline(%q) = %v with Validate ok = %v", text, err, valid)
		case err == nil && deadline.Before(whence):
			t.Fatalf("Deadline(%q) = %v, before %v", text, deadline, whence)
		}
		windows, err := s.PlayOut(whence)
		if err != nil {
			if valid || !errors.Is(err, ErrOverlap) {
				t.Fatalf("PlayOut(%q) = %v with Validate ok = %v", text, err, valid)
			}
			return
		}
		for i := 1; i < len(windows); i++ {
			if !windows[i].Start.Equal(windows[i-1].End.Add(time.Minute)) {
				t.Fatalf("PlayOut(%q): window %d does not follow window %d", text, i, i-1)
			}
		}
	})
}
