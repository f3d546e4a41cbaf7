package config

import (
	"log/slog"
	"net/http"
	"slices"

	"campaignkit/handler/admin"
	"campaignkit/handler/letter"
)

// Admin is the organizer's room when CAMPAIGN_ADMIN_TOKEN is set, else
// nil: its paths are then 404. open returns the program's parts, opened
// once; without a database (Store nil) the room answers 503.
func (c *Config) Admin(letters letter.Letters, open func() (*Parts, error), log *slog.Logger) http.Handler {
	if c.AdminToken == "" {
		return nil
	}
	o := admin.Options{Token: c.AdminToken, Log: log, Open: func() (*admin.Source, error) {
		parts, err := open()
		if err != nil {
			return nil, err
		}
		return &admin.Source{Store: parts.Store, Queue: parts.Queue}, nil
	}}
	ids := make([]string, 0, len(letters))
	for id := range letters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		o.Campaign, o.Stylesheet = letters[ids[0]].Campaign, letters[ids[0]].Stylesheet
	}
	return admin.New(o)
}
