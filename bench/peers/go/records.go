package main

// The records of a delivery body: {"items":[...]}, a bare array, or an
// envelope holding data.items or body.items (src/ingress/parse-body.ts), read
// one record at a time as its key/value pairs in order (the normaliser keeps
// a second spelling of a field verbatim, so the order counts). The body's
// syntax is checked whole first (json.Valid, in main.go), so this walk over
// its bytes can take the grammar as given: it only finds where each key and
// value starts and ends, and values are read by readValue (normalise.go).
// (encoding/json's Decoder, token by token, spent a third of the peer's CPU
// building the error it uses to find the end of each value.)

import (
	"encoding/json"
)

type rawPair struct {
	key   string
	value []byte
}

type walker struct {
	b []byte
	i int
}

func (w *walker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *walker) peek() byte {
	w.space()
	if w.i >= len(w.b) {
		return 0
	}
	return w.b[w.i]
}

// str returns the string at w.i, quotes included.
func (w *walker) str() []byte {
	start := w.i
	j := w.i + 1
	for w.b[j] != '"' {
		if w.b[j] == '\\' {
			j++
		}
		j++
	}
	w.i = j + 1
	return w.b[start:w.i]
}

// value returns the raw JSON value at w.i (a string, an object or array, a literal).
func (w *walker) value() []byte {
	w.space()
	start := w.i
	switch w.b[w.i] {
	case '"':
		return w.str()
	case '{', '[':
		depth := 0
		for {
			switch w.b[w.i] {
			case '"':
				w.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			w.i++
			if depth == 0 {
				return w.b[start:w.i]
			}
		}
	}
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return w.b[start:w.i]
		}
		w.i++
	}
	return w.b[start:w.i]
}

func unquote(raw []byte) string {
	for _, c := range raw {
		if c == '\\' {
			var s string
			_ = json.Unmarshal(raw, &s)
			return s
		}
	}
	return string(raw[1 : len(raw)-1])
}

// items calls each with every record's pairs (the slice is reused), w.i just past the '['.
func (w *walker) items(each func([]rawPair) error) error {
	pairs := make([]rawPair, 0, 96)
	for w.peek() != ']' {
		if w.peek() != '{' {
			return badBody("record_not_object")
		}
		w.i++
		pairs = pairs[:0]
		for w.peek() != '}' {
			key := unquote(w.str())
			w.peek() // the ':'
			w.i++
			pairs = append(pairs, rawPair{key: key, value: w.value()})
			if w.peek() == ',' {
				w.i++
			}
		}
		w.i++
		if err := each(pairs); err != nil {
			return err
		}
		if w.peek() == ',' {
			w.i++
		}
	}
	return nil
}

// object looks for "items" (depth 0 and 1) or the envelope data/body (depth 0), w.i just past the '{'.
func (w *walker) object(depth int, each func([]rawPair) error) (bool, error) {
	for w.peek() != '}' {
		key := unquote(w.str())
		w.peek()
		w.i++
		next := w.peek()
		switch {
		case key == "items" && next == '[':
			w.i++
			return true, w.items(each)
		case depth == 0 && (key == "data" || key == "body") && next == '{':
			w.i++
			if found, err := w.object(1, each); found || err != nil {
				return found, err
			}
			w.i++ // the inner '}'
		default:
			w.value()
		}
		if w.peek() == ',' {
			w.i++
		}
	}
	return false, nil
}

// eachRecord walks a body whose syntax json.Valid accepted.
func eachRecord(body []byte, each func([]rawPair) error) error {
	w := &walker{b: body}
	switch w.peek() {
	case '[':
		w.i++
		return w.items(each)
	case '{':
		w.i++
		found, err := w.object(0, each)
		if err == nil && !found {
			err = badBody("body_no_records")
		}
		return err
	}
	return badBody("body_no_records")
}
