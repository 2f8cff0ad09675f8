package console

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/riposte-soar/riposte/alarm"
)

// opsAssetsPage is the asset inventory and its import form.
type opsAssetsPage struct {
	Assets     []*alarm.Asset
	Discovered bool
	Pager      opsPager
	Stored     int // assets stored by the import just made, from ?stored=
	Form       opsAssetForm
}

// opsAssetForm is the import form as sent, kept when it is refused.
type opsAssetForm struct {
	Format, Text string
}

// opsAssetLimit bounds an import, as POST /api/v1/assets does.
const opsAssetLimit = 16 << 20

func (c *Console) opsAssets(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.opsRenderAssets(w, r, v, http.StatusOK, opsAssetForm{Format: "auto"}, "")
}

func (c *Console) opsRenderAssets(w http.ResponseWriter, r *http.Request, v *viewer, status int, f opsAssetForm, msg string) {
	q := r.URL.Query()
	p := opsAssetsPage{Discovered: q.Get("discovered") == "1", Form: f}
	p.Stored, _ = strconv.Atoi(q.Get("stored"))
	all, err := c.d.Alarm.Store().Assets(r.Context(), p.Discovered)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The assets could not be read: "+err.Error())
		return
	}
	page := opsPageOf(r)
	lo := min(page*opsPageSize, len(all))
	p.Assets = all[lo:min(lo+opsPageSize, len(all))]
	keep := q
	keep.Del("stored")
	p.Pager = opsPages("/assets-inventory", keep, page, len(p.Assets), len(all))
	c.render(w, r, status, "assets", view{V: v, Title: "Assets", Nav: "assets", Error: msg, Page: p})
}

// opsImportAssets is POST /api/v1/assets from a form: a file or pasted
// text, CSV or YAML/JSON, read by the same parsers.
func (c *Console) opsImportAssets(w http.ResponseWriter, r *http.Request, v *viewer) {
	f := opsAssetForm{Format: r.PostFormValue("format"), Text: r.PostFormValue("text")}
	data, name := []byte(f.Text), ""
	if file, hdr, err := r.FormFile("file"); err == nil {
		defer file.Close()
		b, err := io.ReadAll(io.LimitReader(file, opsAssetLimit+1))
		if err != nil || len(b) > opsAssetLimit {
			c.opsAssetsRefused(w, r, v, f, "The file could not be read or is larger than 16 MiB.")
			return
		}
		if len(bytes.TrimSpace(b)) > 0 {
			data, name = b, hdr.Filename
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		c.opsAssetsRefused(w, r, v, f, "Choose a file or paste the assets (CSV with a header row, or YAML/JSON).")
		return
	}
	var assets []*alarm.Asset
	var err error
	if opsAssetsCSV(f.Format, name, data) {
		assets, err = alarm.ImportCSV(bytes.NewReader(data))
	} else {
		// JSON is YAML, so one reader takes both, as the API does.
		assets, err = alarm.ImportYAML(data)
	}
	if err == nil && len(assets) == 0 {
		err = errNoAssets
	}
	if err != nil {
		c.opsAssetsRefused(w, r, v, f, "Nothing was stored: "+err.Error())
		return
	}
	if err := c.d.Alarm.PutAssets(r.Context(), assets, v.Actor()); err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The assets could not be stored: "+err.Error())
		return
	}
	back(w, r, "/assets-inventory?stored="+strconv.Itoa(len(assets)))
}

var errNoAssets = errors.New("the input holds no asset")

// opsAssetsCSV tells CSV from YAML/JSON when the form says "auto": by the
// file's name, else by the first line (a CSV header names columns with
// commas and has no "key:").
func opsAssetsCSV(format, name string, data []byte) bool {
	switch format {
	case "csv":
		return true
	case "yaml", "json":
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return true
	case ".yaml", ".yml", ".json":
		return false
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	return strings.Contains(first, ",") && !strings.ContainsAny(first, ":[{")
}

func (c *Console) opsAssetsRefused(w http.ResponseWriter, r *http.Request, v *viewer, f opsAssetForm, msg string) {
	if r.Header.Get("HX-Request") != "" {
		c.fail(w, r, v, http.StatusBadRequest, msg)
		return
	}
	if len(f.Text) > 256<<10 {
		f.Text = "" // not echoed back whole
	}
	c.opsRenderAssets(w, r, v, http.StatusBadRequest, f, msg)
}

func init() {
	funcs["opsAssetFormats"] = func() []string { return []string{"auto", "csv", "yaml", "json"} }
}
