package synth

import (
	"math"
	"strconv"

	"enclave/datasets/synth/internal/pq"
)

// rowBuf accumulates the rows of one table, either as CSV text (b) or, when
// rg is set, as Parquet columns. Fields are appended in column order; end
// checks the count so a generator bug cannot shift columns.
type rowBuf struct {
	b    []byte
	rg   *pq.RowGroup
	ncol int // columns per row
	nf   int // fields in the current row
	rows int64
}

func (r *rowBuf) sep() {
	if r.nf > 0 && r.rg == nil {
		r.b = append(r.b, ',')
	}
	r.nf++
}

// col returns the Parquet column of the field being appended.
func (r *rowBuf) col() *pq.ColBuf { return r.rg.Col(r.nf - 1) }

// int appends an integer field.
func (r *rowBuf) int(v int64) *rowBuf {
	r.sep()
	if r.rg != nil {
		if c := r.col(); c.Type() == pq.Double {
			c.Float(float64(v))
		} else {
			c.Int(v)
		}
		return r
	}
	r.b = strconv.AppendInt(r.b, v, 10)
	return r
}

// null appends an empty (NULL) field.
func (r *rowBuf) null() *rowBuf {
	r.sep()
	if r.rg != nil {
		r.col().Null()
	}
	return r
}

// str appends a string field without quoting: the generator's own strings
// hold no commas, quotes or newlines (use text for other strings). A
// string written to a Parquet DATE column must be YYYY-MM-DD.
func (r *rowBuf) str(s string) *rowBuf {
	r.sep()
	if r.rg != nil {
		// An empty CSV field reads as NULL; so is an empty string here.
		if c := r.col(); s == "" {
			c.Null()
		} else {
			switch c.Type() {
			case pq.Date:
				c.Int(int64(parseDay(s)))
			case pq.String:
				c.Str(s)
			default:
				panic("synth: string " + strconv.Quote(s) + " written to a non-string column")
			}
		}
		return r
	}
	r.b = append(r.b, s...)
	return r
}

// text appends a string field, quoted in CSV if it needs to be.
func (r *rowBuf) text(s string) *rowBuf {
	if r.rg != nil {
		return r.str(s)
	}
	return r.str(quoteCSV(s))
}

// bool appends true or false.
func (r *rowBuf) bool(v bool) *rowBuf {
	if r.rg != nil {
		r.sep()
		if v {
			r.col().Int(1)
		} else {
			r.col().Int(0)
		}
		return r
	}
	if v {
		return r.str("true")
	}
	return r.str("false")
}

// float appends v with prec digits after the point (trailing zeros kept so
// the text is stable).
func (r *rowBuf) float(v float64, prec int) *rowBuf {
	r.sep()
	if math.IsNaN(v) || math.IsInf(v, 0) {
		if r.rg != nil {
			r.col().Null()
		}
		return r
	}
	// Round first so that the CSV text and the Parquet double are the
	// same number: the nearest double to an integer over 10^prec prints
	// back as exactly that decimal.
	v = math.Round(v*pow10[prec]) / pow10[prec]
	if r.rg != nil {
		r.col().Float(v)
		return r
	}
	r.b = strconv.AppendFloat(r.b, v, 'f', prec, 64)
	return r
}

var pow10 = [...]float64{1, 10, 100, 1000, 1e4, 1e5, 1e6}

// date appends a day number (days since 1970-01-01) as YYYY-MM-DD.
func (r *rowBuf) date(d day) *rowBuf {
	r.sep()
	if r.rg != nil {
		r.col().Int(int64(d))
		return r
	}
	r.b = d.append(r.b)
	return r
}

// datetime appends seconds since the epoch as "YYYY-MM-DD HH:MM:SS".
func (r *rowBuf) datetime(sec int64) *rowBuf {
	r.sep()
	if r.rg != nil {
		r.col().Int(sec * 1_000_000)
		return r
	}
	r.b = appendDatetime(r.b, sec)
	return r
}

// end closes the row.
func (r *rowBuf) end() {
	if r.nf != r.ncol {
		panic("synth: row has " + strconv.Itoa(r.nf) + " fields, table has " + strconv.Itoa(r.ncol))
	}
	if r.rg != nil {
		r.rg.EndRow()
	} else {
		r.b = append(r.b, '\n')
	}
	r.nf = 0
	r.rows++
}

// day is a calendar date as days since 1970-01-01.
type day int32

// mkday returns the day number of y-m-d (proleptic Gregorian).
func mkday(y, m, d int) day {
	// Howard Hinnant's days_from_civil.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return day(era*146097 + doe - 719468)
}

// parseDay parses YYYY-MM-DD (the generator's own constants).
func parseDay(s string) day {
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	return mkday(y, m, d)
}

// civil returns year, month, day of d.
func (d day) civil() (int, int, int) {
	z := int(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, dd
}

func (d day) append(b []byte) []byte {
	y, m, dd := d.civil()
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+dd/10), byte('0'+dd%10))
	return b
}

// secs returns the epoch seconds of d at hh:mm.
func (d day) at(hh, mm int) int64 { return int64(d)*86400 + int64(hh*3600+mm*60) }

func appendDatetime(b []byte, sec int64) []byte {
	d := day(floorDiv(sec, 86400))
	s := int(sec - int64(d)*86400)
	b = d.append(b)
	h, m, ss := s/3600, s/60%60, s%60
	return append(b, ' ', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+ss/10), byte('0'+ss%10))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
