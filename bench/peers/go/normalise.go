package main

// The ingress' normaliser (src/cdr/normalise.ts, src/cdr/parse-value.ts) and
// content hash (src/dedup/content-hash.ts) in Go. The field list (Avro name,
// kind, the spellings it matches, whether "NA" is a value) comes from
// src/cdr/fields.ts through a JSON file the bench writes, so the two cannot
// drift; the Avro record type is built from it at start (reflect.StructOf),
// one pointer field per nullable field, as a hand-written struct would be.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/hamba/avro/v2"
)

type ingestValue struct {
	Feed       string `avro:"feed"`
	Source     string `avro:"source"`
	ReceivedAt int64  `avro:"received_at"`
	DeliveryID string `avro:"delivery_id"`
}

type kind uint8

const (
	kindString kind = iota
	kindLong
	kindBoolean
	kindTime
)

type fieldSpec struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	MatchKeys []string `json:"matchKeys"`
	NaIsValue bool     `json:"naIsValue"`
}

type field struct {
	name      string
	kind      kind
	naIsValue bool
	offset    uintptr
}

type normaliser struct {
	fields      []field
	byMatchKey  map[string]int
	keyCache    sync.Map // raw key -> field index (-1: unknown)
	recordType  reflect.Type
	extraOffset uintptr
	ingestOff   uintptr
	reportID    int
	orgUUID     int
	releaseTime int
	reportTime  int
}

func newNormaliser(fieldsFile string, schema avro.Schema) (*normaliser, error) {
	text, err := os.ReadFile(fieldsFile)
	if err != nil {
		return nil, err
	}
	var specs []fieldSpec
	if err := json.Unmarshal(text, &specs); err != nil {
		return nil, err
	}
	rs, ok := schema.(*avro.RecordSchema)
	if !ok || len(rs.Fields()) != len(specs)+2 {
		return nil, errors.New("the field list does not match the schema")
	}
	n := &normaliser{byMatchKey: map[string]int{}}
	structFields := make([]reflect.StructField, 0, len(specs)+2)
	for i, s := range specs {
		if rs.Fields()[i].Name() != s.Name {
			return nil, fmt.Errorf("field %d: %s in the list, %s in the schema", i, s.Name, rs.Fields()[i].Name())
		}
		f := field{name: s.Name, naIsValue: s.NaIsValue}
		var t reflect.Type
		switch s.Kind {
		case "string":
			f.kind, t = kindString, reflect.TypeOf((*string)(nil))
		case "long":
			f.kind, t = kindLong, reflect.TypeOf((*int64)(nil))
		case "boolean":
			f.kind, t = kindBoolean, reflect.TypeOf((*bool)(nil))
		case "time":
			f.kind, t = kindTime, reflect.TypeOf((*int64)(nil))
		default:
			return nil, fmt.Errorf("field %s: unknown kind %s", s.Name, s.Kind)
		}
		n.fields = append(n.fields, f)
		for _, k := range s.MatchKeys {
			n.byMatchKey[k] = i
		}
		structFields = append(structFields, reflect.StructField{
			Name: fmt.Sprintf("F%d", i), Type: t, Tag: reflect.StructTag(`avro:"` + s.Name + `"`),
		})
		switch s.Name {
		case "report_id":
			n.reportID = i
		case "org_uuid":
			n.orgUUID = i
		case "release_time":
			n.releaseTime = i
		case "report_time":
			n.reportTime = i
		}
	}
	structFields = append(structFields,
		reflect.StructField{Name: "Extra", Type: reflect.TypeOf(map[string]string{}), Tag: `avro:"extra_fields"`},
		reflect.StructField{Name: "Ingest", Type: reflect.TypeOf(ingestValue{}), Tag: `avro:"ingest"`},
	)
	n.recordType = reflect.StructOf(structFields)
	for i := range n.fields {
		n.fields[i].offset = n.recordType.Field(i).Offset
	}
	n.extraOffset = n.recordType.Field(len(specs)).Offset
	n.ingestOff = n.recordType.Field(len(specs) + 1).Offset
	return n, nil
}

