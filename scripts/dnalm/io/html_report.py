"""A self-contained HTML report: tables of facts and PNG figures inlined, for a Galaxy
dataset that a person opens in the browser with nothing beside it."""

import base64
import html
import io


def write_html_report(path, sections, figures=None, title="DNA LM report"):
    """``sections``: ``{heading: {label: value}}``, shown as two-column tables, after the
    ``figures``: ``{caption: PNG path or BytesIO}``."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "td:last-child{font-family:monospace}img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for caption, png in (figures or {}).items():
        encoded = base64.b64encode(_read_bytes(png)).decode("ascii")
        parts.append(f"<h2>{html.escape(caption)}</h2>")
        parts.append(f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">')
    for heading, table in sections.items():
        parts.append(f"<h2>{html.escape(heading)}</h2><table>")
        for label, value in table.items():
            parts.append(f"<tr><th>{html.escape(str(label))}</th>"
                         f"<td>{html.escape(str(value))}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts) + "\n")


def _read_bytes(source):
    if isinstance(source, io.BytesIO):
        return source.getvalue()
    with open(source, "rb") as handle:
        return handle.read()
