package console

import (
	"errors"
	"net/http"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/secevent"
)

// The blocked addresses and keys (package block): those in force, when
// each ends, and a lift action. Lifting ends the block and forgets its
// offences; it is an event naming the operator.
func init() {
	Register(&Page{
		Name: "blocks", Title: "Blocked addresses and keys", Nav: 60,
		Template: blocksTemplate,
		Routes: func(r Routes) {
			r.Get("/blocks", listBlocks)
			r.Post("/blocks/lift", liftBlock)
		},
	})
}

const blocksTemplate = `{{define "content"}}{{with .Data}}
{{if not .On}}<p>Blocking is not configured in this process: nothing is blocked.</p>{{else}}
<p>An address or DPoP key that keeps sending invalid credentials is refused for a while; each repeat doubles the period. A block ends by itself; lift one here to end it now.</p>
<div class="table-wrap"><table class="blocks">
<caption class="muted">{{len .Blocks}} block(s) in force</caption>
<thead><tr><th scope="col">Kind</th><th scope="col">Address or key</th><th scope="col">Until</th><th scope="col">Offences</th><th scope="col">Events</th><th scope="col">Action</th></tr></thead>
<tbody>{{range .Blocks}}<tr>
  <td>{{.Kind}}</td><td><code>{{.Value}}</code></td><td>{{.Until}}</td><td>{{.Offences}}</td>
  <td><a href="{{.Events}}">{{.EventsLabel}}</a></td>
  <td><form method="post" action="{{path "blocks" "lift"}}" class="inline" data-confirm="Lift the block of {{.Kind}} {{.Value}}?">
    <input type="hidden" name="kind" value="{{.Kind}}"><input type="hidden" name="value" value="{{.Value}}">
    <button type="submit" aria-label="Lift the block of {{.Kind}} {{.Value}}">Lift</button></form></td>
</tr>{{else}}<tr><td colspan="6">Nothing is blocked.</td></tr>{{end}}</tbody>
</table></div>{{end}}
{{end}}{{end}}`

type blockRow struct {
	Kind, Value, Until  string
	Offences            int
	Events, EventsLabel string
}

type blocksView struct {
	On     bool
	Blocks []blockRow
}

func listBlocks(c *Call) error {
	adm := c.api.o.Blocks
	if adm == nil {
		return c.Render(http.StatusOK, blocksView{})
	}
	bs, err := adm.List(c.R.Context())
	if err != nil {
		return blockStoreProblem(err)
	}
	v := blocksView{On: true}
	for _, b := range bs {
		r := blockRow{Kind: string(b.Kind), Value: b.Value, Until: when(b.Until), Offences: b.Offences}
		r.Events, r.EventsLabel = c.Path("events")+"?type="+string(secevent.AddressBlocked), "address_blocked events"
		if b.Kind == block.Key {
			r.Events, r.EventsLabel = c.Path("events")+"?type="+string(secevent.KeyBlocked), "key_blocked events"
		}
		v.Blocks = append(v.Blocks, r)
	}
	return c.Render(http.StatusOK, v)
}

// liftBlock lifts the block the form names: kind address or key, and
// the value as the list shows it (checked by package block's parsers).
func liftBlock(c *Call) error {
	adm := c.api.o.Blocks
	if adm == nil {
		return &Problem{Status: http.StatusConflict, Message: "Blocking is not configured in this process."}
	}
	kind, err := block.ParseKind(c.Form("kind"))
	if err != nil {
		return Invalid("kind", "address or key")
	}
	value, err := parseBlockValue(kind, c.Form("value"))
	if err != nil {
		return Invalid("value", "not a blockable %s", kind)
	}
	lifted, err := adm.Lift(c.R.Context(), kind, value)
	if err != nil {
		return blockStoreProblem(err)
	}
	if lifted {
		ev := secevent.Event{Reason: "lifted in the console"}
		if kind == block.Key {
			ev.JKT = value
		} else {
			ev.ClientAddr = value
		}
		c.Event(secevent.BlockLifted, ev)
		c.Notice("Lifted the block of %s %s.", kind, value)
	} else {
		c.Notice("The %s %s was not blocked (the block may have ended).", kind, value)
	}
	c.Location("blocks")
	return listBlocks(c)
}

func parseBlockValue(kind block.Kind, s string) (string, error) {
	if kind == block.Key {
		return block.ParseKey(s)
	}
	return block.ParseAddress(s)
}

func blockStoreProblem(err error) error {
	if errors.Is(err, block.ErrUnavailable) {
		return &Problem{Status: http.StatusServiceUnavailable, Message: "The blocks' store (Redis) did not answer; try again."}
	}
	return err
}
