package sqlagg

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// %sql on a BigQuery workspace. The researcher writes GoogleSQL; the
// checks above are the same ones, on the same tree:
//
//  1. googleToDuck turns the few lexical forms in which GoogleSQL and
//     DuckDB differ into DuckDB's (`name` → "name", "text" → 'text',
//     '\n' escapes, # comments, SAFE_CAST → TRY_CAST), so that DuckDB's
//     parser reads the query;
//  2. normalizeGoogle rewrites the GoogleSQL functions that DuckDB spells
//     differently (DATE_DIFF(a, b, DAY), SAFE_DIVIDE, EXTRACT(YEAR …),
//     LOGICAL_AND, DIV, SAFE. prefixes, FLOAT64/NUMERIC casts) into
//     DuckDB's, and drops a qualifier that names the tier's own dataset;
//  3. the tree is checked, guarded and extended exactly as on DuckDB, and
//     DuckDB binds it against empty tables of the tier's schema (unknown
//     tables, columns and types are refused there, and the output
//     columns are named as on a DuckDB workspace);
//  4. render (googlesql_render.go) writes the rewritten tree as GoogleSQL.
//
// The plan's items, kinds and hidden columns are therefore the ones a
// DuckDB workspace gets for the same query, and the release rules judge
// the same cells.

// GoogleSQL says how a tier is reached in BigQuery.
type GoogleSQL struct {
	// Table is the GoogleSQL reference of a tier table
	// (`project.dataset.table`, quoted).
	Table func(name string) string
	// Qualifiers are the paths a researcher may write before a tier table
	// (dataset, project.dataset), lower case.
	Qualifiers [][]string
}

// googleToDuck rewrites the lexical forms of GoogleSQL that DuckDB reads
// otherwise. Text inside literals is kept; what cannot be carried over
// (raw, bytes and triple-quoted literals, unknown escapes) is refused.
func googleToDuck(q string) (string, error) {
	var b strings.Builder
	b.Grow(len(q) + 16)
	bad := func(what string) (string, error) {
		return "", refuse("syntax", "%s; %s", what, acceptedShape)
	}
	for i := 0; i < len(q); {
		ch := q[i]
		switch {
		case ch == '-' && i+1 < len(q) && q[i+1] == '-', ch == '#':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteByte(' ')
			i += j
		case ch == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return bad("a /* comment is not closed")
			}
			b.WriteByte(' ')
			i += j + 4
		case ch == '\'' || ch == '"':
			if strings.HasPrefix(q[i:], `'''`) || strings.HasPrefix(q[i:], `"""`) {
				return bad("triple-quoted strings are not accepted")
			}
			if i > 0 && isIdentByte(q[i-1]) {
				return bad("raw (r'…') and bytes (b'…') literals are not accepted")
			}
			s, n, err := googleString(q[i:])
			if err != nil {
				return "", err
			}
			b.WriteString("'" + strings.ReplaceAll(s, "'", "''") + "'")
			i += n
		case ch == '`':
			j := strings.IndexByte(q[i+1:], '`')
			if j < 0 {
				return bad("a `quoted name` is not closed")
			}
			name := q[i+1 : i+1+j]
			if name == "" || strings.ContainsAny(name, "\\\"\n") {
				return bad("a `quoted name` is empty or holds a backslash, double quote or line break")
			}
			// `project.dataset.table` is one quoted path in GoogleSQL.
			parts := strings.Split(name, ".")
			for k, p := range parts {
				if p == "" {
					return bad("a `quoted path` has an empty part")
				}
				if k > 0 {
					b.WriteByte('.')
				}
				b.WriteString(`"` + p + `"`)
			}
			i += j + 2
		case isIdentByte(ch) && (i == 0 || !isIdentByte(q[i-1])):
			j := i
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			word := q[i:j]
			if strings.EqualFold(word, "safe_cast") {
				word = "TRY_CAST"
			}
			b.WriteString(word)
			i = j
		default:
			b.WriteByte(ch)
			i++
		}
	}
	return b.String(), nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// googleString reads the GoogleSQL string literal at the start of q
// (quoted by its first byte, with backslash escapes) and returns its value
// and the literal's length.
func googleString(q string) (string, int, error) {
	quote := q[0]
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		c := q[i]
		switch {
		case c == quote:
			return b.String(), i + 1, nil
		case c == '\n':
			return "", 0, refuse("syntax", "a string literal runs past the end of its line; %s", acceptedShape)
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(q) {
			break
		}
		switch e := q[i]; e {
		case '\\', '\'', '"', '`', '?':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'u', 'U':
			n := 4
			if e == 'U' {
				n = 8
			}
			var r rune
			if i+n >= len(q) {
				return "", 0, refuse("syntax", "a \\u escape in a string literal is cut short; %s", acceptedShape)
			}
			if _, err := fmt.Sscanf(q[i+1:i+1+n], "%x", &r); err != nil || !utf8.ValidRune(r) {
				return "", 0, refuse("syntax", "a \\u escape in a string literal is not a character; %s", acceptedShape)
			}
			b.WriteRune(r)
			i += n
		default:
			return "", 0, refuse("syntax", "this escape in a string literal is not accepted (use \\\\, \\', \\\", \\n, \\t, \\r, \\uXXXX); %s", acceptedShape)
		}
	}
	return "", 0, refuse("syntax", "a string literal is not closed; %s", acceptedShape)
}

