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

	"campaignkit/handler/letter"
)

// decode reads a signature from a form post or a JSON body. It returns as
// much of the signer as it could read even on error, so that an error page
// can give the supporter back what they typed.
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
	switch mediaType {
	case "application/x-www-form-urlencoded":
		return decodeForm(body)
	case "application/json":
		return decodeJSON(body)
	default:
		return nil, malformed("send the form as application/x-www-form-urlencoded or application/json")
	}
}

// formFields are the contract's field names, each bound to where it goes.
func formFields(s *letter.Signer) map[string]*string {
	return map[string]*string{
		"letter": &s.Letter, "first_name": &s.FirstName, "last_name": &s.LastName, "email": &s.Email,
		"address": &s.Address, "city": &s.City, "state": &s.State, "zip": &s.Zip, "phone": &s.Phone,
		"subject": &s.Subject, "body": &s.Body, "source": &s.Source, "website": &s.Website,
	}
}

func decodeForm(body []byte) (*letter.Signer, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed("the form data is not valid URL encoding")
	}
	s := &letter.Signer{}
	fields := formFields(s)
	var problem error
	for name, vs := range values {
		if len(vs) > 1 && problem == nil {
			problem = malformed(fmt.Sprintf("the field %q was sent more than once", name))
		}
		if dst, ok := fields[name]; ok {
			*dst = vs[0]
		}
		// Other names are ignored: nothing outside the contract reaches a letter.
	}
	optIn, ok := parseBool(values.Get("opt_in"))
	if !ok && problem == nil {
		problem = letter.FieldErrors{"opt_in": "Please tick the box or leave it empty."}
	}
	s.OptIn = optIn
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

func decodeJSON(body []byte) (*letter.Signer, error) {
	if !json.Valid(body) {
		return nil, malformed("the body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var s letter.Signer
	if err := dec.Decode(&s); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return &s, malformed(fmt.Sprintf("the field %q has the wrong type", typeErr.Field))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return &s, malformed(strings.TrimPrefix(err.Error(), "json: ") + " (see the field list of the contract)")
		default:
			return &s, malformed("the body is not a JSON object of the signature's fields")
		}
	}
	return &s, nil
}
