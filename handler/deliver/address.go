package deliver

import "net/mail"

// formatAddress renders a display name and address as one header value,
// quoting or encoding the name as RFC 5322 requires.
func formatAddress(name, addr string) string {
	return (&mail.Address{Name: name, Address: addr}).String()
}
