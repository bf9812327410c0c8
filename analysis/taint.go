package analysis

// Once row-level data has entered the worker, every API call it makes may
// have been chosen from those rows: its parameters (an age bound, a date,
// a title), which of the handles made earlier it names, whether it is made
// at all and how many times. A result is then a channel for the rows even
// though every number in it passed the rules: the choice among 100 cohorts
// made before the rows came, one result per cell, gave a person's BMI and
// a diagnosis date two digits at a time (review 38). So from taint on
// every result is computed, judged and held for review instead of shown,
// and none is recorded in the release history unless a reviewer approves
// it (release.Decision.Held). A restart clears taint.

// heldCall reports whether a call's results must be held: the worker is
// tainted.
func (s *Server) heldCall() bool { return s.sess.Tainted() != "" }
