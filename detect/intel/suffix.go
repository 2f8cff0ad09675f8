package intel

import "strings"

// publicSuffixes is a small built-in stand-in for the Public Suffix List:
// the multi-label registry suffixes and shared hosting domains that feeds
// most often list by mistake. Every single-label name is a public suffix
// too. A subdomains entry on any of them would match a whole registry, so
// importers and Index.Add refuse it; an exact entry is fine.
var publicSuffixes = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`
		co.uk org.uk ac.uk gov.uk ltd.uk plc.uk me.uk net.uk sch.uk nhs.uk police.uk
		com.au net.au org.au edu.au gov.au asn.au id.au
		co.nz net.nz org.nz govt.nz ac.nz
		co.jp ne.jp or.jp ac.jp go.jp gr.jp ed.jp
		co.kr or.kr ne.kr ac.kr go.kr
		com.cn net.cn org.cn gov.cn edu.cn ac.cn
		com.hk net.hk org.hk edu.hk gov.hk
		com.tw net.tw org.tw edu.tw gov.tw idv.tw
		com.sg net.sg org.sg edu.sg gov.sg
		co.in net.in org.in firm.in gen.in ind.in ac.in edu.in gov.in
		com.br net.br org.br gov.br edu.br
		com.ar net.ar org.ar gob.ar
		com.mx net.mx org.mx gob.mx
		com.tr net.tr org.tr gov.tr edu.tr
		com.ru net.ru org.ru
		com.ua net.ua org.ua in.ua
		co.za org.za net.za gov.za ac.za
		co.il org.il net.il ac.il gov.il
		com.my net.my org.my gov.my
		com.ph net.ph org.ph gov.ph
		com.vn net.vn org.vn gov.vn
		com.pk net.pk org.pk gov.pk
		com.eg com.sa com.ng com.co com.pe com.ve com.ec com.uy com.py com.bo
		co.id or.id web.id ac.id go.id
		co.th in.th ac.th go.th
		github.io gitlab.io blogspot.com appspot.com herokuapp.com
		azurewebsites.net cloudapp.net cloudfront.net amazonaws.com s3.amazonaws.com
		firebaseapp.com web.app pages.dev workers.dev netlify.app vercel.app
		ngrok.io ngrok-free.app duckdns.org no-ip.org ddns.net dyndns.org
		000webhostapp.com weebly.com wixsite.com glitch.me repl.co
		googleusercontent.com sharepoint.com onmicrosoft.com
	`) {
		publicSuffixes[s] = true
	}
}

// isPublicSuffix reports whether a normalized domain is a public suffix.
func isPublicSuffix(d string) bool {
	return !strings.Contains(d, ".") || publicSuffixes[d]
}
