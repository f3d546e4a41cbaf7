package handler

import (
	"embed"
	"html/template"
	"net/http"
	"sort"

	"campaignkit/handler/letter"
)

//go:embed page.html already.html
var pageFS embed.FS

var (
	pageTemplate    = template.Must(template.ParseFS(pageFS, "page.html"))
	alreadyTemplate = template.Must(template.ParseFS(pageFS, "already.html"))
)

// pageData is what the error page shows: the problems, and the form again
// with everything the supporter typed.
type pageData struct {
	Lang       string
	Stylesheet string
	Strings    map[string]string
	Summary    []problem
	Letter     *letter.Letter
	Signer     *letter.Signer
	Fields     []pageField
	Errors     map[string]string
}

type problem struct {
	Field   string // "" when it concerns no single field
	Label   string
	Message string
}

type pageField struct {
	letter.FormField
	Value   string
	Error   string
	Options []letter.State
}

// errorPage renders the HTML error page for a form post.
func (h *handler) errorPage(w http.ResponseWriter, status int, s *letter.Signer, problems map[string]string) {
	if s == nil {
		s = &letter.Signer{}
	}
	l := h.cfg.Letters[s.Letter]
	if l == nil {
		l = h.anyLetter()
	}
	d := pageData{Lang: "en", Strings: defaultStrings, Signer: s, Errors: problems, Letter: l}
	labels := map[string]string{"subject": "Subject", "body": "Your letter", "opt_in": "Keep me informed", "website": "Leave this field empty"}
	if l != nil {
		d.Lang, d.Stylesheet = l.Lang, l.Stylesheet
		if len(l.Form.Strings) > 0 {
			d.Strings = l.Form.Strings
		}
		labels["subject"], labels["body"] = d.Strings["subject"], d.Strings["body"]
		labels["opt_in"] = d.Strings["opt_in"]
		values := s.Values()
		for _, f := range l.Form.Fields {
			labels[f.Name] = f.Label
			pf := pageField{FormField: f, Error: problems[f.Name]}
			pf.Value = values[f.Name]
			if f.Type == "select" {
				pf.Options = l.Form.States
			}
			d.Fields = append(d.Fields, pf)
		}
	}
	// The summary lists field problems in the form's order, then the rest.
	order := map[string]int{"website": 98, "request": -1, "letter": -1}
	for i, f := range d.Fields {
		order[f.Name] = i
	}
	order["subject"], order["body"], order["opt_in"] = 90, 91, 92
	for name, msg := range problems {
		p := problem{Field: name, Label: labels[name], Message: msg}
		if _, isField := labels[name]; !isField {
			p.Field = ""
		}
		d.Summary = append(d.Summary, p)
	}
	sort.Slice(d.Summary, func(i, j int) bool {
		return order[d.Summary[i].Field] < order[d.Summary[j].Field]
	})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		h.log.Error("error page", "error", err.Error())
	}
}

// anyLetter is a letter to take the form's shape from when the request
// named none we know.
func (h *handler) anyLetter() *letter.Letter {
	ids := make([]string, 0, len(h.cfg.Letters))
	for id := range h.cfg.Letters {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	return h.cfg.Letters[ids[0]]
}

// defaultStrings are the page's words when no letter supplies them.
var defaultStrings = map[string]string{
	"required": "required", "optional": "optional", "choose_state": "Choose your state",
	"subject": "Subject", "body": "Your letter", "hint_body": "", "opt_in": "Keep me informed about this campaign by email.",
	"send": "Sign and send the letter", "your_details": "Your details", "your_letter": "Your letter",
	"error_title": "Please check your letter",
	"error_intro": "Your letter has not been sent yet. Please fix the following and send it again; everything you typed is still here.",
	"back":        "Back to the campaign",
}
