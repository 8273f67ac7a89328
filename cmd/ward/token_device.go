package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/oauth2"
	"rsc.io/qr"

	"github.com/wardauth/ward/client"
)

// deviceToken runs the device authorization grant (RFC 8628): it shows
// where to go and which code to enter, then polls with the client's DPoP
// key (fixed at the device authorization request by dpop_jkt) until the
// person approves on another device.
func deviceToken(ctx context.Context, c *client.Client, stderr io.Writer) (*oauth2.Token, error) {
	da, err := c.DeviceAuthorize(ctx)
	if err != nil {
		return nil, err
	}
	showDeviceCode(stderr, da, isTerminal(stderr))
	tok, err := c.PollDeviceToken(ctx, da)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stderr, "ward: approved")
	return tok, nil
}

// showDeviceCode prints the URL and the code, big enough to read from a
// distance, and a QR code of verification_uri_complete when w is a
// terminal (half-block characters, two modules a character row).
func showDeviceCode(w io.Writer, da *client.DeviceAuthorization, terminal bool) {
	fmt.Fprintf(w, "ward: on your phone or computer, open\n\n  %s\n\nand enter the code\n\n  %s\n\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete == "" {
		fmt.Fprintf(w, "ward: waiting for the approval (the code expires in %d s)\n", da.ExpiresIn)
		return
	}
	fmt.Fprintf(w, "or open this link, which fills the code in:\n\n  %s\n\n", da.VerificationURIComplete)
	if terminal {
		if q := qrText(da.VerificationURIComplete); q != "" {
			fmt.Fprintf(w, "or scan:\n\n%s\n", q)
		}
	}
	fmt.Fprintf(w, "ward: waiting for the approval (the code expires in %d s)\n", da.ExpiresIn)
}

// qrText renders text as a QR code (error correction level L) in
// Unicode half blocks with a quiet zone of 2 modules; "" when it cannot.
func qrText(text string) string {
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		return ""
	}
	const quiet = 2
	var b strings.Builder
	for y := -quiet; y < code.Size+quiet; y += 2 {
		b.WriteString("  ")
		for x := -quiet; x < code.Size+quiet; x++ {
			top, bottom := code.Black(x, y), code.Black(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune(' ')
			case top:
				b.WriteRune('▄')
			case bottom:
				b.WriteRune('▀')
			default:
				b.WriteRune('█')
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// isTerminal reports whether w is a character device (a terminal), the
// only place a QR code made of block characters is readable.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
