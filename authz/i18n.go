package authz

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// language is a language the pages are written in: the primary subtag of
// a BCP 47 tag (RFC 5646 §2.2.1), lower case.
type language string

// The languages of the catalogue; langDefault when nothing else matches.
const (
	langEN      language = "en"
	langFR      language = "fr"
	langDE      language = "de"
	langDefault          = langEN
)

// Bounds of Accept-Language parsing: the header is the client's to make
// as long as the server's header limit allows, so only its first entries
// count.
const (
	maxAcceptLanguage = 4096
	maxLanguageRanges = 32
)

// pageLanguage picks the language of a page: the first of uiLocales (the
// OpenID Connect ui_locales parameter, in order of preference, OIDC Core
// §3.1.2.1) the catalogue has, else the Accept-Language range of the
// highest weight the catalogue has (RFC 9110 §12.5.4; ties in the
// header's order, q=0 is "not acceptable", * is the default), else
// English. A tag matches by its primary subtag: fr-CA is French.
func pageLanguage(r *http.Request, uiLocales []string) language {
	for _, tag := range uiLocales {
		if l, ok := lookupLanguage(tag); ok {
			return l
		}
	}
	for _, rg := range acceptLanguages(r.Header.Values("Accept-Language")) {
		if rg.tag == "*" {
			return langDefault
		}
		if l, ok := lookupLanguage(rg.tag); ok {
			return l
		}
	}
	return langDefault
}

// lookupLanguage is the catalogue's language of a BCP 47 tag, by its
// primary subtag.
func lookupLanguage(tag string) (language, bool) {
	primary, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	primary, _, _ = strings.Cut(primary, "_") // en_US, as some clients send
	l := language(strings.ToLower(primary))
	_, ok := catalogue[l]
	return l, ok
}

// languageRange is one entry of Accept-Language.
type languageRange struct {
	tag string
	q   int // weight in thousandths
}

// acceptLanguages parses Accept-Language into ranges of positive weight,
// highest first, ties in the order sent. Malformed entries are skipped.
func acceptLanguages(values []string) []languageRange {
	var out []languageRange
	total := 0
	for _, v := range values {
		total += len(v)
		if total > maxAcceptLanguage {
			break
		}
		for _, entry := range strings.Split(v, ",") {
			if len(out) == maxLanguageRanges {
				break
			}
			rg, ok := parseLanguageRange(entry)
			if ok && rg.q > 0 {
				out = append(out, rg)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b languageRange) int { return b.q - a.q })
	return out
}

// parseLanguageRange reads `tag[;q=weight]` (RFC 9110 §12.4.2: weight is
// 0 to 1 with at most three decimals).
func parseLanguageRange(s string) (languageRange, bool) {
	tag, params, _ := strings.Cut(s, ";")
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > 35 || strings.Trim(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-*") != "" {
		return languageRange{}, false
	}
	rg := languageRange{tag: tag, q: 1000}
	if params = strings.TrimSpace(params); params == "" {
		return rg, true
	}
	w, ok := strings.CutPrefix(strings.ToLower(params), "q=")
	if !ok {
		return languageRange{}, false
	}
	q, ok := parseWeight(strings.TrimSpace(w))
	rg.q = q
	return rg, ok
}

// parseWeight reads an RFC 9110 §12.4.2 qvalue into thousandths.
func parseWeight(w string) (int, bool) {
	whole, frac, _ := strings.Cut(w, ".")
	if len(frac) > 3 || (whole != "0" && whole != "1") {
		return 0, false
	}
	n := 0
	if frac != "" {
		v, err := strconv.Atoi(frac)
		if err != nil || strings.Trim(frac, "0123456789") != "" {
			return 0, false
		}
		n = v * []int{1, 100, 10, 1}[len(frac)]
	}
	if whole == "1" {
		if n != 0 {
			return 0, false
		}
		return 1000, true
	}
	return n, true
}

// texts is the page text of l (the default language's for an unknown
// one).
func (l language) texts() map[string]string {
	if m, ok := catalogue[l]; ok {
		return m
	}
	return catalogue[langDefault]
}

// text is one string of l.
func (l language) text(key string) string { return l.texts()[key] }
