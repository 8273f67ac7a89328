package docexamples

import (
	"strings"
	"testing"
)

// TestParseBlocks: sh blocks are found, indented ones in lists too;
// other languages are not; a skip marker applies to the next fence
// only, and needs a reason.
func TestParseBlocks(t *testing.T) {
	doc := "intro\n```sh\necho one\n```\n\n<!-- docs-test: skip needs a browser -->\n\n```sh\necho two\n```\n" +
		"```yaml\nkey: v\n```\n1. step\n\n   ```sh\n   echo three\n   ```\n```go\nx := 1\n```\n"
	bs, err := parseBlocks("d.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0].text != "echo one\n" || bs[0].skip != "" || bs[1].skip != "needs a browser" || bs[2].text != "echo three\n" || bs[2].skip != "" {
		t.Fatalf("%+v", bs)
	}
	if _, err := parseBlocks("d.md", "<!-- docs-test: skip -->\n```sh\nx\n```\n"); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("skip without a reason: %v", err)
	}
	s := block{text: "ward serve --dev &   # other terminal\n./ward serve --dev\ngo build -o ward ./cmd/ward\ncurl http://127.0.0.1:9001/x\n"}.script(map[string]string{"127.0.0.1:9001": "127.0.0.1:4242"})
	if strings.Count(s, "# (done by the test)") != 3 || !strings.Contains(s, "curl http://127.0.0.1:4242/x") {
		t.Fatalf("script:\n%s", s)
	}
}
