"""The HTML shell of a report: one self-contained page (inline CSS, images as data URIs)."""

from __future__ import annotations

import base64
import html
import json
import math
from typing import Any, Iterable, Optional, Sequence

from ..core.format import MINUS, format_number

CSS = """
:root { --fg:#1d2430; --muted:#5b6675; --line:#dde2e8; --bg:#ffffff; --soft:#f5f7fa;
        --good:#1e7b45; --bad:#b23b2e; --warn:#9a6b00; --accent:#1f5fa8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; background:var(--soft); color:var(--fg);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 28px 60px; background: var(--bg);
       min-height: 100vh; box-shadow: 0 0 0 1px var(--line); }
h1 { font-size: 1.7em; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 1.3em; margin: 38px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.08em; margin: 24px 0 8px; }
p { margin: 8px 0; }
.sub { color: var(--muted); margin: 0 0 18px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.9em; }
pre.cmd { background:#0f1720; color:#e6edf3; padding:10px 14px; border-radius:6px; overflow-x:auto; white-space:pre-wrap; word-break:break-all; }
.tw { overflow-x: auto; margin: 10px 0 16px; }
.tw > table { margin: 0; }
table.ranking td:nth-child(2) { min-width: 150px; }
table.ranking td:last-child { min-width: 240px; }
table.ranking th { white-space: normal; vertical-align: bottom; }
.reason { color: var(--muted); font-size: 0.92em; }
p.lead { font-size: 1.08em; }
table { border-collapse: collapse; width: 100%; margin: 10px 0 16px; font-size: 0.92em; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #fafbfd; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
figcaption { color: var(--muted); font-size: 0.88em; margin-top: 4px; }
details { margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; background: #fcfcfd; }
details > summary { cursor: pointer; font-weight: 600; padding: 2px 0; }
.note { background: #f1f6fd; border-left: 4px solid var(--accent); padding: 10px 16px; border-radius: 4px; margin: 12px 0 18px; }
.note ul { margin: 6px 0; padding-left: 20px; }
.verdict { display:inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600; white-space: nowrap; }
.verdict.good { background:#e3f4ea; color: var(--good); }
.verdict.bad { background:#fbe7e4; color: var(--bad); }
.verdict.unknown { background:#fff4d6; color: var(--warn); }
.cards { display:flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { flex: 1 1 180px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fff; }
.card .k { color: var(--muted); font-size: 0.82em; text-transform: uppercase; letter-spacing: 0.04em; }
.card .v { font-size: 1.35em; font-weight: 600; }
.warn { color: var(--warn); }
.error { color: var(--bad); }
.strip { margin: 10px 0 18px; }
.strip h3 { margin-bottom: 4px; }
nav.toc { font-size: 0.92em; margin: 8px 0 16px; color: var(--muted); }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 14px; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85em; border-top: 1px solid var(--line); padding-top: 10px; }
@media (max-width: 700px) { main { padding: 16px; } th, td { padding: 4px 6px; } }
"""

#: Sets data-images-ok / data-image-count on <body> once every image has decoded (browser tests).
CHECK_JS = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = true, i;
  for (i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) { ok = false; } }
  document.body.setAttribute('data-images-ok', ok ? 'true' : 'false');
  document.body.setAttribute('data-image-count', String(imgs.length));
});
"""


def esc(v: Any) -> str:
    """HTML-escape anything (None → empty)."""
    return "" if v is None else html.escape(str(v), quote=True)


def attr(v: Any) -> str:
    """A value as an attribute string: numbers with repr precision, None as empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    if isinstance(v, (dict, list)):
        return esc(json.dumps(v))
    return esc(v)


def fmt(v: Any, digits: int = 4) -> str:
    """A number for people: 4 significant digits, '−' for negatives, '–' for missing."""
    if v is None or isinstance(v, bool):
        return "–" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u202f") if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        return format_number(v, digits, minus=MINUS)
    return str(v)


def fmt_params(n: Any) -> str:
    if not isinstance(n, int):
        return "–"
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def fmt_seconds(v: Any) -> str:
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return "–"
    return f"{v:.2f} s" if v < 100 else f"{v / 60:.1f} min"


