package schedule

import (
	"testing"
	"time"
)

func benchmarkDeadline(b *testing.B, text string, whence time.Time) {
	s, err := Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Deadline(whence); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeadline(b *testing.B) {
	b.Run("always active", func(b *testing.B) {
		benchmarkDeadline(b, "* * * * * 3600", at(2015, 1, 7, 15, 0, 0))
	})
	b.Run("README inside a window", func(b *testing.B) {
		benchmarkDeadline(b, readmeSchedule, at(2015, 1, 7, 15, 0, 0))
	})
	b.Run("README into the weekend", func(b *testing.B) {
		benchmarkDeadline(b, readmeSchedule, at(2015, 1, 9, 23, 59, 30))
	})
	b.Run("Saturday gap", func(b *testing.B) {
		benchmarkDeadline(b, saturdayGapSchedule, at(2015, 1, 9, 23, 59, 30))
	})
	b.Run("February 29th seven years away", func(b *testing.B) {
		benchmarkDeadline(b, "0 0 29 2 * 60", at(2097, 3, 1, 0, 0, 0))
	})
	b.Run("Friday the 13th months away", func(b *testing.B) {
		benchmarkDeadline(b, "0 12 13 * fri 60", at(2015, 3, 14, 0, 0, 0))
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, text string }{
		{"always active", "* * * * * 3600"},
		{"README", readmeSchedule},
		{"original test schedule", originalTestSchedule},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bm.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPlayOut(b *testing.B) {
	s, err := Parse(readmeSchedule)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PlayOut(at(2015, 1, 7, 15, 0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
