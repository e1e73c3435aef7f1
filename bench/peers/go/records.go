package main

// The records of a delivery body: {"items":[...]}, a bare array, or an
// envelope holding data.items or body.items (src/ingress/parse-body.ts), read
// one record at a time as its key/value pairs in order (the normaliser keeps
// a second spelling of a field verbatim, so the order counts).

import (
	"bytes"
	"encoding/json"
)

type rawPair struct {
	key   string
	value json.RawMessage
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return badBody("body_no_records")
	}
	return nil
}

// eachItem calls each with a record's pairs, reusing the slice between records.
func eachItem(dec *json.Decoder, each func([]rawPair) error) error {
	pairs := make([]rawPair, 0, 96)
	for dec.More() {
		if err := expectDelim(dec, '{'); err != nil {
			return badBody("record_not_object")
		}
		pairs = pairs[:0]
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			var value json.RawMessage
			if err := dec.Decode(&value); err != nil {
				return err
			}
			pairs = append(pairs, rawPair{key: tok.(string), value: value})
		}
		if err := expectDelim(dec, '}'); err != nil {
			return err
		}
		if err := each(pairs); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

// findItems walks an object to its "items" array (or data/body.items), depth at most 2.
func findItems(dec *json.Decoder, depth int, each func([]rawPair) error) (bool, error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		key := tok.(string)
		if key == "items" {
			tok, err := dec.Token()
			if err != nil {
				return false, err
			}
			if d, ok := tok.(json.Delim); ok && d == '[' {
				return true, eachItem(dec, each)
			}
			if d, ok := tok.(json.Delim); ok {
				if err := skipRest(dec, d); err != nil {
					return false, err
				}
			}
			continue
		}
		if depth == 0 && (key == "data" || key == "body") {
			tok, err := dec.Token()
			if err != nil {
				return false, err
			}
			if d, ok := tok.(json.Delim); ok && d == '{' {
				found, err := findItems(dec, 1, each)
				if found || err != nil {
					return found, err
				}
				if _, err := dec.Token(); err != nil { // the closing }
					return false, err
				}
			} else if d, ok := tok.(json.Delim); ok {
				if err := skipRest(dec, d); err != nil {
					return false, err
				}
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false, err
		}
	}
	return false, nil
}

// skipRest skips the rest of an array or object whose opening delimiter was read.
func skipRest(dec *json.Decoder, open json.Delim) error {
	for dec.More() {
		if open == '{' {
			if _, err := dec.Token(); err != nil {
				return err
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func eachRecord(body []byte, each func([]rawPair) error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		return eachItem(dec, each)
	case json.Delim('{'):
		found, err := findItems(dec, 0, each)
		if err == nil && !found {
			err = badBody("body_no_records")
		}
		return err
	}
	return badBody("body_no_records")
}