// toMatchKey: lower-cased, every character but a-z and 0-9 dropped (src/cdr/fields.ts).
func toMatchKey(key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (n *normaliser) fieldIndex(key string) int {
	if hit, ok := n.keyCache.Load(key); ok {
		return hit.(int)
	}
	index, ok := n.byMatchKey[toMatchKey(key)]
	if !ok {
		index = -1
	}
	n.keyCache.Store(key, index)
	return index
}

// jsonValue is one raw JSON value of a record, read as JSON.parse would give it.
type jsonValue struct {
	kind byte // 's' string, 'n' number, 'b' boolean, '0' null, 'o' object or array
	str  string
	num  float64
	b    bool
	raw  []byte
}

func readValue(raw []byte) (jsonValue, error) {
	switch raw[0] {
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return jsonValue{kind: 's', str: string(raw[1 : len(raw)-1])}, nil
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return jsonValue{kind: 's', str: s}, err
	case 'n':
		return jsonValue{kind: '0'}, nil
	case 't', 'f':
		return jsonValue{kind: 'b', b: raw[0] == 't'}, nil
	case '{', '[':
		return jsonValue{kind: 'o', raw: raw}, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return jsonValue{kind: 'n', num: f}, err
}

// jsNumber formats a number as JavaScript's String(number) does for the usual cases.
func jsNumber(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// rawText is the text kept in extra_fields: strings verbatim, anything else as JSON.
func rawText(v jsonValue) string {
	switch v.kind {
	case 's':
		return v.str
	case 'n':
		return jsNumber(v.num)
	case 'b':
		return strconv.FormatBool(v.b)
	case '0':
		return "null"
	}
	var b bytes.Buffer
	_ = json.Compact(&b, v.raw)
	return b.String()
}

// typed is one parsed field value.
type typed struct {
	set bool
	str string
	num int64
	b   bool
}

const maxSafeInteger = 1<<53 - 1

var integerText = regexp.MustCompile(`^[+-]?\d+(?:\.0*)?$`)

func safeInteger(f float64) (int64, bool) {
	if f != math.Trunc(f) || math.Abs(f) > maxSafeInteger {
		return 0, false
	}
	return int64(f), true
}

// parse returns (value, parsed): parsed false means "keep the raw text in extra_fields".
func parse(f *field, v jsonValue) (typed, bool) {
	if v.kind == '0' || (v.kind == 's' && (v.str == "" || (v.str == "NA" && !f.naIsValue))) {
		return typed{}, true
	}
	switch f.kind {
	case kindString:
		switch v.kind {
		case 's':
			return typed{set: true, str: v.str}, true
		case 'n':
			return typed{set: true, str: jsNumber(v.num)}, true
		case 'b':
			return typed{set: true, str: strconv.FormatBool(v.b)}, true
		}
	case kindLong:
		switch v.kind {
		case 'n':
			n, ok := safeInteger(v.num)
			return typed{set: ok, num: n}, ok
		case 's':
			t := strings.TrimSpace(v.str)
			if !integerText.MatchString(t) {
				return typed{}, false
			}
			f, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return typed{}, false
			}
			n, ok := safeInteger(f)
			return typed{set: ok, num: n}, ok
		}
	case kindBoolean:
		switch v.kind {
		case 'b':
			return typed{set: true, b: v.b}, true
		case 's':
			switch strings.ToLower(strings.TrimSpace(v.str)) {
			case "true":
				return typed{set: true, b: true}, true
			case "false":
				return typed{set: true, b: false}, true
			}
		}
	case kindTime:
		if v.kind == 's' {
			if ms, ok := parseTime(v.str); ok {
				return typed{set: true, num: ms}, true
			}
		}
	}
	return typed{}, false
}

var timeText = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?$`)

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// isISO: exactly the form Date#toISOString writes (2026-11-23T00:01:59.270Z).
func isISO(s string) bool {
	if len(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z' {
		return false
	}
	for _, span := range [][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 23}} {
		if _, ok := digits(s[span[0]:span[1]]); !ok {
			return false
		}
	}
	return true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTime reads Webex's two time formats to epoch milliseconds (src/cdr/parse-value.ts).
func parseTime(text string) (int64, bool) {
	if len(text) > 40 {
		return 0, false
	}
	var year, month, day, hour, minute, second, ms, offset int
	if isISO(text) { // the usual form: no regular expression needed
		year, _ = digits(text[0:4])
		month, _ = digits(text[5:7])
		day, _ = digits(text[8:10])
		hour, _ = digits(text[11:13])
		minute, _ = digits(text[14:16])
		second, _ = digits(text[17:19])
		ms, _ = digits(text[20:23])
	} else {
		m := timeText.FindStringSubmatch(strings.TrimSpace(text))
		if m == nil {
			return 0, false
		}
		frac := m[7]
		if len(frac) > 3 && strings.Trim(frac[3:], "0") != "" {
			return 0, false
		}
		year, _ = digits(m[1])
		month, _ = digits(m[2])
		day, _ = digits(m[3])
		hour, _ = digits(m[4])
		minute, _ = digits(m[5])
		if m[6] != "" {
			second, _ = digits(m[6])
		}
		if frac != "" {
			if len(frac) > 3 {
				frac = frac[:3]
			}
			ms, _ = digits((frac + "00")[:3])
		}
		if zone := m[8]; zone != "" && zone != "Z" && zone != "z" {
			d := strings.ReplaceAll(zone[1:], ":", "")
			h, _ := digits(d[0:2])
			mins := 0
			if len(d) > 2 {
				mins, _ = digits(d[2:4])
			}
			offset = h*60 + mins
			if zone[0] == '-' {
				offset = -offset
			}
		}
	}
	if year < 1000 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}
	utc := time.Date(year, time.Month(month), day, hour, minute, second, ms*1e6, time.UTC).UnixMilli()
	return utc - int64(offset)*60_000, true
}

type normalised struct {
	reportID, orgID string
	// -inf (math.MinInt64) when unknown, for the within-delivery ordering
	reportTime, callEnd       int64
	hasReportTime, hasCallEnd bool
	callEndIsReport           bool
	reportTimeISO, callEndISO string
	contentHash               string
	ingest                    ingestValue
	value                     any // pointer to the Avro record struct
}

// normalise is src/cdr/normalise.ts for one record given as its key/value pairs in order.
func (n *normaliser) normalise(pairs []rawPair, ingest ingestValue) (*normalised, error) {
	values := make([]typed, len(n.fields))
	extra := map[string]string{}
	var releaseText, reportText string
	for _, p := range pairs {
		v, err := readValue(p.value)
		if err != nil {
			return nil, badBody("record_invalid_text")
		}
		index := n.fieldIndex(p.key)
		// a second spelling of a field that already has a value is kept verbatim
		if index < 0 || values[index].set {
			extra[p.key] = rawText(v)
			continue
		}
		f := &n.fields[index]
		t, ok := parse(f, v)
		if !ok {
			extra[p.key] = rawText(v)
			continue
		}
		// "NA" read as no value: the field is null, its text is kept
		if !t.set && v.kind == 's' && v.str != "" {
			extra[p.key] = v.str
		}
		values[index] = t
		if index == n.releaseTime {
			releaseText = v.str
		} else if index == n.reportTime {
			reportText = v.str
		}
	}
	reportID, orgID := values[n.reportID], values[n.orgUUID]
	if !reportID.set || strings.TrimSpace(reportID.str) == "" {
		return nil, badBody("record_missing_report_id")
	}
	if !orgID.set || strings.TrimSpace(orgID.str) == "" {
		return nil, badBody("record_missing_org_uuid")
	}
	out := &normalised{reportID: reportID.str, orgID: orgID.str, ingest: ingest, reportTime: math.MinInt64}
	if rt := values[n.reportTime]; rt.set {
		out.reportTime, out.hasReportTime = rt.num, true
		if isISO(reportText) {
			out.reportTimeISO = reportText
		}
	}
	if rel := values[n.releaseTime]; rel.set {
		out.callEnd, out.hasCallEnd = rel.num, true
		if isISO(releaseText) {
			out.callEndISO = releaseText
		}
	} else if out.hasReportTime {
		out.callEnd, out.hasCallEnd, out.callEndIsReport = out.reportTime, true, true
		out.callEndISO = out.reportTimeISO
	}

	record := reflect.New(n.recordType)
	base := record.UnsafePointer()
	for i := range n.fields {
		t := &values[i]
		if !t.set {
			continue
		}
		at := unsafe.Add(base, n.fields[i].offset)
		switch n.fields[i].kind {
		case kindString:
			*(**string)(at) = &t.str
		case kindLong, kindTime:
			*(**int64)(at) = &t.num
		case kindBoolean:
			*(**bool)(at) = &t.b
		}
	}
	*(*map[string]string)(unsafe.Add(base, n.extraOffset)) = extra
	*(*ingestValue)(unsafe.Add(base, n.ingestOff)) = ingest
	out.value = record.Interface()
	out.contentHash = n.contentHash(values, extra)
	return out, nil
}

// contentHash: SHA-256 of JSON.stringify([fields, extra_fields by match key]), 16 hex digits.
func (n *normaliser) contentHash(values []typed, extra map[string]string) string {
	var b bytes.Buffer
	b.Grow(4096)
	b.WriteString(`[{`)
	for i := range n.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSString(&b, n.fields[i].name)
		b.WriteByte(':')
		t := &values[i]
		switch {
		case !t.set:
			b.WriteString("null")
		case n.fields[i].kind == kindString:
			writeJSString(&b, t.str)
		case n.fields[i].kind == kindBoolean:
			b.WriteString(strconv.FormatBool(t.b))
		default:
			b.WriteString(strconv.FormatInt(t.num, 10))
		}
	}
	b.WriteString(`},`)
	// extra_fields by match key, sorted by key then value (src/dedup/content-hash.ts): an
	// object, or [key, value] pairs when two keys match alike
	pairs := make([][2]string, 0, len(extra))
	for k, v := range extra {
		pairs = append(pairs, [2]string{toMatchKey(k), v})
	}
	sort.Slice(pairs, func(i, j int) bool { // JavaScript sorts by UTF-16 code units: the same order for the BMP
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	alike := false
	for i := 1; i < len(pairs); i++ {
		alike = alike || pairs[i][0] == pairs[i-1][0]
	}
	open, sep, end := "{", ":", "}"
	if alike {
		open, sep, end = "[", ",", "]"
	}
	b.WriteString(open)
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		if alike {
			b.WriteByte('[')
		}
		writeJSString(&b, p[0])
		b.WriteString(sep)
		writeJSString(&b, p[1])
		if alike {
			b.WriteByte(']')
		}
	}
	b.WriteString(end)
	b.WriteString(`]`)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:8])
}

// writeJSString writes a string as JSON.stringify does (unlike encoding/json, no \u003c for <).
func writeJSString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
