package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"campaignkit/handler/letter"
	"campaignkit/handler/turnstile"
)

// decode reads a signature from a form post or a JSON body. It returns as
// much of the signer as it could read even on error, so that an error page
// can give the supporter back what they typed. The Turnstile token, not part
// of the signature, is left in r.PostForm (as ParseForm would leave a form
// post's fields) for the check that reads it.
func decode(w http.ResponseWriter, r *http.Request) (*letter.Signer, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge
		}
		return nil, malformed("the request could not be read")
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, malformed("send the form as application/x-www-form-urlencoded or application/json")
	}
	r.PostForm = url.Values{}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		return decodeForm(body, r.PostForm)
	case "application/json":
		return decodeJSON(body, r.PostForm)
	default:
		return nil, malformed("send the form as application/x-www-form-urlencoded or application/json")
	}
}

func decodeForm(body []byte, extra url.Values) (*letter.Signer, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed("the form data is not valid URL encoding")
	}
	s := &letter.Signer{}
	var problem error
	for name, vs := range values {
		// A clean field (source, UTM tags) takes its first value: what a
		// link carries never refuses a signature.
		if f, ok := letter.FieldByName(name); ok && f.Clean {
			continue
		}
		if len(vs) > 1 && problem == nil {
			problem = malformed(fmt.Sprintf("the field %q was sent more than once", name))
		}
	}
	// Names outside the contract are ignored: nothing else reaches a letter.
	for _, f := range letter.Fields {
		*f.Of(s) = values.Get(f.Name)
	}
	optIn, ok := parseBool(values.Get(letter.OptIn))
	if !ok && problem == nil {
		problem = fieldKeys{letter.OptIn: "invalid_opt_in"}
	}
	s.OptIn = optIn
	extra.Set(turnstile.ResponseField, values.Get(turnstile.ResponseField))
	return s, problem
}

func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "no", "off", "false", "0":
		return false, true
	case "yes", "on", "true", "1":
		return true, true
	}
	return false, false
}

// decodeJSON reads one JSON object of the contract's fields. Names match
// exactly (EMAIL is not email), none may repeat, and a field that is not
// valid UTF-8 is named rather than silently repaired. The Turnstile token
// goes to extra.
func decodeJSON(body []byte, extra url.Values) (*letter.Signer, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, malformed("the body is not a JSON object of the signature's fields")
	}
	s := &letter.Signer{}
	seen := map[string]bool{}
	invalid := fieldKeys{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return s, malformed("the body is not valid JSON")
		}
		name := t.(string) // object keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return s, malformed("the body is not valid JSON")
		}
		f, known := letter.FieldByName(name)
		if f.Clean {
			// Clean fields never refuse a signature: the first string is
			// kept (Normalize cleans it), anything else is dropped.
			var v string
			if !seen[name] && json.Unmarshal(raw, &v) == nil {
				*f.Of(s) = v
			}
			seen[name] = true
			continue
		}
		if seen[name] {
			return s, malformed(fmt.Sprintf("the field %q was sent more than once", name))
		}
		seen[name] = true
		if name == turnstile.ResponseField {
			var token *string
			if err := json.Unmarshal(raw, &token); err != nil {
				return s, malformed(fmt.Sprintf("the field %q must be a string", name))
			}
			if token != nil {
				extra.Set(name, *token)
			}
			continue
		}
		if !known && name != letter.OptIn {
			return s, malformed(fmt.Sprintf("unknown field %q (see the field list of the contract)", name))
		}
		if !utf8.Valid(raw) {
			invalid[name] = "text_unreadable"
			continue
		}
		if name == letter.OptIn {
			if err := json.Unmarshal(raw, &s.OptIn); err != nil {
				return s, malformed(fmt.Sprintf("the field %q must be true or false", name))
			}
			continue
		}
		if string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, f.Of(s)); err != nil {
			return s, malformed(fmt.Sprintf("the field %q must be a string", name))
		}
	}
	if _, err := dec.Token(); err != nil {
		return s, malformed("the body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return s, malformed("the body must be one JSON object")
	}
	if len(invalid) > 0 {
		return s, invalid
	}
	return s, nil
}
