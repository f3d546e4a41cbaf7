package letter

import (
	"strconv"
	"strings"
	"time"
)

// The handler's words to a supporter (validation messages, error pages'
// summaries, emails, JSON messages) come from the site's i18n files, as
// the pages' words do: Hugo writes them into each letter's JSON as
// "messages", in that letter's language (layouts/page.json). English is
// the one copy kept here, for a letter whose JSON lacks a message (a site
// built by older templates); a test holds it equal to site/i18n/en.yaml.

// English are the messages in English, by their i18n key.
var English = map[string]string{
	"missing_first_name":    "Please enter your first name.",
	"missing_last_name":     "Please enter your last name.",
	"missing_email":         "Please enter your email address.",
	"missing_address":       "Please enter your street address.",
	"missing_city":          "Please enter your city.",
	"missing_state":         "Please choose your state.",
	"missing_zip":           "Please enter your ZIP code.",
	"invalid_phone":         "Please enter a phone number using digits (spaces, +, -, ( ) are fine).",
	"invalid_zip":           "Please enter a 5-digit ZIP code (or ZIP+4, like 12345-6789).",
	"invalid_state":         "Please choose a US state (two-letter code, like NY).",
	"invalid_email":         "Please enter an email address like name@example.com.",
	"invalid_email_ascii":   "Please enter an email address in plain letters, digits and signs (no accented or other special characters), like name@example.com.",
	"invalid_name_encoded":  "Please enter your name as you write it, not encoded (nothing like =?utf-8?…?=).",
	"invalid_name_signs":    `Please enter your name without the characters < > @ or ".`,
	"invalid_honeypot":      "This field must stay empty.",
	"invalid_opt_in":        "Please tick the box or leave it empty.",
	"text_unreadable":       "This contains characters we cannot read.",
	"text_control":          "This contains invisible control characters; please retype it.",
	"text_one_line":         "This must be a single line of text.",
	"text_too_long":         "This is too long (at most {max} characters).",
	"text_tag":              "This contains invisible tag characters; please type it again rather than pasting it.",
	"text_format":           "This contains invisible formatting characters (such as zero-width spaces, direction marks or soft hyphens); please type it again rather than pasting it.",
	"text_noncharacter":     "This contains characters that are not text (Unicode noncharacters); please type it again rather than pasting it.",
	"text_private_use":      "This contains private-use characters that other devices show differently or not at all; please type it again rather than pasting it.",
	"letter_missing":        "The form does not say which letter to send. Please start again from the campaign page.",
	"letter_unknown":        "This letter does not exist (any more). Please start again from the campaign page.",
	"error_method":          "Signatures are sent with POST.",
	"error_too_large":       "The letter is too large to send. Please shorten it and try again.",
	"error_rate_limited":    "Too many letters have been sent from your network in a short time. Please wait a minute and send again; what you typed is kept below.",
	"error_cross_site":      "This form can only be sent from the campaign's own page. Nothing was sent; please sign on the campaign page itself.",
	"error_challenge":       "We could not confirm that a person is sending this letter: the check above the send button was not completed, or it expired (it needs JavaScript). Please complete the check and send again; what you typed is kept.",
	"error_challenge_down":  "We could not reach the service that checks that letters come from people. Please try again in a minute.",
	"error_internal":        "Something went wrong on our side and your letter was not sent. Please try again in a moment; what you typed is kept below.",
	"error_unavailable":     "{reason} Your letter was not sent; what you typed is kept below.",
	"error_no_database":     "Letters cannot be confirmed on this site yet (it has no database).",
	"error_not_set_up":      "Sending letters is not set up on this site yet.",
	"confirm_unavailable":   "Your letter could not be confirmed just now; nothing was sent. Please open the link in your email again in a minute.",
	"status_confirm":        "Check your inbox: we sent you an email with a link. Your letter is sent only when you open it and press Send.",
	"status_accepted":       "Thank you. Your letter is on its way to each official.",
	"status_review":         "Thank you. You changed the letter, so an organizer reads it before it goes out: it is sent once they approve it.",
	"already_signed":        "A letter in your name was already sent on {date}. Each person's letter goes out once, so nothing new was sent.",
	"confirm_email_subject": "Please confirm your letter: {subject}",
	"confirm_email_text": `Hello,

Someone asked, on the campaign page "{campaign}" ({site}), to send a letter in the name of this email address to:

{targets}
Nothing has been sent. To read the letter and send it, open this link:

{link}

If you did not ask for this, ignore this email: nothing will be sent, and the request is deleted in {ttl}.

{campaign}
`,
	"copy_email_subject":       "Your letter as sent: {subject}",
	"copy_email_intro":         "This is the letter you sent, exactly as each official receives it.",
	"copy_email_to":            "To",
	"copy_email_subject_label": "Subject",
	"duration_hours":           "{n} hours",
	"duration_day":             "1 day",
	"duration_days":            "{n} days",
	"count_one":                "1 signature",
	"count_many":               "{n} signatures",
	"count_of_goal":            "{n} of {goal} signatures",
	"date_format":              "{day} {month} {year}",
	"months":                   "January February March April May June July August September October November December",
}

// Say returns the message key in the letter's language with each {name}
// in it replaced by the value that follows name in vars: the letter's own
// words, else English. A nil letter speaks English.
func (l *Letter) Say(key string, vars ...string) string {
	msg := ""
	if l != nil {
		msg = l.Messages[key]
	}
	if msg == "" {
		msg = English[key]
	}
	for i := 0; i+1 < len(vars); i += 2 {
		msg = strings.ReplaceAll(msg, "{"+vars[i]+"}", vars[i+1])
	}
	return msg
}

// Date writes a day as the letter's language does ("2 January 2006", "2 de
// enero de 2006"), in UTC.
func (l *Letter) Date(t time.Time) string {
	t = t.UTC()
	month := t.Month().String()
	if names := strings.Fields(l.Say("months")); len(names) == 12 {
		month = names[t.Month()-1]
	}
	return l.Say("date_format", "day", strconv.Itoa(t.Day()), "month", month, "year", strconv.Itoa(t.Year()))
}

// Duration writes how long a link works, in hours under a day, else days,
// in the letter's language.
func (l *Letter) Duration(d time.Duration) string {
	n := int(d.Round(24*time.Hour) / (24 * time.Hour))
	switch {
	case d < 24*time.Hour:
		return l.Say("duration_hours", "n", strconv.Itoa(int(d.Round(time.Hour)/time.Hour)))
	case n == 1:
		return l.Say("duration_day")
	}
	return l.Say("duration_days", "n", strconv.Itoa(n))
}

// In returns the letter in the language lang ("es"), or the letter itself
// when it has no such translation (an empty or unknown lang).
func (l *Letter) In(lang string) *Letter {
	if t, ok := l.Translations[lang]; ok {
		return t
	}
	return l
}