def img_tag(png: bytes, alt: str, caption: Optional[str] = None, width: Optional[int] = None) -> str:
    """A <figure> with the PNG embedded as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    w = f' style="max-width:{int(width)}px"' if width else ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}"{w}>{cap}</figure>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], num_cols: Sequence[int] = (), row_attrs: Optional[Sequence[str]] = None,
          cls: str = "") -> str:
    """A table; cells are escaped unless given as ``Raw``."""
    numset = set(num_cols)
    out = [f'<div class="tw"><table{f" class={chr(34)}{esc(cls)}{chr(34)}" if cls else ""}><thead><tr>']
    out += [f'<th{" class=num" if i in numset else ""}>{esc(h)}</th>' for i, h in enumerate(headers)]
    out.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        a = f" {row_attrs[r]}" if row_attrs and r < len(row_attrs) and row_attrs[r] else ""
        out.append(f"<tr{a}>")
        for i, c in enumerate(row):
            text = c.html if isinstance(c, Raw) else esc(c)
            out.append(f'<td{" class=num" if i in numset else ""}>{text}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


class Raw:
    """Already-safe HTML for :func:`table` cells."""

    def __init__(self, html_text: str):
        self.html = html_text


def kv_table(pairs: Iterable[tuple]) -> str:
    return table(["setting", "value"], [(k, v if isinstance(v, Raw) else (json.dumps(v) if isinstance(v, (dict, list)) else fmt(v))) for k, v in pairs])


def collapsible(summary: str, body_html: str, open_: bool = False) -> str:
    return f'<details{" open" if open_ else ""}><summary>{esc(summary)}</summary>{body_html}</details>'


HOW_TO_READ = """
<div class="note" id="how-to-read"><strong>How to read this.</strong>
<ul>
<li>reprobe fits a small decoder per stage of the <em>untrained</em> network that maps stage ℓ back to
stage ℓ−1, and chains them to reconstruct the input from every depth ℓ = 1 … L.</li>
<li><strong>Relative entropy</strong> D(x‖x̂) (nats, lower is better) measures how far each reconstruction
is from its input; <strong>differential entropy</strong> S (nats, higher is better) measures how much the
reconstructions of different inputs still differ — when information is lost they all look alike and S falls steeply.</li>
<li>The <strong>correlation length ξ̂</strong> is how many stages it takes the curve to close 1/e of
its remaining gap to saturation: input information falls to 1/e every ξ̂ stages. The
<strong>prediction</strong> is that nets up to ≈ c·ξ̂ stages train (c = 3 for conv nets and width-300 MLPs,
3·(300/n)<sup>0.45</sup> for an MLP of width n; calibrated on trained nets); the verdict
compares it with this net's depth L: <strong>trainable</strong>, <strong>marginal</strong> (within 25 %),
<strong>untrainable</strong>, or <strong>undecidable</strong> when the curve cannot be read.</li>
<li>The paper's <strong>cutoff ℓ*</strong> is the depth where a curve stops changing (saturates); ℓ* = L means
no saturation within the net. It is capped at L and, for differential entropy, does not track
trainability, so it is shown but does not decide the verdict.</li>
<li>These are predictions from untrained weights; ξ̂ and ℓ* are noisy on short or flat curves.</li>
</ul></div>
"""


def page(title: str, body: str, subtitle: str = "", command: Optional[str] = None, toc: Sequence[tuple] = ()) -> str:
    """The full HTML document."""
    try:
        from importlib.metadata import version

        ver = version("reprobe")
    except Exception:
        ver = "?"
    nav = ""
    if toc:
        nav = '<nav class="toc">' + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in toc) + "</nav>"
    cmd = f'<h3>Command</h3><pre class="cmd" data-command>{esc(command)}</pre>' if command else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>{esc(title)}</h1>
<p class="sub">{esc(subtitle)}</p>
{nav}
{body}
{cmd}
<footer>Generated by reprobe {esc(ver)}. Self-contained page: no network access needed.</footer>
</main>
<script>{CHECK_JS}</script>
</body>
</html>
"""