// datePartNames are the GoogleSQL date parts rendered in both dialects
// with the same meaning (boundaries crossed, calendar fields).
var datePartNames = map[string]bool{"day": true, "month": true, "quarter": true, "year": true}

// normalizeGoogle rewrites, in place, the GoogleSQL spellings DuckDB's
// parser read as something else into DuckDB's.
func normalizeGoogle(v any, g *GoogleSQL) error {
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			if err := normalizeGoogle(x, g); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := normalizeNode(t, g); err != nil {
			return err
		}
		for _, k := range sortedKeys(t) {
			if err := normalizeGoogle(t[k], g); err != nil {
				return err
			}
		}
	}
	return nil
}

func normalizeNode(m map[string]any, g *GoogleSQL) error {
	if str(m, "type") == "BASE_TABLE" {
		var path []string
		for _, k := range []string{"catalog_name", "schema_name"} {
			if s := str(m, k); s != "" {
				path = append(path, strings.ToLower(s))
			}
		}
		if len(path) > 0 {
			for _, q := range g.Qualifiers {
				if strings.Join(q, ".") == strings.Join(path, ".") {
					m["catalog_name"], m["schema_name"] = "", ""
					return nil
				}
			}
			return refuse("table", "a table is qualified by a dataset other than this workspace's; %s", msgTable)
		}
		return nil
	}
	switch str(m, "class") {
	case "CAST":
		ct := obj(m, "cast_type")
		if str(ct, "id") == "UNBOUND" {
			switch strings.ToLower(str(obj(ct, "type_info"), "name")) {
			case "float64", "numeric", "bignumeric", "decimal", "bigdecimal":
				m["cast_type"] = map[string]any{"id": "DOUBLE", "type_info": nil}
			case "int64":
				m["cast_type"] = map[string]any{"id": "BIGINT", "type_info": nil}
			}
		}
		return nil
	case "FUNCTION":
	default:
		return nil
	}
	if flag(m, "is_operator") {
		return nil
	}
	if strings.EqualFold(str(m, "schema"), "safe") {
		// SAFE.f(x) is f(x) made total: every function that reads data is
		// made total here anyway (guard), and rendered so.
		m["schema"] = ""
	}
	name := strings.ToLower(str(m, "function_name"))
	ch := arr(m, "children")
	switch name {
	case "safe_divide":
		if len(ch) == 2 {
			m["function_name"], m["is_operator"] = "/", true
		}
	case "div":
		if len(ch) == 2 {
			m["function_name"], m["is_operator"] = "//", true
		}
	case "countif":
		// GoogleSQL's COUNTIF is 0 where no row counts; DuckDB's count_if
		// is NULL where no value is set: coalesce(count_if(c), 0).
		inner := make(map[string]any, len(m))
		for k, v := range m {
			inner[k] = v
		}
		inner["function_name"], inner["alias"] = "count_if", ""
		zero := map[string]any{"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": noLocation,
			"value": map[string]any{"type": map[string]any{"id": "INTEGER", "type_info": nil}, "is_null": false, "value": json.Number("0")}}
		alias := m["alias"]
		clear(m)
		m["class"], m["type"], m["alias"], m["query_location"] = "OPERATOR", "OPERATOR_COALESCE", alias, noLocation
		m["children"] = []any{inner, zero}
	case "logical_and":
		m["function_name"] = "bool_and"
	case "logical_or":
		m["function_name"] = "bool_or"
	case "date_diff", "datetime_diff", "timestamp_diff":
		// GoogleSQL: DATE_DIFF(end, start, PART); DuckDB:
		// date_diff('part', start, end).
		if _, duck := constString(ch[0]); len(ch) != 3 || duck {
			return nil // DuckDB's spelling, or not a DATE_DIFF the renderer knows
		}
		names := lowerNames(asMap(ch[2]))
		if str(asMap(ch[2]), "class") != "COLUMN_REF" || len(names) != 1 || !datePartNames[names[0]] {
			return refuse("function", "%s takes DAY, MONTH, QUARTER or YEAR as its part here", strings.ToUpper(name))
		}
		m["function_name"] = "date_diff"
		m["children"] = []any{varcharConst(names[0]), ch[1], ch[0]}
	case "date_part", "datepart":
		// EXTRACT(YEAR FROM d) is year(d), which may be a group key.
		if len(ch) == 2 {
			if p, ok := constString(ch[0]); ok && strings.EqualFold(p, "year") {
				m["function_name"], m["children"] = "year", []any{ch[1]}
			}
		}
	}
	return nil
}

func varcharConst(s string) map[string]any {
	return map[string]any{"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": noLocation,
		"value": map[string]any{"type": map[string]any{"id": "VARCHAR", "type_info": nil}, "is_null": false, "value": s}}
}

// constString reads a text constant.
func constString(v any) (string, bool) {
	m := asMap(v)
	if str(m, "class") != "CONSTANT" {
		return "", false
	}
	val := obj(m, "value")
	if flag(val, "is_null") || str(obj(val, "type"), "id") != "VARCHAR" {
		return "", false
	}
	s, ok := val["value"].(string)
	return s, ok
}

// numberText is a JSON number as written.
func numberText(v any) (string, bool) {
	n, ok := v.(json.Number)
	return string(n), ok
}
